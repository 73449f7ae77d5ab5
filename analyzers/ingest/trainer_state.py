"""Hugging Face ``trainer_state.json`` (Trainer, TRL GRPO/RLOO/PPO/DPO) and other JSON logs.

What transformers writes (``TrainerState.save_to_json``: ``json.dumps(asdict(state), indent=2,
sort_keys=True)``; ``Trainer.log`` appends ``{**logs, "epoch": state.epoch, "step":
state.global_step}`` to ``log_history``):

* training entries: unprefixed keys (``loss``, ``grad_norm``, ``learning_rate``, ``reward``,
  ``kl`` ...) plus ``epoch`` and ``step``. Every key but ``step`` becomes a series under the key
  as logged. ``epoch`` is kept as a series too: it is the x-axis companion HF's TensorBoard
  callback also writes (as ``train/epoch``), so both sources of one run show the same tags.
* evaluation entries: ``eval_*`` keys (``eval_loss``, ``eval_runtime`` ...), kept as logged.
* the end-of-training summary (``Trainer._finalize_training``: ``train_runtime``,
  ``train_samples_per_second``, ``train_steps_per_second``, ``total_flos``, ``train_loss``) is
  not a series: its keys go into ``run.metadata``.
* values: Python's ``json`` writes bare ``NaN``/``Infinity``/``-Infinity`` (data, kept); TRL
  writes ``null`` when a whole logging window was NaN (kept as a NaN point, counted in a note).

The state's own fields (``global_step``, ``max_steps``, ``best_metric``,
``best_model_checkpoint`` ...) go into ``run.metadata`` as well. A truncated file keeps every
complete ``log_history`` entry before the cut.

:func:`read_json` reads any other JSON file: a bare ``log_history`` list or a list of metric
rows; anything else is "not a training log".
"""

from __future__ import annotations

import json
from typing import Any

from ..model import LoadResult, ReadError
from . import jsonl
from .jsonl import RowReader
from .source import Source
from .tabular import plural

# Keys only the end-of-training summary entry carries (transformers Trainer._finalize_training).
# ``train_runtime`` alone is not enough: with include_num_input_tokens_seen every log entry has it.
SUMMARY_MARKERS = ("total_flos", "train_loss", "train_samples_per_second", "train_steps_per_second")
# TrainerState fields worth keeping as run metadata (transformers trainer_callback.TrainerState).
STATE_FIELDS = (
    "global_step",
    "max_steps",
    "epoch",
    "num_train_epochs",
    "logging_steps",
    "eval_steps",
    "save_steps",
    "train_batch_size",
    "num_input_tokens_seen",
    "total_flos",
    "best_metric",
    "best_global_step",
    "best_model_checkpoint",
    "is_hyper_param_search",
    "trial_name",
)
_MAX_KEYS_SHOWN = 8


def _load_text(source: Source) -> tuple[str, list[str]]:
    with source.open() as fh:
        data = fh.read()
    notes: list[str] = []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", errors="replace")
        notes.append(f"{source.name} is not valid UTF-8 (invalid byte at offset {exc.start}); undecodable bytes were replaced.")
    return text, notes


def _where(exc: json.JSONDecodeError) -> str:
    message = exc.msg[: -len(" at")] if exc.msg.endswith(" at") else exc.msg
    return f"{message} at line {exc.lineno}, column {exc.colno}"


def _looks_like_json_lines(text: str, file_name: str) -> bool:
    """JSON Lines that sniffing could not tell apart: a first line longer than the sniffed head,
    or a damaged first line. Pretty-printed JSON never starts two lines with "{" at column 0."""
    if file_name.lower().endswith((".jsonl", ".ndjson")):
        return True
    starts = 0
    for line in text.splitlines():
        if line.startswith("{") and line.strip() != "{":
            starts += 1
            if starts >= 2:
                return True
    return False


def _salvage_log_history(text: str) -> list[Any]:
    """The complete ``log_history`` entries of a truncated or damaged trainer_state.json."""
    start = text.find('"log_history"')
    if start < 0:
        return []
    bracket = text.find("[", start)
    if bracket < 0:
        return []
    decoder = json.JSONDecoder()
    entries: list[Any] = []
    pos = bracket + 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            break
        try:
            entry, pos = decoder.raw_decode(text, pos)
        except ValueError:
            break
        entries.append(entry)
    return entries


def _is_summary(entry: dict[str, Any]) -> bool:
    return any(key in entry for key in SUMMARY_MARKERS)


def _from_log_history(
    entries: list[Any],
    source: Source,
    run_name: str,
    metadata: dict[str, Any],
    notes: list[str],
    hf_steps: bool,
) -> LoadResult:
    # HF entries always carry "step"; one without it is damaged, not a reason to count rows.
    reader = RowReader(source.name, allow_row_number=not hf_steps)
    not_objects = 0
    summaries = 0
    for number, entry in enumerate(entries):
        if not isinstance(entry, dict):
            not_objects += 1
            continue
        if hf_steps and _is_summary(entry):
            summaries += 1
            metadata.update({k: v for k, v in entry.items() if k not in ("step", "epoch")})
            continue
        reader.add(entry, number, step_key="step" if hf_steps else None)
    notes = notes + reader.notes("entry")
    if not_objects:
        notes.append(f"{source.name}: skipped {plural(not_objects, 'log entry')} that are not JSON objects.")
    if summaries > 1:
        notes.append(f"{source.name}: {summaries} end-of-training summary entries (training was resumed); metadata holds the last.")
    run = reader.points.to_run(run_name, sources=[source.display], notes=notes, metadata=metadata)
    if run.points == 0:
        detail = "; ".join(notes)
        what = "log_history has no metric entries" if hf_steps else "no numeric values found"
        return LoadResult(errors=[ReadError(source.display, what + (f" ({detail})" if detail else ""))])
    return LoadResult(runs=[run])


