"""What the dashboard is looking at: a data source, the runs read from it, and their report.

All reading, resolving and analysing is done by ``analyzers`` (``load``, ``load_uploads``,
``resolve``, ``analyze``, and ``analyzers.sweep`` for logdirs of many runs); this module only
decides when to call them again and shows progress.

Small sources (the bundled samples, uploads, a server path of a few runs) are read whole and
kept with their scalars. A server path with more than :data:`SWEEP_MIN_UNITS` run units is a
sweep: it is triaged by ``analyzers.sweep`` on a process pool, the overview fills in as results
arrive, and only summaries and findings are kept (memory bounded by the runs in flight). A run's
scalars are read again, alone, when a page needs them (:func:`with_scalars`), and the last
:data:`SCALAR_CACHE_RUNS` such runs are kept per session.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import streamlit as st

import analyzers
from analyzers import sweep
from analyzers.api import Report
from analyzers.metrics import MetricMap, resolve
from analyzers.model import LoadResult, ReadError, Run
from analyzers.report.markdown import escape_markdown
from analyzers.rules import Analysis

# Server-side loads (samples, server paths) are kept for every session; a few at most.
_SHARED_CACHE_SIZE = 4
# A server path with more run units than this is triaged as a sweep (parallel, streamed, no
# scalars kept): beyond a dozen runs a serial read makes the user wait and holds every scalar.
SWEEP_MIN_UNITS = 12
# The sweep's executor (analyzers.sweep.EXECUTORS); a process pool unless configured (tests use "serial").
EXECUTOR_ENV = "RLHF_TRIAGE_EXECUTOR"
DEFAULT_EXECUTOR = "process"
# Runs of a sweep whose scalars a session keeps after opening them: Compare shows two, the
# explorer overlays three by default, the run view one.
SCALAR_CACHE_RUNS = 6
# The streamed overview is redrawn at most this often (seconds), and after the last result:
# redrawing a table of hundreds of rows per result would cost more than the triage.
STREAM_REDRAW_SECONDS = 0.3
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
class SweepSource:
    """How to read one run of a sweep again: the plan and, per run name, its unit and position."""

    plan: sweep.SweepPlan
    locations: dict[str, tuple[sweep.RunUnit, int]]
    key: tuple = ()


@dataclass
class Loaded:
    """Runs read from a source and their analysis with the automatic mapping.

    For a sweep, ``result`` holds only the read errors, the report's runs are
    :class:`analyzers.sweep.RunSummary` objects (no scalars) and ``sweep`` says where to read
    each run again.
    """

    result: LoadResult
    report: Report
    seconds: float = 0.0
    sweep: SweepSource | None = None


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


def sweep_executor() -> str:
    """The executor a sweep runs on: ``$RLHF_TRIAGE_EXECUTOR`` if valid, else the process pool."""
    chosen = os.environ.get(EXECUTOR_ENV, "").strip().lower()
    return chosen if chosen in sweep.EXECUTORS else DEFAULT_EXECUTOR


def _sweep_plan(source: Source) -> sweep.SweepPlan | None:
    """The plan of a server path with many run units; ``None`` for everything read whole."""
    if source.kind != "path":
        return None
    try:
        plan = sweep.plan_sweep(list(source.paths))
    except Exception:  # listing failed unexpectedly: the whole read reports it, naming the path
        return None
    return plan if len(plan.units) > SWEEP_MIN_UNITS else None


def _triage_sweep(plan: sweep.SweepPlan, options: sweep.SweepOptions, label: str) -> tuple[Report, dict]:
    """Run the sweep with a progress bar and the overview table streamed as results arrive."""
    from dashboard import views  # views imports nothing from here; imported late to keep layers plain

    total = len(plan.units)
    executor = sweep_executor()
    bar = st.progress(0.0, text=f"Triaging {total} runs from {label} ({executor} executor)…")
    table = st.empty()
    results: list[sweep.UnitResult] = []
    started = last_drawn = time.perf_counter()
    try:
        stream = sweep.iter_results(plan.units, options, executor=executor)
    except sweep.SweepError:  # a misconfigured executor must not stop the triage
        stream = sweep.iter_results(plan.units, options, executor="serial")
    for done, result in enumerate(stream, start=1):
        results.append(result)
        now = time.perf_counter()
        rate = done / (now - started) if now > started else 0.0
        bar.progress(done / total, text=f"Triaged {done} of {total} runs from {label} · {rate:.1f} runs/s")
        if now - last_drawn >= STREAM_REDRAW_SECONDS or done == total:
            last_drawn = now
            with table.container():
                st.caption(f"Runs triaged so far ({done} of {total}), worst first")
                views.overview_table(sweep.assemble(plan, results, partial=True), key=f"overview_stream_{done}")
    bar.empty()
    table.empty()
    report = sweep.assemble(plan, results)
    names = [a.run.name for a in report.analyses]
    return report, dict(zip(names, sweep.run_locations(plan, results)))


def load_source(source: Source, *, uploads: Sequence[tuple[str, bytes]] = (), preview: bool = False) -> Loaded:
    """Read and analyse ``source``, showing progress; cached (per server for paths, per session for uploads).

    A server path of more than :data:`SWEEP_MIN_UNITS` run units is triaged as a sweep (see the
    module docstring).
    """
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
    plan = _sweep_plan(source)
    if plan is not None:
        with st.status(f"Triaging {len(plan.units)} runs from {source.label} in parallel…", expanded=True) as status:
            report, locations = _triage_sweep(plan, sweep.SweepOptions(preview=preview), source.label)
            status.update(label=f"Triaged {len(report.analyses)} run(s) in {time.perf_counter() - started:.1f} s",
                          state="complete", expanded=False)
        loaded = Loaded(LoadResult(errors=list(report.errors)), report, time.perf_counter() - started,
                        sweep=SweepSource(plan, locations, cache_key))
    else:
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
    if loaded.sweep is not None:  # the same sweep again, every worker resolving with the edits
        options = sweep.SweepOptions(metric_map=mapping.metric_map(), behaviour=mapping.behaviour, preview=preview)
        report, _ = _triage_sweep(loaded.sweep.plan, options, "your mapping")
    else:
        result = LoadResult(runs=[_remapped(r, mapping) for r in loaded.result.runs], errors=list(loaded.result.errors))
        report = _analyse(result, preview, "your mapping")
    st.session_state["_mapped_cache"] = (loaded, key, report)
    return report


def _read_again(loaded: Loaded, a: Analysis, mapping: Mapping, preview: bool) -> Analysis | None:
    """One sweep run read alone and analysed as the sweep did (``None`` if it cannot be read now)."""
    assert loaded.sweep is not None
    location = loaded.sweep.locations.get(a.run.name)
    if location is None:
        return None
    unit, position = location
    try:
        result = sweep.read_unit(unit)
    except Exception:  # the files changed or vanished since the sweep: the caller says so
        return None
    if position >= len(result.runs):
        return None
    run = result.runs[position]
    run.name = a.run.name  # the sweep's de-duplicated name
    resolve(run, None if mapping.empty else mapping.metric_map(), list(mapping.behaviour))
    return analyzers.analyze(run, preview=preview)


def with_scalars(loaded: Loaded, a: Analysis, mapping: Mapping, *, preview: bool = False) -> Analysis:
    """``a`` with its run's scalars, for charts: read on demand for a sweep (LRU per session).

    If the run can no longer be read, a warning names it and the scalar-free analysis is
    returned (charts then say they cannot be drawn).
    """
    if loaded.sweep is None or isinstance(a.run, Run):
        return a
    key = (loaded.sweep.key, a.run.name, mapping.key, preview)
    cache: OrderedDict = st.session_state.setdefault("_scalar_cache", OrderedDict())
    hit = cache.get(key)
    if hit is not None:
        cache.move_to_end(key)
        return hit
    with st.spinner(f"Reading the scalars of {escape_markdown(a.run.name)}…"):
        full = _read_again(loaded, a, mapping, preview)
    if full is None:
        st.warning(f"The files of run {escape_markdown(a.run.name)} could not be read again; its charts are not available.")
        return a
    cache[key] = full
    while len(cache) > SCALAR_CACHE_RUNS:
        cache.popitem(last=False)
    return full


def report_with_scalars(loaded: Loaded, report: Report, mapping: Mapping, *, preview: bool = False) -> Report:
    """``report`` with every run's scalars (for the HTML and Markdown reports, which chart them).

    For a sweep this reads every run again, one after another, when a report is asked for.
    """
    if loaded.sweep is None:
        return report
    analyses = []
    for a in report.analyses:
        full = None if isinstance(a.run, Run) else _read_again(loaded, a, mapping, preview)
        analyses.append(full or a)
    return Report(analyses=analyses, errors=list(report.errors))


def sample_paths(directory: Path) -> tuple[str, ...]:
    """The bundled sample logdir as one input (the reader finds every run inside)."""
    return (str(directory),) if directory.exists() else ()
