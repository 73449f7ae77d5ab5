"""What the dashboard is looking at: a data source, the runs read from it, and their report.

All reading, resolving and analysing is done by ``analyzers`` (``load``, ``load_uploads``,
``resolve``, ``analyze``); this module only decides when to call them again and shows progress.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import streamlit as st

import analyzers
from analyzers.api import Report
from analyzers.metrics import MetricMap, resolve
from analyzers.model import LoadResult, ReadError, Run

# Server-side loads (samples, server paths) are kept for every session; a few at most.
_SHARED_CACHE_SIZE = 4
_shared_cache: "OrderedDict[tuple, Loaded]" = OrderedDict()
_shared_lock = threading.Lock()


@dataclass(frozen=True)
class Source:
    """Where the runs come from: the bundled samples, uploaded files, or a server path."""

    kind: str  # "samples" | "upload" | "path"
    label: str
    paths: tuple[str, ...] = ()
    upload_key: str = ""

    @property
    def key(self) -> tuple:
        if self.kind == "upload":
            return ("upload", self.upload_key)
        stamps = []
        for p in self.paths:
            try:
                stamps.append(os.stat(p).st_mtime_ns)
            except OSError:
                stamps.append(None)
        return (self.kind, self.paths, tuple(stamps))


@dataclass
class Loaded:
    """Runs read from a source and their analysis with the automatic mapping."""

    result: LoadResult
    report: Report
    seconds: float = 0.0


@dataclass
class Mapping:
    """The user's edits to the metric mapping: concept -> tag, and behaviour tags."""

    concepts: dict[str, str] = field(default_factory=dict)
    behaviour: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.concepts and not self.behaviour

    @property
    def key(self) -> tuple:
        return (tuple(sorted(self.concepts.items())), self.behaviour)

    def metric_map(self) -> MetricMap:
        return MetricMap(concepts=dict(self.concepts))


def upload_key(files: Sequence[tuple[str, bytes]]) -> str:
    digest = hashlib.sha256()
    for name, data in files:
        digest.update(name.encode("utf-8", "replace") + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


def _analyse(result: LoadResult, preview: bool, label: str) -> Report:
    """analyzers.analyze on each run, with a progress bar (the same call analyze_runs makes)."""
    runs = result.runs
    bar = st.progress(0.0, text=f"Analysing {len(runs)} run(s)…") if runs else None
    analyses = []
    for i, run in enumerate(runs, 1):
        analyses.append(analyzers.analyze(run, preview=preview))
        if bar is not None:
            bar.progress(i / len(runs), text=f"Analysed {i} of {len(runs)} run(s) from {label}")
    if bar is not None:
        bar.empty()
    return Report(analyses=analyses, errors=list(result.errors))


def _read(source: Source, uploads: Sequence[tuple[str, bytes]]) -> LoadResult:
    """Read the source; a reader bug becomes an error entry naming the file, never a traceback."""
    try:
        if source.kind == "upload":
            return analyzers.load_uploads(list(uploads))
        return analyzers.load(list(source.paths))
    except Exception as exc:  # readers promise not to raise; if one does, keep every other file
        if source.kind != "upload":
            return LoadResult(errors=[ReadError(", ".join(source.paths), _unexpected(exc))])
    result = LoadResult()
    for name, data in uploads:  # isolate the file that broke the reader
        try:
            result.extend(analyzers.load_uploads([(name, data)]))
        except Exception as exc:
            result.errors.append(ReadError(name, _unexpected(exc)))
    return result


def _unexpected(exc: Exception) -> str:
    return f"could not be read ({type(exc).__name__}: {exc}); please report this file's format"


def load_source(source: Source, *, uploads: Sequence[tuple[str, bytes]] = (), preview: bool = False) -> Loaded:
    """Read and analyse ``source``, showing progress; cached (per server for paths, per session for uploads)."""
    import time

    cache_key = (source.key, preview)
    if source.kind != "upload":
        with _shared_lock:
            hit = _shared_cache.get(cache_key)
            if hit is not None:
                _shared_cache.move_to_end(cache_key)
                return hit
    else:
        session_hit = st.session_state.get("_upload_cache")
        if session_hit is not None and session_hit[0] == cache_key:
            return session_hit[1]
    size = sum(len(d) for _, d in uploads) if source.kind == "upload" else None
    what = f"{len(uploads)} file(s), {size / 1e6:,.1f} MB" if size is not None else source.label
    started = time.perf_counter()
    with st.status(f"Reading {what}…", expanded=True) as status:
        result = _read(source, uploads)
        status.update(label=f"Read {len(result.runs)} run(s) from {source.label}; analysing…")
        report = _analyse(result, preview, source.label)
        status.update(label=f"Read and analysed {len(result.runs)} run(s) in {time.perf_counter() - started:.1f} s",
                      state="complete", expanded=False)
    loaded = Loaded(result, report, time.perf_counter() - started)
    if source.kind != "upload":
        with _shared_lock:
            _shared_cache[cache_key] = loaded
            while len(_shared_cache) > _SHARED_CACHE_SIZE:
                _shared_cache.popitem(last=False)
    else:
        st.session_state["_upload_cache"] = (cache_key, loaded)
    return loaded


def _remapped(run: Run, mapping: Mapping) -> Run:
    # A fresh Run sharing the (read-only) scalars; the cached original stays untouched.
    copy = dataclasses.replace(run, metrics={}, behaviour=[], notes=list(run.notes), metadata=dict(run.metadata))
    return resolve(copy, mapping.metric_map(), list(mapping.behaviour))


def with_mapping(loaded: Loaded, mapping: Mapping, *, preview: bool = False) -> Report:
    """The report under the user's mapping edits: runs re-resolved and re-analysed (cached per session)."""
    if mapping.empty:
        return loaded.report
    key = (mapping.key, preview)
    cached = st.session_state.get("_mapped_cache")
    if cached is not None and cached[0] is loaded and cached[1] == key:
        return cached[2]
    result = LoadResult(runs=[_remapped(r, mapping) for r in loaded.result.runs], errors=list(loaded.result.errors))
    report = _analyse(result, preview, "your mapping")
    st.session_state["_mapped_cache"] = (loaded, key, report)
    return report


def sample_paths(directory: Path) -> tuple[str, ...]:
    """The bundled sample logdir as one input (the reader finds every run inside)."""
    return (str(directory),) if directory.exists() else ()
