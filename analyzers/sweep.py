"""Triage many runs at once: on one core, a process pool, or a Dask cluster, with the same result.

A sweep has three steps:

1. **Plan** (:func:`plan_sweep`): list the *run units* of every input without reading them. A
   unit is what :func:`analyzers.ingest.read_tree` turns into runs on its own: one folder of
   event files (restarts merge into one run), one standalone log file (CSV, JSONL, a zip...), or
   the ``checkpoint-N/trainer_state.json`` files of one output folder (only the newest is read).
   Planning reads only each file's first 4 KB, to tell logs from other files.
2. **Analyse** (:func:`analyze_unit`, one call per unit, in any worker): read, resolve the
   canonical metrics, run the rules, and return a small picklable :class:`UnitResult` holding
   each run's summary fields, findings, skipped rules and errors, never the scalars. Memory is
   therefore bounded by the units in flight.
3. **Assemble** (:func:`assemble`): results arrive in completion order; they are put back in
   the serial read order, run names are de-duplicated the way :func:`analyzers.api.load` does,
   and a :class:`~analyzers.api.Report` is built whose runs are :class:`RunSummary` objects.
   Rendered as text or JSON it is identical to ``analyze_runs(load(paths))``.

Executors: ``serial`` (in this process), ``process`` (``concurrent.futures`` process pool,
bounded submissions) and ``dask`` (``distributed.Client`` on a scheduler address, or a
``LocalCluster`` when none is given). Inputs may be local paths or fsspec URLs (``s3://``,
``gs://``, ``file://``, ...; see :mod:`analyzers.ingest.remote`).
"""

from __future__ import annotations

import logging
import os
import sys
import time
import uuid
from collections import defaultdict
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence, TextIO

from .api import Report, unique_names
from .findings import Finding
from .ingest import plan_tree, read_path, read_tree
from .ingest.source import Source
from .metrics import MetricMap, resolve
from .model import LoadResult, ReadError, Run
from .rules import Analysis, analyze

EXECUTORS = ("serial", "process", "dask")

# Units in flight per worker (the one it works on plus one queued): enough to keep it busy while
# the parent collects a result, few enough that memory stays bounded by the number of workers.
IN_FLIGHT_PER_WORKER = 2

# Dask's LocalCluster when no scheduler is given: one single-threaded process per worker, since
# reading and the rules hold the GIL (numpy/pandas release it only in parts).
DEFAULT_DASK_LOCAL_WORKERS = 2

# read_tree names its "nothing found" error after ``origin``; units pass this marker so that a
# unit's own empty result is not reported (the whole input's emptiness is judged in assemble).
_UNIT_ORIGIN = "\x00sweep-unit\x00"

# Planning sniffs this many bytes, exactly what read_tree looks at.
_HEAD_BYTES = 4096


class SweepError(Exception):
    """The sweep cannot start at all (no Dask installed, scheduler unreachable, bad options)."""


# --------------------------------------------------------------------------- planning
@dataclass(frozen=True)
class RunUnit:
    """One unit of work: files that become one run (sometimes a few) when read together.

    ``kind`` is ``tree`` (``entries`` are ``(path relative to the logdir, location)`` pairs read
    with :func:`~analyzers.ingest.read_tree`, so runs are named exactly as in a serial read) or
    ``path`` (``location`` is a single file, zip or URL read with
    :func:`~analyzers.ingest.read_path`). A location is a local path or an fsspec URL.
    """

    index: int
    input_index: int
    kind: str
    display: str
    location: str = ""
    root_name: str = ""
    entries: tuple[tuple[str, str], ...] = ()


@dataclass
class SweepPlan:
    """The inputs, their run units in serial read order, and errors found while listing them."""

    inputs: list[str]
    units: list[RunUnit] = field(default_factory=list)
    errors: dict[int, list[ReadError]] = field(default_factory=dict)  # per input index
    empty_messages: dict[int, ReadError] = field(default_factory=dict)  # what read_tree says of an empty logdir