def _from_state(state: dict[str, Any], source: Source, run_name: str, notes: list[str]) -> LoadResult:
    history = state.get("log_history")
    if not isinstance(history, list):
        keys = ", ".join(sorted(map(str, state))[:_MAX_KEYS_SHOWN])
        return LoadResult(errors=[ReadError(source.display, f"not a training log: no 'log_history' list in this JSON object (keys: {keys})")])
    metadata: dict[str, Any] = {"format": "hf_trainer_state"}
    metadata.update({k: state[k] for k in STATE_FIELDS if k in state})
    return _from_log_history(history, source, run_name, metadata, notes, hf_steps=True)


def _truncated(text: str, exc: json.JSONDecodeError, source: Source, run_name: str, notes: list[str]) -> LoadResult:
    entries = _salvage_log_history(text)
    if not entries:
        return LoadResult(errors=[ReadError(source.display, f"not valid JSON ({_where(exc)}); the file may be truncated")])
    notes = notes + [
        f"{source.name} is truncated or damaged ({_where(exc)}): read the {plural(len(entries), 'complete log_history entry')} before the damage; the state's other fields are lost."
    ]
    return _from_log_history(entries, source, run_name, {"format": "hf_trainer_state"}, notes, hf_steps=True)


def _read_text(source: Source) -> tuple[str, list[str]] | LoadResult:
    """The file's text and decoding notes, or the error entry that says why there is none."""
    try:
        text, notes = _load_text(source)
    except OSError as exc:
        return LoadResult(errors=[ReadError(source.display, f"cannot read file: {exc.strerror or exc}")])
    if not text.strip():
        return LoadResult(errors=[ReadError(source.display, "empty file")])
    return text, notes


def read(source: Source, run_name: str) -> LoadResult:
    """Read a Hugging Face ``trainer_state.json``. Never raises on bad input."""
    loaded = _read_text(source)
    if isinstance(loaded, LoadResult):
        return loaded
    text, notes = loaded
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return _truncated(text, exc, source, run_name, notes)
    if isinstance(obj, list):
        return _from_rows(obj, source, run_name, notes)
    if not isinstance(obj, dict):
        return LoadResult(errors=[ReadError(source.display, f"not a training log: the JSON is a {type(obj).__name__}, not an object with a log_history list")])
    return _from_state(obj, source, run_name, notes)


def _from_rows(rows: list[Any], source: Source, run_name: str, notes: list[str]) -> LoadResult:
    if not rows:
        return LoadResult(errors=[ReadError(source.display, "not a training log: an empty JSON list")])
    dicts = [r for r in rows if isinstance(r, dict)]
    if not dicts:
        return LoadResult(errors=[ReadError(source.display, "not a training log: a JSON list without metric objects")])
    # A bare log_history: HF entries carry "step" and "epoch" (Trainer.log adds both).
    hf = all("step" in r for r in dicts) and any("epoch" in r or _is_summary(r) for r in dicts)
    metadata = {"format": "hf_log_history" if hf else "json_rows"}
    return _from_log_history(rows, source, run_name, metadata, notes, hf_steps=hf)


def read_json(source: Source, run_name: str) -> LoadResult:
    """Read a JSON file that is not plainly a trainer_state.json. Never raises on bad input.

    Accepts an object with ``log_history``, a bare ``log_history`` list, or a list of metric
    rows; JSON Lines that sniffing could not tell apart (a first line longer than the sniffed
    head) go to :func:`analyzers.ingest.jsonl.read`. Anything else is "not a training log".
    """
    loaded = _read_text(source)
    if isinstance(loaded, LoadResult):
        return loaded
    text, notes = loaded
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        if text.lstrip().startswith("{") and (exc.msg == "Extra data" or _looks_like_json_lines(text, source.name)):
            return jsonl.read(source, run_name)
        if '"log_history"' in text:
            return _truncated(text, exc, source, run_name, notes)
        return LoadResult(errors=[ReadError(source.display, f"not valid JSON ({_where(exc)})")])
    if isinstance(obj, list):
        return _from_rows(obj, source, run_name, notes)
    if isinstance(obj, dict):
        if "log_history" in obj:
            return _from_state(obj, source, run_name, notes)
        keys = ", ".join(sorted(map(str, obj))[:_MAX_KEYS_SHOWN])
        more = ", ..." if len(obj) > _MAX_KEYS_SHOWN else ""
        return LoadResult(
            errors=[
                ReadError(
                    source.display,
                    f"not a training log: a JSON object with keys {keys}{more} "
                    "(expected a trainer_state.json with log_history, a list of log entries, or JSON Lines)",
                )
            ]
        )
    return LoadResult(errors=[ReadError(source.display, f"not a training log: the JSON is a {type(obj).__name__}")])
