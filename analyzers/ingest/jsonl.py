"""JSON Lines training logs: verl's file logger, and flat metric rows (SB3 progress.json, W&B).

* **verl** (``verl_jsonl``): the ``file`` logger writes one ``{"step": N, "data": {...}}`` line
  per training step to ``$VERL_FILE_LOGGER_PATH`` (metrics.md §1.5).
* **flat rows** (``jsonl``; ``sb3_progress_json`` for SB3's ``json`` output format): one object
  of ``key: value`` per line. The step is the first key found in
  :data:`~analyzers.ingest.tabular.STEP_COLUMNS` order (``step``, ``global_step``,
  ``time/total_timesteps``, W&B's ``_step`` ...); ``_timestamp``/``wall_time`` give the wall time.

Values: numbers (and booleans, as 0/1) are points; ``null`` is kept as a NaN point and counted in
a note (TRL writes ``null`` when every value in a logging window was NaN; ``orjson`` writes NaN
as ``null``); bare ``NaN``/``Infinity`` tokens (Python's ``json``) are data. Nested objects are
flattened with ``/``. Strings and lists are not scalars: skipped and counted. A line that is not
JSON (a truncated last line of a run still being written, garbage) is skipped and its line number
noted; every other line is kept.
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterable

from ..model import LoadResult, ReadError
from .source import Source
from .tabular import RunPoints, STEP_COLUMNS, pick_step_key, plural

# Keys that are time, not metrics, and where their seconds count from.
_WALL_KEYS = (("_timestamp", "epoch"), ("wall_time", "epoch"), ("timestamp", "epoch"), ("time/time_elapsed", "start"))
# W&B bookkeeping keys in flat rows: never series.
_WANDB_INTERNAL = ("_step", "_runtime", "_timestamp", "_wandb")
# Line numbers listed in a note before "...".
_MAX_LISTED = 10


class RowReader:
    """Turns metric rows (dicts) into one run's points, counting what it had to skip."""

    def __init__(self, file_name: str, allow_row_number: bool = True) -> None:
        self.file_name = file_name
        self.allow_row_number = allow_row_number
        self.points = RunPoints()
        self.rows = 0
        self.nulls = 0
        self.non_scalar: dict[str, int] = {}
        self.no_step_rows: list[int] = []
        self.used_row_number = False
        self.step_keys: dict[str, int] = {}
        self.wall_origin: str | None = None

    def add(self, row: dict[str, Any], where: int, step_key: str | None = None, metrics: dict[str, Any] | None = None) -> None:
        """Add one row. ``where`` is its line (or entry) number for notes.

        ``step_key`` forces the step key; ``metrics`` gives the values when they are nested
        (verl's ``data``), else every other key of ``row`` is a metric.
        """
        key = step_key if step_key is not None else pick_step_key(list(row))
        if key is None or key not in row:
            if self.step_keys or not self.allow_row_number:
                self.no_step_rows.append(where)
                return
            step = self.rows  # no step anywhere so far: the row number stands in
            self.used_row_number = True
        else:
            step = _as_step(row[key])
            if step is None:
                self.no_step_rows.append(where)
                return
            self.step_keys[key] = self.step_keys.get(key, 0) + 1
        wall = math.nan
        for wall_key, origin in _WALL_KEYS:
            if wall_key in row and wall_key != key:
                value = _as_number(row[wall_key])
                if value is not None:
                    wall = value
                    self.wall_origin = self.wall_origin or origin
                break
        items = metrics if metrics is not None else row
        skip = {key, *_WANDB_INTERNAL, *(k for k, _ in _WALL_KEYS)} if metrics is None else set()
        for tag, value in _flatten(items):
            if tag in skip or tag.startswith("_wandb"):
                continue
            if value is None:
                self.nulls += 1
                self.points.append(tag, step, math.nan, wall)
                continue
            number = _as_number(value)
            if number is None:
                self.non_scalar[tag] = self.non_scalar.get(tag, 0) + 1
                continue
            self.points.append(tag, step, number, wall)
        self.rows += 1

    def notes(self, what: str = "row") -> list[str]:
        name = self.file_name
        out: list[str] = []
        if self.used_row_number:
            out.append(f"{name}: no step key (looked for {', '.join(STEP_COLUMNS)}); used the {what} number (from 0) as the step.")
        if self.no_step_rows:
            out.append(f"{name}: skipped {plural(len(self.no_step_rows), what)} without an integer step ({_listed(self.no_step_rows, what)}).")
        if self.nulls:
            out.append(f"{name}: {plural(self.nulls, 'null value')} kept as NaN (a logger writes null for NaN, e.g. TRL when a whole logging window was NaN).")
        if self.non_scalar:
            keys = ", ".join(f"'{k}' ({n})" for k, n in sorted(self.non_scalar.items())[:_MAX_LISTED])
            out.append(f"{name}: skipped {plural(sum(self.non_scalar.values()), 'value')} that are not numbers: {keys}.")
        return out