def plan_sweep(inputs: Iterable[str | os.PathLike[str]]) -> SweepPlan:
    """List the run units of every input (files, logdirs, zips, URLs) without reading them."""
    plan = SweepPlan(inputs=[os.fspath(p) for p in inputs])
    for input_index, path in enumerate(plan.inputs):
        errors: list[ReadError] = []
        if "://" in path:
            from .ingest import remote

            try:
                listing = remote.list_tree(path)
            except remote.RemoteError as exc:
                plan.errors[input_index] = [ReadError(path, str(exc))]
                continue
            if listing is None:  # a single remote file
                plan.units.append(RunUnit(len(plan.units), input_index, "path", path, location=path))
                continue
            root_name, files = listing
            groups, errors = _group_tree(files, remote.read_head, lambda f: remote.join_url(path, f))
            plan.empty_messages[input_index] = read_tree([], root_name, origin=path).errors[0]
        elif not os.path.exists(path):
            plan.errors[input_index] = [ReadError(path, "no such file or directory")]
            continue
        elif os.path.isdir(path):
            root_name = os.path.basename(os.path.normpath(os.path.abspath(path)))
            groups, errors = _group_tree(_walk(path), _local_head, lambda f: os.path.join(path, f) if f else path)
            plan.empty_messages[input_index] = read_tree([], root_name, origin=path).errors[0]
        else:
            plan.units.append(RunUnit(len(plan.units), input_index, "path", path, location=path))
            continue
        plan.errors[input_index] = errors
        for display, entries in groups:
            plan.units.append(
                RunUnit(len(plan.units), input_index, "tree", display, root_name=root_name, entries=tuple(entries))
            )
    return plan


def _walk(root: str) -> list[tuple[str, str]]:
    # Same walk, order and display paths as analyzers.ingest.read_path.
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fname in sorted(filenames):
            full = os.path.join(dirpath, fname)
            files.append((os.path.relpath(full, root).replace(os.sep, "/"), full))
    return files


def _local_head(location: str) -> bytes:
    with open(location, "rb") as fh:
        return fh.read(_HEAD_BYTES)


def _group_tree(
    files: list[tuple[str, str]], read_head: Callable[[str], bytes], folder_location: Callable[[str], str]
) -> tuple[list[tuple[str, list[tuple[str, str]]]], list[ReadError]]:
    """Split a logdir's files into run units with :func:`analyzers.ingest.plan_tree`, the
    grouping ``read_tree`` itself uses, so a worker reading one unit names and merges its runs
    exactly as a serial read would. ``folder_location`` turns a folder relative to the logdir
    into its path or URL (for messages). Returns ``(display, entries)`` per unit and the files
    whose first bytes could not be read.
    """
    groups, errors = plan_tree(files, read_head, lambda location: location)
    units = []
    for group in groups:
        display = group.entries[0][1] if group.kind == "file" else folder_location(group.rel)
        units.append((display, group.members()))
    return units, errors


# --------------------------------------------------------------------------- analysing one unit
@dataclass(frozen=True)
class SweepOptions:
    """What every worker needs besides its unit (picklable)."""

    metric_map: MetricMap | None = None
    behaviour: tuple[str, ...] = ()
    preview: bool = False
    select: tuple[str, ...] | None = None
    keep_runs: bool = False  # return whole runs (scalars included), for renderers that chart them


@dataclass
class RunOutcome:
    """One run's analysis without its scalars: what the renderers and the overview need."""

    summary: dict[str, Any]
    tags: list[str]
    findings: list[Finding]
    skipped: list[dict[str, str]]
    errors: list[dict[str, str]]
    run: Run | None = None  # only with SweepOptions.keep_runs


@dataclass
class UnitResult:
    """What a worker sends back for one unit."""

    unit: RunUnit
    outcomes: list[RunOutcome] = field(default_factory=list)
    errors: list[ReadError] = field(default_factory=list)
    seconds: float = 0.0


