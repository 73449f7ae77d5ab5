"""CSV and TSV training logs: long and wide tables, SB3, W&B exports, Spinning Up, TensorBoard CSV.

Layouts recognised from the header (content, not the file name, decides):

* **long** (``csv_long``): ``step, tag, value`` columns, optional ``wall_time``, optional
  ``run``. A ``run`` column splits the file into one run per distinct value, named
  ``<run_name>/<run>``.
* **W&B panel export** (``wandb_panel_csv``): ``Step`` plus ``<wandb run> - <metric>`` columns;
  one run per W&B run, named ``<run_name>/<wandb run>``. The ``<metric>__MIN`` / ``__MAX``
  columns are W&B's per-bucket min/max of the downsampled line, not logged metrics: they are
  dropped with a note (the plain column is the metric). ``<run> - _step`` style W&B internals
  are dropped too.
* **W&B history export** (``wandb_history_csv``, ``run.history()`` to CSV): ``_step``,
  ``_runtime``, ``_timestamp`` plus metric keys. ``_timestamp`` becomes the wall time; the
  underscore columns are W&B bookkeeping, not series.
* **stable-baselines3 ``progress.csv``** (``sb3_progress_csv``): step ``time/total_timesteps``;
  the header grows as keys appear, so empty cells are missing values, never zeros;
  ``time/time_elapsed`` (seconds since training start) becomes the wall time.
* **Spinning Up ``progress.txt``** (``spinningup_progress``, tab separated): step is
  ``TotalEnvInteracts`` when present (else ``Epoch``); ``Time`` (seconds since start) is the
  wall time.
* **TensorBoard "Download CSV"** (``tensorboard_csv``): ``Wall time, Step, Value`` for one
  tag, named from the ``-tag-`` part of the file name when there is one.
* **wide** (``csv_wide``): a step column (see :data:`STEP_COLUMNS`) plus one column per metric.

Cells: an empty cell is a missing value (no point); ``nan``/``inf`` text is data (a NaN/Inf
point); any other non-numeric cell is skipped and counted in a note. Files are read in chunks
of :data:`CHUNK_ROWS` rows, so memory holds the scalars, not the text.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from ..model import LoadResult, ReadError, Run
from .source import Source

# Step columns, most specific first (matched case-insensitively). A trainer's own counter wins
# over W&B's log-call counter ``_step``; env-interaction counts win over iteration/epoch counts
# (Spinning Up's TotalEnvInteracts, SB3's time/total_timesteps: metrics.md §1.3, §1.5).
STEP_COLUMNS = (
    "step",
    "global_step",
    "train/global_step",
    "training/global_step",
    "time/total_timesteps",
    "totalenvinteracts",
    "_step",
    "total_timesteps",
    "timesteps",
    "timestep",
    "env_steps",
    "iteration",
    "iter",
    "epoch",
)

# Columns that hold time rather than a metric, with what the seconds count from.
WALL_TIME_COLUMNS = {
    "wall_time": "epoch",
    "walltime": "epoch",
    "wall time": "epoch",
    "_timestamp": "epoch",
    "timestamp": "epoch",
    "time/time_elapsed": "start",
    "time": "start",
}

# Rows per chunk: bounds the text held in memory (about 100 MB for very wide tables).
CHUNK_ROWS = 100_000
# Bytes looked at to pick the encoding and read the header.
HEAD_BYTES = 1 << 16
# Text that is a number to Python's float() and to us: NaN/Inf are data, not errors.
_NAN_TEXT = {"nan", "-nan", "+nan"}

_WANDB_PANEL = re.compile(r"^(?P<run>.+) - (?P<metric>.+?)(?P<agg>__MIN|__MAX)?$")
_LONG_ROLES = {
    "step": ("step", "global_step"),
    "tag": ("tag", "metric", "name", "key"),
    "value": ("value",),
    "wall_time": ("wall_time", "walltime", "wall time", "timestamp"),
    "run": ("run", "run_name"),
}


# --------------------------------------------------------------------------- accumulation
class RunPoints:
    """Points for one run, gathered chunk by chunk as numpy arrays (shared by the JSON readers)."""

    _FLUSH = 65_536

    def __init__(self) -> None:
        self.tag_index: dict[str, int] = {}
        self._codes: list[np.ndarray] = []
        self._steps: list[np.ndarray] = []
        self._values: list[np.ndarray] = []
        self._walls: list[np.ndarray] = []
        self._pending: tuple[list[int], list[int], list[float], list[float]] = ([], [], [], [])

    def code(self, tag: str) -> int:
        if tag not in self.tag_index:
            self.tag_index[tag] = len(self.tag_index)
        return self.tag_index[tag]

    def add_column(self, tag: str, steps: np.ndarray, values: np.ndarray, walls: np.ndarray) -> None:
        """Append one tag's points (parallel arrays, in write order)."""
        if len(steps) == 0:
            return
        self._flush()
        self._codes.append(np.full(len(steps), self.code(tag), dtype=np.int32))
        self._steps.append(np.asarray(steps, dtype=np.int64))
        self._values.append(np.asarray(values, dtype=np.float64))
        self._walls.append(np.asarray(walls, dtype=np.float64))

    def append(self, tag: str, step: int, value: float, wall: float = float("nan")) -> None:
        """Append one point (row-by-row readers); buffered and flushed to arrays."""
        codes, steps, values, walls = self._pending
        codes.append(self.code(tag))
        steps.append(step)
        values.append(value)
        walls.append(wall)
        if len(codes) >= self._FLUSH:
            self._flush()

    def _flush(self) -> None:
        codes, steps, values, walls = self._pending
        if codes:
            self._codes.append(np.asarray(codes, dtype=np.int32))
            self._steps.append(np.asarray(steps, dtype=np.int64))
            self._values.append(np.asarray(values, dtype=np.float64))
            self._walls.append(np.asarray(walls, dtype=np.float64))
            self._pending = ([], [], [], [])

    @property
    def points(self) -> int:
        return sum(len(c) for c in self._codes) + len(self._pending[0])

    def to_run(self, name: str, **kwargs: object) -> Run:
        self._flush()

        def take(parts: list[np.ndarray], dtype: type) -> np.ndarray:
            # Concatenate, then drop the pieces at once, so peak memory stays near one copy.
            out = np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)
            parts.clear()
            return out

        codes = take(self._codes, np.int32)
        steps = take(self._steps, np.int64)
        values = take(self._values, np.float64)
        walls = take(self._walls, np.float64)
        return Run.from_arrays(name, list(self.tag_index), codes, steps, values, walls, **kwargs)  # type: ignore[arg-type]


