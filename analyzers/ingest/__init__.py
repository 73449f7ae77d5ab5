"""Read log files, logdirs and zip archives into :class:`~analyzers.model.Run` objects.

Entry points: :func:`read_path` (a file, a logdir, or a zip on disk) and :func:`read_bytes` (an
upload). Both return a :class:`~analyzers.model.LoadResult`; nothing here raises on bad input:
an unreadable file becomes a :class:`~analyzers.model.ReadError` naming it, and every point that
could be read is kept.
"""

from __future__ import annotations

import importlib
import os
import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from typing import Callable, Generic, Iterable, TypeVar

from ..model import LoadResult, ReadError, Run
from . import sniff
from .source import Source

Reader = Callable[[Source, str], LoadResult]
T = TypeVar("T")

# Files in a logdir that are never logs (HF checkpoints sit next to trainer_state.json).
_NOT_LOGS = re.compile(
    r"^(config|generation_config|tokenizer|tokenizer_config|special_tokens_map|adapter_config|"
    r"preprocessor_config|vocab|added_tokens|chat_template|training_args|.*\.index|"
    # HF Trainer's end-of-run results and W&B's run files: summaries, not logs.
    r"all_results|train_results|eval_results|test_results|predict_results|wandb-summary|wandb-metadata)\.json$",
    re.IGNORECASE,
)
# What a JSON file that holds no training log is answered with (trainer_state.read_json).
_NOT_A_LOG = "not a training log"
_LOG_NAMES = re.compile(r"(tfevents|\.csv$|\.tsv$|^progress\.txt$|\.jsonl$|\.json$|\.zip$)", re.IGNORECASE)
_CHECKPOINT_DIR = re.compile(r"(^|/)checkpoint-(\d+)/trainer_state\.json$")

# A zip member larger than this is refused rather than inflated into memory (zip bombs).
MAX_ZIP_MEMBER_BYTES = 8 << 30


# format -> (module in this package, function): imported one at a time, when needed, so a
# missing or broken reader (say, the event-file one) cannot take the others down.
_READERS: dict[str, tuple[str, str]] = {
    sniff.TFEVENTS: ("tfevents", "read"),
    sniff.CSV: ("tabular", "read_csv"),
    sniff.TSV: ("tabular", "read_tsv"),
    sniff.TRAINER_STATE: ("trainer_state", "read"),
    sniff.JSON: ("trainer_state", "read_json"),
    sniff.JSONL: ("jsonl", "read"),
}


def _reader(fmt: str) -> Reader:
    module_name, function = _READERS[fmt]
    module = importlib.import_module(f"{__name__}.{module_name}")
    return getattr(module, function)


def _readers() -> dict[str, Reader]:
    """Every reader by format (imports them all; kept for callers that want the table)."""
    return {fmt: _reader(fmt) for fmt in _READERS}


def read_path(path: str | os.PathLike[str], run_name: str | None = None) -> LoadResult:
    """Read a file, a logdir (every folder holding event files is one run) or a zip archive."""
    path = os.fspath(path)
    if "://" in path:
        from .remote import read_url

        return read_url(path, run_name=run_name)
    if not os.path.exists(path):
        return LoadResult(errors=[ReadError(path, "no such file or directory")])
    if os.path.isdir(path):
        root_name = run_name or os.path.basename(os.path.normpath(os.path.abspath(path)))
        entries = []
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames.sort()
            for fname in sorted(filenames):
                full = os.path.join(dirpath, fname)
                rel = os.path.relpath(full, path).replace(os.sep, "/")
                entries.append((rel, Source(display=full, path=full)))
        return read_tree(entries, root_name, origin=path)
    source = Source(display=path, path=path)
    return read_source(source, run_name or _default_run_name(path, local=True))


def read_bytes(data: bytes, filename: str, run_name: str | None = None) -> LoadResult:
    """Read one uploaded file (its bytes and the name the browser gave it)."""
    source = Source(display=filename, data=data)
    return read_source(source, run_name or _default_run_name(filename, local=False))


def read_source(source: Source, run_name: str) -> LoadResult:
    """Read one file of any supported format (a zip is read as a logdir)."""
    try:
        head = source.head(4096)
    except OSError as exc:
        return LoadResult(errors=[ReadError(source.display, f"cannot read file: {exc.strerror or exc}")])
    fmt = sniff.detect_format(head, source.name)
    if fmt == sniff.ZIP:
        return _read_zip(source, run_name)
    if fmt is None:
        if not head:
            return LoadResult(errors=[ReadError(source.display, "empty file")])
        return LoadResult(
            errors=[
                ReadError(
                    source.display,
                    "unrecognised format: expected a TensorBoard event file, CSV/TSV, trainer_state.json, "
                    "verl JSONL or a zip of those",
                )
            ]
        )
    if fmt == sniff.TFEVENTS:
        return _read_event_folder([source], run_name)
    return _call_reader(fmt, source, run_name)