def read_unit(unit: RunUnit) -> LoadResult:
    """Read one unit's files into runs (names and errors as in a serial read of the input)."""
    if unit.kind == "path":
        return read_path(unit.location)
    entries: list[tuple[str, Source]] = []
    fetch_errors: list[ReadError] = []
    for rel, location in unit.entries:
        if "://" in location:
            from .ingest import remote

            try:
                entries.append((rel, Source(display=location, data=remote.fetch(location))))
            except Exception as exc:  # any filesystem backend's error: name the file, go on
                fetch_errors.append(ReadError(location, f"cannot read file: {exc}"))
        else:
            entries.append((rel, Source(display=location, path=location)))
    result = read_tree(entries, unit.root_name, origin=_UNIT_ORIGIN)
    result.errors = fetch_errors + [e for e in result.errors if e.path != _UNIT_ORIGIN]
    return result


def analyze_unit(unit: RunUnit, options: SweepOptions) -> UnitResult:
    """Read, resolve and analyse one unit; the function every executor runs in its workers."""
    started = time.perf_counter()
    loaded = read_unit(unit)
    outcomes = []
    for run in loaded.runs:
        resolve(run, options.metric_map, options.behaviour)
        analysis = analyze(run, preview=options.preview, select=list(options.select) if options.select else None)
        outcomes.append(
            RunOutcome(
                summary=run.summary(),
                tags=run.tags,
                findings=analysis.findings,
                skipped=analysis.skipped,
                errors=analysis.errors,
                run=run if options.keep_runs else None,
            )
        )
    return UnitResult(unit, outcomes, list(loaded.errors), time.perf_counter() - started)


def _failed(unit: RunUnit, message: str) -> UnitResult:
    return UnitResult(unit, errors=[ReadError(unit.display, message)])