def pick_step_key(keys: list[str], usable: dict[str, bool] | None = None) -> str | None:
    """The step column among ``keys`` by :data:`STEP_COLUMNS` priority (case-insensitive).

    ``usable`` may mark candidates that hold non-integer values (fractional epochs) as unusable.
    """
    lowered: dict[str, str] = {}
    for key in keys:
        lowered.setdefault(key.strip().lower(), key)
    for candidate in STEP_COLUMNS:
        key = lowered.get(candidate)
        if key is not None and (usable is None or usable.get(key, True)):
            return key
    return None


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# --------------------------------------------------------------------------- layouts
@dataclass
class _Layout:
    kind: str  # "long" or "wide"
    fmt: str
    framework: str | None = None
    step_col: int | None = None
    step_candidates: list[int] = field(default_factory=list)
    wall_col: int | None = None
    wall_origin: str | None = None
    # long
    tag_col: int | None = None
    value_col: int | None = None
    run_col: int | None = None
    # wide: column index -> (run key, tag); run key "" is the file's single run
    metrics: dict[int, tuple[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _find(header_lower: list[str], names: tuple[str, ...]) -> int | None:
    for name in names:
        if name in header_lower:
            return header_lower.index(name)
    return None


def _classify(header: list[str], file_name: str) -> _Layout:
    lower = [h.lower() for h in header]
    roles = {role: _find(lower, names) for role, names in _LONG_ROLES.items()}
    if roles["step"] is not None and roles["tag"] is not None and roles["value"] is not None:
        layout = _Layout(kind="long", fmt="csv_long", step_col=roles["step"], tag_col=roles["tag"], value_col=roles["value"], run_col=roles["run"])
        layout.wall_col = roles["wall_time"]
        layout.wall_origin = "epoch" if layout.wall_col is not None else None
        return layout

    if lower == ["wall time", "step", "value"]:
        # TensorBoard's "Download CSV" of one tag; the file name carries the tag, if anything.
        match = re.search(r"-tag-(.+?)(\.csv)?$", file_name)
        tag = match.group(1) if match else "value"
        layout = _Layout(kind="wide", fmt="tensorboard_csv", step_col=1, wall_col=0, wall_origin="epoch", metrics={2: ("", tag)})
        if match:
            layout.notes.append(f"TensorBoard CSV of one tag; tag name '{tag}' taken from the file name (TensorBoard writes '/' as '_' there).")
        else:
            layout.notes.append(f"TensorBoard CSV of one tag whose name is not in the file; called it 'value'.")
        return layout

    panel = [(i, _WANDB_PANEL.match(h)) for i, h in enumerate(header)]
    if "step" in lower and any(m for _, m in panel):
        layout = _Layout(kind="wide", fmt="wandb_panel_csv", step_col=lower.index("step"))
        bucket_columns = 0
        for i, m in panel:
            if not m or i == layout.step_col:
                continue
            if m.group("agg"):
                bucket_columns += 1
                continue
            if m.group("metric").startswith("_"):
                continue  # W&B bookkeeping such as "<run> - _step"
            layout.metrics[i] = (m.group("run").strip(), m.group("metric").strip())
        if bucket_columns:
            layout.notes.append(
                f"dropped {plural(bucket_columns, 'W&B __MIN/__MAX column')} "
                "(per-bucket min/max of the downsampled chart, not logged values)."
            )
        return layout

    layout = _Layout(kind="wide", fmt="csv_wide")
    if "time/total_timesteps" in lower:
        layout.fmt, layout.framework = "sb3_progress_csv", "stable-baselines3"
    elif "epoch" in lower and ("totalenvinteracts" in lower or "averageepret" in lower):
        layout.fmt, layout.framework = "spinningup_progress", "spinningup"
    elif "_step" in lower and ("_runtime" in lower or "_timestamp" in lower):
        layout.fmt = "wandb_history_csv"
    # Candidate step columns in priority order; the first with integer values in the data wins.
    by_priority = []
    for candidate in STEP_COLUMNS:
        if candidate in lower:
            by_priority.append(lower.index(candidate))
    layout.step_candidates = by_priority
    for name in ("_timestamp", "wall_time", "walltime", "wall time", "timestamp", "time/time_elapsed"):
        if name in lower:
            layout.wall_col, layout.wall_origin = lower.index(name), WALL_TIME_COLUMNS[name]
            break
    else:
        if layout.fmt == "spinningup_progress" and "time" in lower:
            layout.wall_col, layout.wall_origin = lower.index("time"), "start"
    return layout


def _finish_wide_layout(layout: _Layout, header: list[str], first_chunk: pd.DataFrame) -> None:
    """Pick the step column from the data (fractional epochs are not steps) and list metrics."""
    for idx in layout.step_candidates:
        values, present, _, _ = _parse_numbers(first_chunk[_col(idx)])
        vals = values[present]
        finite = vals[np.isfinite(vals)]
        if len(finite) and len(finite) == len(vals) and np.all(finite == np.round(finite)):
            layout.step_col = idx
            break
    skip = {layout.step_col, layout.wall_col}
    if layout.fmt == "wandb_history_csv":
        skip |= {i for i, h in enumerate(header) if h.startswith("_")}
    unnamed = [i for i, name in enumerate(header) if name == "" or name.startswith("Unnamed:")]
    if unnamed:
        # pandas' to_csv writes the frame index as a first, unnamed column.
        layout.notes.append(f"ignored {plural(len(unnamed), 'unnamed column')} (a saved table index).")
    for i, name in enumerate(header):
        if i not in skip and i not in unnamed:
            layout.metrics[i] = ("", name)


# --------------------------------------------------------------------------- parsing
def _col(i: int) -> str:
    return f"c{i}"


def _text(column: pd.Series | pa.Array) -> pd.Series:
    if isinstance(column, (pa.Array, pa.ChunkedArray)):
        column = column.to_pandas()
    return column.fillna("").astype(str).str.strip()


def _parse_numbers(column: pd.Series | pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Values, a mask of present cells, a mask of non-numeric cells, and their count.

    An empty cell is absent; ``nan``/``inf`` text parses to NaN/Inf and is present.
    """
    if isinstance(column, (pa.Array, pa.ChunkedArray)) and (
        pa.types.is_integer(column.type) or pa.types.is_floating(column.type) or pa.types.is_boolean(column.type) or pa.types.is_null(column.type)
    ):
        # Arrow already parsed the column: null is an empty cell, NaN/Inf are data.
        n = len(column)
        present = column.is_valid().to_numpy(zero_copy_only=False) if column.null_count else np.ones(n, dtype=bool)
        if pa.types.is_null(column.type):
            return np.full(n, np.nan), np.zeros(n, dtype=bool), np.zeros(n, dtype=bool), 0
        values = column.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False)
        return values, present, np.zeros(n, dtype=bool), 0
    text = _text(column)
    empty = (text == "").to_numpy()
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    failed = np.isnan(values) & ~empty
    if failed.any():
        said_nan = text[failed].str.lower().isin(_NAN_TEXT).to_numpy()
        idx = np.flatnonzero(failed)
        failed[idx[said_nan]] = False
    present = ~empty & ~failed
    return values, present, failed, int(failed.sum())


def _choose_encoding(head: bytes) -> tuple[str, str | None]:
    """UTF-8 when the first bytes decode as UTF-8, else Latin-1 (which decodes any byte)."""
    try:
        head.decode("utf-8")
        return "utf-8-sig", None
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:
            return "utf-8-sig", None  # a multi-byte character cut by the head boundary
        return "latin-1", f"is not UTF-8 (invalid byte at offset {exc.start}); decoded as Latin-1"


def _guess_delimiter(header_line: str) -> str:
    if "," in header_line:
        return ","
    if "\t" in header_line:
        return "\t"
    if ";" in header_line:
        return ";"
    return ","


# Bytes per Arrow block: bounds the raw text held at once.
ARROW_BLOCK_BYTES = 8 << 20


class _ArrowGaveUp(Exception):
    """The fast Arrow pass met something it does not tolerate; the lenient readers take over."""


def _chunks_arrow(source: Source, encoding: str, delimiter: str, ncols: int, text_columns: set[int]) -> Iterator[pa.RecordBatch]:
    """Fast path for clean files: Arrow parses numbers in C and tells empty cells (null) from NaN.

    Types are fixed up front (numbers everywhere but ``text_columns``): inferred from the first
    block, a column still empty there (SB3 keys that appear later) would fail on later blocks.
    """
    names = [_col(i) for i in range(ncols)]
    column_types = {name: (pa.string() if i in text_columns else pa.float64()) for i, name in enumerate(names)}
    read_options = pa_csv.ReadOptions(
        column_names=names, skip_rows=1, block_size=ARROW_BLOCK_BYTES, encoding="utf8" if encoding.startswith("utf-8") else encoding
    )
    parse_options = pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=False)
    convert_options = pa_csv.ConvertOptions(
        column_types=column_types, null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=True
    )
    with source.open() as raw:
        try:
            reader = pa_csv.open_csv(raw, read_options=read_options, parse_options=parse_options, convert_options=convert_options)
            for batch in reader:
                yield batch
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise _ArrowGaveUp(str(exc)) from exc


def _chunks_pandas(source: Source, encoding: str, delimiter: str, ncols: int, bad_lines: list[str]) -> Iterator[pd.DataFrame]:
    names = [_col(i) for i in range(ncols)]
    with source.open() as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            reader = pd.read_csv(
                text,
                sep=delimiter,
                header=None,
                skiprows=1,
                names=names,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                chunksize=CHUNK_ROWS,
                on_bad_lines="warn",
                index_col=False,
                engine="c",
            )
            for chunk in reader:
                bad_lines.extend(str(w.message).strip() for w in caught if issubclass(w.category, pd.errors.ParserWarning))
                caught.clear()
                yield chunk
            bad_lines.extend(str(w.message).strip() for w in caught if issubclass(w.category, pd.errors.ParserWarning))


def _chunks_python(source: Source, encoding: str, delimiter: str, ncols: int, bad_lines: list[str]) -> Iterator[pd.DataFrame]:
    """Tolerant fallback (an unclosed quote at the end of a file being written, and such)."""
    names = [_col(i) for i in range(ncols)]
    with source.open() as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
        reader = csv.reader(text, delimiter=delimiter, strict=False)
        rows: list[list[str]] = []
        for line_no, row in enumerate(reader, start=1):
            if line_no == 1 or not row:
                continue
            if len(row) > ncols:
                bad_lines.append(f"Skipping line {reader.line_num}: expected {ncols} fields, saw {len(row)}")
                continue
            if len(row) < ncols:
                row = row + [""] * (ncols - len(row))
            rows.append(row)
            if len(rows) >= CHUNK_ROWS:
                yield pd.DataFrame(rows, columns=names, dtype=str)
                rows = []
        if rows:
            yield pd.DataFrame(rows, columns=names, dtype=str)


@dataclass
class _Stats:
    rows: int = 0
    steps_missing: int = 0
    nonnumeric: dict[int, int] = field(default_factory=dict)
    numeric: dict[int, int] = field(default_factory=dict)
    first_bad_row: dict[int, int] = field(default_factory=dict)
    bad_tags: int = 0


def _valid_steps(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    finite = np.isfinite(values)
    ok = present & finite
    ok[ok] = values[ok] == np.round(values[ok])
    return ok


def _process_wide(chunk: pd.DataFrame, layout: _Layout, runs: dict[str, RunPoints], stats: _Stats) -> None:
    n = len(chunk)
    if layout.step_col is None:
        steps = np.arange(stats.rows, stats.rows + n, dtype=np.float64)
        step_ok = np.ones(n, dtype=bool)
    else:
        steps, present, _, _ = _parse_numbers(chunk[_col(layout.step_col)])
        step_ok = _valid_steps(steps, present)
    if layout.wall_col is not None:
        walls, wall_present, _, _ = _parse_numbers(chunk[_col(layout.wall_col)])
        walls = np.where(wall_present, walls, np.nan)
    else:
        walls = np.full(n, np.nan)
    any_value = np.zeros(n, dtype=bool)
    for idx, (run_key, tag) in layout.metrics.items():
        values, present, failed, bad = _parse_numbers(chunk[_col(idx)])
        any_value |= present
        if bad:
            stats.nonnumeric[idx] = stats.nonnumeric.get(idx, 0) + bad
            stats.first_bad_row.setdefault(idx, stats.rows + int(np.flatnonzero(failed)[0]) + 1)
        keep = present & step_ok
        if keep.any():
            stats.numeric[idx] = stats.numeric.get(idx, 0) + int(keep.sum())
            runs.setdefault(run_key, RunPoints()).add_column(tag, steps[keep], values[keep], walls[keep])
    stats.steps_missing += int((any_value & ~step_ok).sum())
    stats.rows += n


def _process_long(chunk: pd.DataFrame, layout: _Layout, runs: dict[str, RunPoints], stats: _Stats) -> None:
    assert layout.step_col is not None and layout.tag_col is not None and layout.value_col is not None
    steps, present, _, _ = _parse_numbers(chunk[_col(layout.step_col)])
    step_ok = _valid_steps(steps, present)
    values, v_present, failed, bad = _parse_numbers(chunk[_col(layout.value_col)])
    if bad:
        stats.nonnumeric[layout.value_col] = stats.nonnumeric.get(layout.value_col, 0) + bad
        stats.first_bad_row.setdefault(layout.value_col, stats.rows + int(np.flatnonzero(failed)[0]) + 1)
    tags = _text(chunk[_col(layout.tag_col)])
    tag_ok = (tags != "").to_numpy()
    stats.bad_tags += int((~tag_ok & v_present).sum())
    if layout.wall_col is not None:
        walls, w_present, _, _ = _parse_numbers(chunk[_col(layout.wall_col)])
        walls = np.where(w_present, walls, np.nan)
    else:
        walls = np.full(len(chunk), np.nan)
    stats.steps_missing += int((v_present & tag_ok & ~step_ok).sum())
    keep = step_ok & v_present & tag_ok
    stats.numeric[layout.value_col] = stats.numeric.get(layout.value_col, 0) + int(keep.sum())
    run_keys = _text(chunk[_col(layout.run_col)]).to_numpy() if layout.run_col is not None else np.full(len(chunk), "", dtype=object)
    frame = pd.DataFrame({"run": run_keys[keep], "tag": tags.to_numpy()[keep], "step": steps[keep], "value": values[keep], "wall": walls[keep]})
    for (run_key, tag), group in frame.groupby(["run", "tag"], sort=False):
        runs.setdefault(str(run_key), RunPoints()).add_column(str(tag), group["step"].to_numpy(), group["value"].to_numpy(), group["wall"].to_numpy())
    stats.rows += len(chunk)


# --------------------------------------------------------------------------- entry points
def read_csv(source: Source, run_name: str) -> LoadResult:
    """Read a comma-separated log (any layout above). Never raises on bad input."""
    return _read_table(source, run_name, delimiter=None)


def read_tsv(source: Source, run_name: str) -> LoadResult:
    """Read a tab-separated log: Spinning Up ``progress.txt`` or any tab-separated table."""
    return _read_table(source, run_name, delimiter="\t")


def _error(source: Source, message: str) -> LoadResult:
    return LoadResult(errors=[ReadError(source.display, message)])


# The longest header line looked for (a W&B export of many runs can pass the sniffed head).
MAX_HEADER_BYTES = 64 << 20


def _whole_first_line(source: Source) -> bytes:
    with source.open() as fh:
        line = fh.readline(MAX_HEADER_BYTES)
    return line


def _read_table(source: Source, run_name: str, delimiter: str | None) -> LoadResult:
    try:
        head = source.head(HEAD_BYTES)
    except OSError as exc:
        return _error(source, f"cannot read file: {exc.strerror or exc}")
    if not head.strip():
        return _error(source, "empty file")
    if b"\n" not in head and source.size > len(head):
        head = _whole_first_line(source)  # a very wide header (W&B exports of many runs)
    encoding, encoding_note = _choose_encoding(head)
    head_text = head.decode(encoding, errors="replace").lstrip("\ufeff")
    header_line = head_text.split("\n", 1)[0].rstrip("\r")
    if not header_line.strip():
        return _error(source, "the first line is blank; expected a header row naming the columns")
    delimiter = delimiter or _guess_delimiter(header_line)
    header = [h.strip() for h in next(csv.reader([header_line], delimiter=delimiter))]
    notes: list[str] = []
    name = source.name
    if encoding_note:
        notes.append(f"{name} {encoding_note}.")

    # Duplicate names: keep the first column of each, so one tag never mixes two columns.
    seen: dict[str, int] = {}
    duplicates: list[str] = []
    for i, h in enumerate(header):
        if h in seen:
            duplicates.append(f"'{h}' (columns {seen[h] + 1} and {i + 1})")
        else:
            seen[h] = i
    layout = _classify(header, name)
    if duplicates:
        notes.append(f"{name}: duplicate column names {', '.join(duplicates)}: kept the first of each.")
        keep_idx = set(seen.values())
        layout.metrics = {i: v for i, v in layout.metrics.items() if i in keep_idx}
        layout.step_candidates = [i for i in layout.step_candidates if i in keep_idx]

    runs: dict[str, RunPoints] = {}
    stats = _Stats()
    bad_lines: list[str] = []
    stopped: str | None = None
    try:
        try:
            text_columns = {layout.tag_col, layout.run_col} - {None} if layout.kind == "long" else set()
            _consume(_chunks_arrow(source, encoding, delimiter, len(header), text_columns), layout, header, runs, stats, duplicates)
        except _ArrowGaveUp:
            # Malformed rows, a column whose type changes mid-file, bad bytes: start over leniently.
            runs, stats = {}, _Stats()
            _consume(_chunks_pandas(source, encoding, delimiter, len(header), bad_lines), layout, header, runs, stats, duplicates)
    except pd.errors.ParserError as exc:
        # The C parser gives up on e.g. an unclosed quote; the csv module reads on.
        runs, stats, bad_lines = {}, _Stats(), []
        stopped = str(exc).replace("Error tokenizing data. C error: ", "")
        _consume(_chunks_python(source, encoding, delimiter, len(header), bad_lines), layout, header, runs, stats, duplicates)
    except (OSError, UnicodeError) as exc:
        stopped = f"{type(exc).__name__}: {exc}"

    notes.extend(f"{name}: {note}" for note in layout.notes)
    if stats.rows == 0 and not runs:
        if bad_lines:
            return _error(source, f"no readable data rows ({plural(len(bad_lines), 'malformed row')})")
        return _error(source, "header only, no data rows")
    if stopped:
        notes.append(f"{name}: parse problem ({stopped}); read the rows around it leniently.")
    if bad_lines:
        line_numbers = [m.group(1) for m in (re.search(r"line (\d+)", b) for b in bad_lines) if m]
        shown = ", ".join(line_numbers[:10]) + (" ..." if len(line_numbers) > 10 else "")
        notes.append(f"{name}: skipped {plural(len(bad_lines), 'malformed row')} with more fields than the header ({'line' if len(line_numbers) == 1 else 'lines'} {shown}).")
    if layout.kind == "wide" and layout.step_col is None:
        looked = ", ".join(STEP_COLUMNS)
        notes.append(f"{name}: no step column found (looked for {looked}); used the row number (from 0) as the step.")
    if stats.steps_missing:
        notes.append(f"{name}: skipped {plural(stats.steps_missing, 'row')} whose step is missing or not an integer.")
    if stats.bad_tags:
        notes.append(f"{name}: skipped {plural(stats.bad_tags, 'row')} with an empty tag.")
    ignored = [header[i] for i in sorted(stats.nonnumeric) if stats.numeric.get(i, 0) == 0]
    if ignored:
        notes.append(f"{name}: ignored non-numeric {'column' if len(ignored) == 1 else 'columns'} {', '.join(repr(c) for c in ignored)}.")
    for i in sorted(stats.nonnumeric):
        if stats.numeric.get(i, 0):
            notes.append(
                f"{name}: skipped {plural(stats.nonnumeric[i], 'non-numeric cell')} in column '{header[i]}' "
                f"(first in data row {stats.first_bad_row[i]}); kept its numeric values."
            )

    metadata = {"format": layout.fmt, "delimiter": delimiter}
    if layout.kind == "wide" and layout.step_col is not None:
        metadata["step_column"] = header[layout.step_col]
    if layout.wall_col is not None:
        metadata["wall_time_column"] = header[layout.wall_col]
        if layout.wall_origin == "start":
            metadata["wall_time_origin"] = "training start"  # seconds since start, not since 1970
    result = LoadResult()
    for run_key in runs:
        points = runs[run_key]
        full_name = f"{run_name}/{run_key}" if run_key else run_name
        run = points.to_run(
            full_name,
            sources=[source.display],
            framework=layout.framework,
            notes=list(notes),
            metadata=dict(metadata),
        )
        result.runs.append(run)
    if not result.runs:
        detail = "; ".join(notes)
        result.errors.append(ReadError(source.display, "no numeric values found" + (f" ({detail})" if detail else "")))
    return result


def _consume(chunks: Iterator[pd.DataFrame], layout: _Layout, header: list[str], runs: dict[str, RunPoints], stats: _Stats, duplicates: list[str]) -> None:
    first = True
    for chunk in chunks:
        if first and layout.kind == "wide" and not layout.metrics:
            _finish_wide_layout(layout, header, chunk)
            if duplicates:
                keep = {header.index(h) for h in dict.fromkeys(header)}
                layout.metrics = {i: v for i, v in layout.metrics.items() if i in keep}
        first = False
        if layout.kind == "long":
            _process_long(chunk, layout, runs, stats)
        else:
            _process_wide(chunk, layout, runs, stats)