def _call_reader(fmt: str, source: Source, run_name: str) -> LoadResult:
    try:
        reader = _reader(fmt)
        return reader(source, run_name)
    except MemoryError:
        return LoadResult(errors=[ReadError(source.display, "out of memory while reading this file")])
    except Exception as exc:  # a reader bug must not take the other files down
        return LoadResult(errors=[ReadError(source.display, f"could not read as {fmt}: {type(exc).__name__}: {exc}")])


def _default_run_name(path: str, local: bool = True) -> str:
    """A run name from a file name: the stem, or the folder for event files and fixed names.

    Only a local path has a folder to look at: an upload called ``trainer_state.json`` is named
    ``trainer_state``, not after the server's working directory.
    """
    path = path.replace("\\", "/")
    base = os.path.basename(path.rstrip("/"))
    folder = os.path.dirname(os.path.abspath(path)) if local else posixpath.dirname(path)
    parent = posixpath.basename(folder.replace(os.sep, "/"))
    if "tfevents" in base:
        return parent or base
    stem, _ = os.path.splitext(base)
    if stem in ("trainer_state", "progress"):  # HF Trainer, SB3 and Spinning Up fixed names
        return parent or stem
    return stem or base


@dataclass
class TreeGroup(Generic[T]):
    """Files of a logdir that are read together: one event folder (with the companion files
    that repeat its scalars), one standalone log file, or one output folder's checkpoint
    ``trainer_state.json`` files (of which the newest is read)."""

    kind: str  # "events" | "file" | "checkpoints"
    rel: str  # the folder (events, checkpoints) or the file (file), relative to the logdir
    entries: list[tuple[str, T, str]] = field(default_factory=list)  # (relative path, item, format)

    def members(self) -> list[tuple[str, T]]:
        return [(rel, item) for rel, item, _ in self.entries]


def plan_tree(
    files: Iterable[tuple[str, T]], read_head: Callable[[T], bytes], describe: Callable[[T], str]
) -> tuple[list[TreeGroup[T]], list[ReadError]]:
    """Group a logdir's files into what is read together, in read order, from their first bytes.

    Event folders come first (sorted), then every other log file in walk order, then the
    checkpoint groups. Shared by :func:`read_tree` and the sweep planner (``analyzers.sweep``),
    which sends each group to a worker: both name and merge runs the same way.
    """
    errors: list[ReadError] = []
    event_groups: dict[str, TreeGroup[T]] = {}
    others: list[tuple[str, T, str]] = []
    for rel, item in files:
        base = posixpath.basename(rel)
        if base.startswith(".") or _NOT_LOGS.match(base):
            continue
        try:
            head = read_head(item)
        except OSError as exc:
            errors.append(ReadError(describe(item), f"cannot read file: {exc.strerror or exc}"))
            continue
        fmt = sniff.detect_format(head, base)
        if fmt == sniff.TFEVENTS or "tfevents" in base:
            folder = posixpath.dirname(rel)
            event_groups.setdefault(folder, TreeGroup("events", folder)).entries.append((rel, item, sniff.TFEVENTS))
        elif fmt is not None and _LOG_NAMES.search(base):
            others.append((rel, item, fmt))

    groups: list[TreeGroup[T]] = [event_groups[folder] for folder in sorted(event_groups)]
    checkpoints: dict[str, TreeGroup[T]] = {}
    roots: set[str] = set()
    for rel, item, fmt in others:
        folder, base = posixpath.split(rel)
        m = _CHECKPOINT_DIR.search(rel)
        if base in _COMPANION_NAMES and folder in event_groups:
            event_groups[folder].entries.append((rel, item, fmt))
        elif m:
            parent = rel[: m.start()]
            checkpoints.setdefault(parent, TreeGroup("checkpoints", parent)).entries.append((rel, item, fmt))
        else:
            if base == "trainer_state.json":
                roots.add(folder)
            groups.append(TreeGroup("file", rel, [(rel, item, fmt)]))
    # save_state() writes the output folder's own trainer_state.json: it wins over checkpoints.
    groups.extend(g for parent, g in checkpoints.items() if parent not in roots)
    return groups, errors


def read_tree(
    entries: Iterable[tuple[str, Source]], root_name: str, origin: str, name_prefix: str = ""
) -> LoadResult:
    """Read a logdir given as (relative path, source) pairs: a real folder or a zip's members.

    Every folder holding event files is one run named by its path relative to the root (the
    root itself takes ``root_name``); several event files in one folder are one run, merged in
    file-name order (TensorBoard's order, i.e. by creation time). Every other log file is its
    own run, named by its relative path without extension. ``name_prefix`` goes in front of
    every name but the root's (see ``_read_zip``).
    """
    result = LoadResult()
    groups, result.errors = plan_tree(entries, lambda s: s.head(4096), lambda s: s.display)
    for group in groups:
        result.extend(_read_group(group, root_name, name_prefix))
    if not result.runs and not result.errors:
        result.errors.append(ReadError(origin, "no log files found (event files, CSV, trainer_state.json, JSONL)"))
    return result