def _exception_result(unit: RunUnit, exc: BaseException) -> UnitResult:
    return _failed(unit, f"could not triage this run: {type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------- executors
Task = Callable[[RunUnit, SweepOptions], UnitResult]


def iter_results(
    units: Sequence[RunUnit],
    options: SweepOptions = SweepOptions(),
    *,
    executor: str = "serial",
    workers: int | None = None,
    scheduler: str | None = None,
    task: Task = analyze_unit,
) -> Iterator[UnitResult]:
    """Analyse ``units`` and yield one :class:`UnitResult` per unit as each completes.

    A unit whose task raises (or whose worker dies) yields a result with one error naming the
    unit; the sweep goes on. ``task`` is the per-unit function (``analyze_unit``); it must be
    importable by the workers. Closing the iterator early cancels the units not yet started.
    """
    if executor not in EXECUTORS:
        raise SweepError(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")
    if workers is not None and workers < 1:
        raise SweepError("--workers must be at least 1")
    if executor == "serial" or not units:
        return _iter_serial(units, options, task)
    if executor == "process":
        return _iter_process(units, options, task, workers or min(len(units), os.cpu_count() or 1) or 1)
    return _iter_dask(units, options, task, workers, scheduler)


def _iter_serial(units: Sequence[RunUnit], options: SweepOptions, task: Task) -> Iterator[UnitResult]:
    for unit in units:
        try:
            yield task(unit, options)
        except Exception as exc:
            yield _exception_result(unit, exc)


def _iter_process(units: Sequence[RunUnit], options: SweepOptions, task: Task, workers: int) -> Iterator[UnitResult]:
    queue = list(reversed(units))
    limit = workers * IN_FLIGHT_PER_WORKER
    pool = ProcessPoolExecutor(max_workers=workers)
    pending: dict[Future[UnitResult], RunUnit] = {}
    try:
        while queue or pending:
            while queue and len(pending) < limit:
                unit = queue.pop()
                pending[pool.submit(task, unit, options)] = unit
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            broken = False
            for future in done:
                unit = pending.pop(future)
                try:
                    yield future.result()
                except BrokenProcessPool:
                    broken = True
                    yield _failed(
                        unit,
                        "the worker process died while this run (or another one read at the same time) was "
                        "being triaged; it may have run out of memory",
                    )
                except Exception as exc:
                    yield _exception_result(unit, exc)
            if broken:
                # Every other future of a broken pool fails too: retry those units on a new pool.
                queue.extend(reversed(list(pending.values())))
                pending.clear()
                pool.shutdown(wait=False, cancel_futures=True)
                pool = ProcessPoolExecutor(max_workers=workers)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _dask_client(workers: int | None, scheduler: str | None) -> tuple[Any, Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise SweepError("--executor dask needs the 'distributed' package: pip install 'dask[distributed]'") from exc
    if scheduler:
        try:
            return Client(scheduler, timeout="20s"), None
        except (OSError, TimeoutError, ValueError) as exc:
            raise SweepError(f"cannot connect to the Dask scheduler at {scheduler}: {exc}") from exc
    cluster = LocalCluster(
        n_workers=workers or DEFAULT_DASK_LOCAL_WORKERS,
        threads_per_worker=1,
        processes=True,
        # Any free port for the scheduler's HTTP endpoint: several sweeps may share a machine
        # (None still binds 8787 and warns when it is taken).
        dashboard_address=":0",
        silence_logs=logging.ERROR,  # shutdown chatter is not the user's business
    )
    return Client(cluster), cluster


def _iter_dask(
    units: Sequence[RunUnit], options: SweepOptions, task: Task, workers: int | None, scheduler: str | None
) -> Iterator[UnitResult]:
    from distributed import as_completed

    client, cluster = _dask_client(workers, scheduler)
    try:
        threads = sum(client.nthreads().values()) or 1
        limit = threads * IN_FLIGHT_PER_WORKER
        queue = list(reversed(units))
        pending: dict[str, RunUnit] = {}
        batch = uuid.uuid4().hex[:8]
        completed = as_completed()

        def submit() -> None:
            while queue and len(pending) < limit:
                unit = queue.pop()
                # Unique keys: the same unit analysed twice (another sweep) is new work, not a cache hit.
                future = client.submit(task, unit, options, key=f"triage-{batch}-{unit.index}", pure=False, retries=0)
                pending[future.key] = unit
                completed.add(future)

        submit()
        for future in completed:
            unit = pending.pop(future.key)
            try:
                result = future.result()
            except Exception as exc:  # includes KilledWorker when a worker dies on this unit
                result = _exception_result(unit, exc)
            future.release()
            submit()
            yield result
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# --------------------------------------------------------------------------- assembling
class RunSummary:
    """Stands in for a :class:`~analyzers.model.Run` in a report built from a sweep.

    Carries what the text and JSON renderers read (name, sources, framework, notes, steps,
    points, tags, :meth:`summary`) but no scalars, so a report of a thousand runs stays small.
    """

    def __init__(self, summary: dict[str, Any], tags: list[str]) -> None:
        self._summary = dict(summary)
        self.name: str = summary["run"]
        self.sources: list[str] = list(summary.get("source", []))
        self.framework: str | None = summary.get("framework")
        self.notes: list[str] = list(summary.get("notes", []))
        self.steps: int = summary.get("steps", 0)
        self.points: int = summary.get("points", 0)
        self.tags: list[str] = list(tags)
        self.metric_tags: dict[str, str] = dict(summary.get("metrics", {}))

    def summary(self) -> dict[str, Any]:
        """The JSON contract's run fields, as :meth:`Run.summary` gave them in the worker."""
        out = dict(self._summary)
        out["run"] = self.name
        out["notes"] = list(self.notes)
        return out

    def __repr__(self) -> str:
        return f"RunSummary({self.name!r}, {self.points} points)"


def assemble(plan: SweepPlan, results: Iterable[UnitResult], *, partial: bool = False) -> Report:
    """Put unit results back in the serial read order and build the report.

    ``partial=True`` builds the report of the results so far (a streaming overview): units with
    no result yet are left out instead of being reported as failed.
    """
    by_index = {r.unit.index: r for r in results}
    analyses: list[Analysis] = []
    errors: list[ReadError] = []
    units_of: dict[int, list[RunUnit]] = defaultdict(list)
    for unit in plan.units:
        units_of[unit.input_index].append(unit)
    for input_index in range(len(plan.inputs)):
        input_errors = list(plan.errors.get(input_index, []))
        input_analyses: list[Analysis] = []
        for unit in units_of[input_index]:
            result = by_index.get(unit.index)
            if result is None:
                if partial:
                    continue
                result = _failed(unit, "no result came back for this run")
            input_errors.extend(result.errors)
            for outcome in result.outcomes:
                run: Any = outcome.run if outcome.run is not None else RunSummary(outcome.summary, outcome.tags)
                input_analyses.append(Analysis(run, list(outcome.findings), list(outcome.skipped), list(outcome.errors)))
        if not partial and not input_analyses and not input_errors and input_index in plan.empty_messages:
            input_errors.append(plan.empty_messages[input_index])
        analyses.extend(input_analyses)
        errors.extend(input_errors)
    unique_names([a.run for a in analyses])
    return Report(analyses=analyses, errors=errors)


def run_locations(plan: SweepPlan, results: Iterable[UnitResult]) -> list[tuple[RunUnit, int]]:
    """Where each run of ``assemble(plan, results)`` came from, in the report's order: its unit
    and its position among the runs :func:`read_unit` reads from that unit. Lets a front end
    read one run's scalars again, alone, when a user opens it."""
    by_index = {r.unit.index: r for r in results}
    locations = []
    for unit in sorted(plan.units, key=lambda u: u.input_index):  # stable: assemble's order
        if unit.index in by_index:
            locations.extend((unit, k) for k in range(len(by_index[unit.index].outcomes)))
    return locations


ProgressCallback = Callable[[UnitResult, int, int], None]


def run_sweep(
    plan: SweepPlan,
    options: SweepOptions = SweepOptions(),
    *,
    executor: str = "serial",
    workers: int | None = None,
    scheduler: str | None = None,
    on_result: ProgressCallback | None = None,
    task: Task = analyze_unit,
) -> Report:
    """Analyse every unit of ``plan`` and return the report, calling ``on_result(result, done,
    total)`` once per unit as it completes (for a progress bar or a streaming overview)."""
    results = []
    total = len(plan.units)
    stream = iter_results(plan.units, options, executor=executor, workers=workers, scheduler=scheduler, task=task)
    for done, result in enumerate(stream, start=1):
        results.append(result)
        if on_result is not None:
            on_result(result, done, total)
    return assemble(plan, results)


def triage_sweep(
    inputs: Iterable[str | os.PathLike[str]],
    *,
    executor: str = "process",
    workers: int | None = None,
    scheduler: str | None = None,
    metric_map: MetricMap | None = None,
    behaviour: Sequence[str] = (),
    preview: bool = False,
    select: Iterable[str] | None = None,
    keep_runs: bool = False,
    on_result: ProgressCallback | None = None,
) -> Report:
    """:func:`analyzers.api.triage` for many runs: same report, analysed in parallel."""
    options = SweepOptions(
        metric_map=metric_map,
        behaviour=tuple(behaviour),
        preview=preview,
        select=tuple(select) if select else None,
        keep_runs=keep_runs,
    )
    return run_sweep(plan_sweep(inputs), options, executor=executor, workers=workers, scheduler=scheduler, on_result=on_result)


class ProgressBar:
    """A one-line progress bar (``on_result`` callback) redrawn in place on a terminal."""

    WIDTH = 30

    def __init__(self, total: int, stream: TextIO = sys.stderr) -> None:
        self.total = total
        self.stream = stream
        self.started = time.perf_counter()

    def __call__(self, result: UnitResult, done: int, total: int) -> None:
        filled = int(self.WIDTH * done / max(total, 1))
        elapsed = time.perf_counter() - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        line = f"triage [{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{total} runs  {rate:.1f} runs/s"
        self.stream.write("\r" + line.ljust(self.WIDTH + 40))  # padded: a shorter line leaves no residue
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()