def _listed(numbers: list[int], what: str) -> str:
    shown = ", ".join(str(n) for n in numbers[:_MAX_LISTED]) + (" ..." if len(numbers) > _MAX_LISTED else "")
    return f"{what}{'s' if len(numbers) > 1 else ''} {shown}"


def _as_step(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return int(value)
    return None


def _as_number(value: Any) -> float | None:
    if isinstance(value, (bool, int, float)):
        return float(value)
    return None


def _flatten(items: dict[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for key, value in items.items():
        tag = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flatten(value, f"{tag}/")
        else:
            yield tag, value


def read(source: Source, run_name: str) -> LoadResult:
    """Read a JSON Lines log (verl file logger, or flat rows). Never raises on bad input."""
    reader = RowReader(source.name)
    bad_lines: list[int] = []
    verl_lines = 0
    lines = 0
    try:
        with source.open() as fh:
            for line_no, raw in enumerate(fh, start=1):
                text = raw.decode("utf-8", errors="replace").strip()
                if not text:
                    continue
                lines += 1
                try:
                    obj = json.loads(text)
                except ValueError:
                    bad_lines.append(line_no)
                    continue
                if not isinstance(obj, dict):
                    bad_lines.append(line_no)
                    continue
                if "step" in obj and isinstance(obj.get("data"), dict):
                    verl_lines += 1
                    reader.add(obj, line_no, step_key="step", metrics=obj["data"])
                else:
                    reader.add(obj, line_no)
    except OSError as exc:
        return LoadResult(errors=[ReadError(source.display, f"cannot read file: {exc.strerror or exc}")])
    if lines == 0:
        return LoadResult(errors=[ReadError(source.display, "empty file")])
    if reader.rows == 0:
        return LoadResult(errors=[ReadError(source.display, f"no readable JSON lines ({plural(len(bad_lines), 'line')} not JSON objects)")])
    if lines == 1 and not reader.step_keys and verl_lines == 0:
        return LoadResult(errors=[ReadError(source.display, "not a training log: one JSON object with no step key")])
    notes = reader.notes("line")
    if bad_lines:
        last = "; the last line is incomplete (a run still being written?)" if bad_lines[-1] == line_no else ""
        notes.insert(0, f"{source.name}: skipped {plural(len(bad_lines), 'line')} that are not JSON objects ({_listed(bad_lines, 'line')}){last}.")
    if verl_lines:
        fmt, framework = "verl_jsonl", "verl"
    elif "time/total_timesteps" in reader.step_keys:
        fmt, framework = "sb3_progress_json", "stable-baselines3"
    else:
        fmt, framework = "jsonl", None
    metadata: dict[str, Any] = {"format": fmt}
    if reader.step_keys:
        metadata["step_key"] = max(reader.step_keys, key=reader.step_keys.__getitem__)
    if reader.wall_origin == "start":
        metadata["wall_time_origin"] = "training start"
    run = reader.points.to_run(run_name, sources=[source.display], framework=framework, notes=notes, metadata=metadata)
    if run.points == 0:
        return LoadResult(errors=[ReadError(source.display, "no numeric values found" + (f" ({'; '.join(notes)})" if notes else ""))])
    return LoadResult(runs=[run])