# Files a trainer writes next to its event files that hold the same scalars again (SB3's
# CSV/JSON logger, HF Trainer's state): reading both would list every run twice.
_COMPANION_NAMES = frozenset({"progress.csv", "progress.json", "trainer_state.json"})


def _read_group(group: TreeGroup[Source], root_name: str, name_prefix: str) -> LoadResult:
    if group.kind == "events":
        sources = sorted((src for _, src, fmt in group.entries if fmt == sniff.TFEVENTS), key=lambda s: s.name)
        name = root_name if group.rel == "" else name_prefix + group.rel
        result = _read_event_folder(sources, name)
        for run in result.runs:
            for rel, _, fmt in group.entries:
                if fmt != sniff.TFEVENTS:
                    run.notes.append(
                        f"{posixpath.basename(rel)} in the same folder is this run in another format "
                        f"(the trainer wrote both); read the event files only. Open {rel} on its own to read it."
                    )
        return result
    note = None
    entries = group.entries
    if group.kind == "checkpoints":
        # HF writes a cumulative trainer_state.json into every checkpoint-N folder: the newest
        # holds the whole history up to its step.
        entries = [max(entries, key=lambda e: int(_CHECKPOINT_DIR.search(e[0]).group(2)))]  # type: ignore[union-attr]
        if len(group.entries) > 1:
            note = (
                f"{len(group.entries)} checkpoint folders hold a trainer_state.json; read the newest, "
                f"{entries[0][0]} (each one holds the whole history up to its step)."
            )
    rel, source, fmt = entries[0]
    stem = posixpath.splitext(rel)[0]
    if posixpath.basename(stem) == "trainer_state":
        stem = posixpath.dirname(stem) or root_name
    elif posixpath.basename(stem) == "progress" and posixpath.dirname(stem):
        stem = posixpath.dirname(stem)
    name = name_prefix + stem if stem else root_name
    sub = _read_zip(source, name, name_prefix=f"{name}/") if fmt == sniff.ZIP else _call_reader(fmt, source, name)
    if fmt in (sniff.JSON, sniff.JSONL) and not sub.runs and all(e.message.startswith(_NOT_A_LOG) for e in sub.errors):
        return LoadResult()  # a logdir holds JSON configs and summaries too; only logs are news
    if note:
        for run in sub.runs:
            run.notes.append(note)
    return sub


def _read_event_folder(sources: list[Source], name: str) -> LoadResult:
    result = LoadResult()
    parts: list[Run] = []
    for source in sources:
        sub = _call_reader(sniff.TFEVENTS, source, name)
        result.errors.extend(sub.errors)
        parts.extend(sub.runs)
    if parts:
        run = parts[0] if len(parts) == 1 else Run.concat(name, parts)
        if len(parts) > 1:
            run.notes.append(f"{len(parts)} event files in this folder were merged into one run (in file-name order).")
        if run.points == 0:
            detail = "; ".join(run.notes)
            where = sources[0].display if len(sources) == 1 else f"{name} ({len(sources)} event files)"
            result.errors.append(ReadError(where, "no scalar values in this run" + (f": {detail}" if detail else "")))
        else:
            result.runs.append(run)
    return result


def _read_zip(source: Source, run_name: str, name_prefix: str = "") -> LoadResult:
    """Read a zipped logdir from memory: member names are labels, never paths we write to.

    A zip found inside a logdir names its runs ``<zip path>/<folder>`` (``name_prefix``) so
    they cannot clash with the same folders on disk; a zip given on its own keeps the names
    of its folders, like the logdir it was made from.
    """
    try:
        with source.open() as fh:
            zf = zipfile.ZipFile(fh)
            entries: list[tuple[str, Source]] = []
            errors: list[ReadError] = []
            for info in zf.infolist():
                if info.is_dir():
                    continue
                display = f"{source.display}:{info.filename}"
                # The member name is only a label: "../" and absolute parts are dropped.
                rel = "/".join(p for p in info.filename.replace("\\", "/").split("/") if p not in ("", ".", ".."))
                if info.file_size > MAX_ZIP_MEMBER_BYTES:
                    errors.append(ReadError(display, f"archive member too large to inflate ({info.file_size} bytes)"))
                    continue
                if rel.lower().endswith(".zip"):
                    errors.append(ReadError(display, "nested zip archives are not read; unzip the outer archive first"))
                    continue
                try:
                    data = zf.read(info)
                except (zipfile.BadZipFile, OSError, RuntimeError, EOFError, NotImplementedError) as exc:
                    errors.append(ReadError(display, f"corrupt archive member: {exc}"))
                    continue
                entries.append((rel, Source(display=display, data=data)))
    except zipfile.BadZipFile as exc:
        return LoadResult(errors=[ReadError(source.display, f"corrupt zip archive: {exc}")])
    result = read_tree(entries, run_name, origin=source.display, name_prefix=name_prefix)
    result.errors[:0] = errors
    return result
