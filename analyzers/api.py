"""The public entry points the CLI and the dashboard share: read, resolve, analyse, report."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from .findings import SEVERITY_RANK, Finding, worst_severity
from .ingest import read_bytes, read_path
from .metrics import MetricMap, resolve
from .model import LoadResult, ReadError, Run
from .rules import Analysis, analyze


def unique_names(runs: list[Run]) -> None:
    """Number repeated run names in place ("run", "run (2)", ...), in read order."""
    seen: dict[str, int] = {}
    for run in runs:
        base = run.name
        if base in seen:
            seen[base] += 1
            run.name = f"{base} ({seen[base]})"
        else:
            seen[base] = 1


def _finish(result: LoadResult, metric_map: MetricMap | None, behaviour: Sequence[str]) -> LoadResult:
    unique_names(result.runs)
    for run in result.runs:
        resolve(run, metric_map, behaviour)
    return result


def load(
    inputs: Iterable[str | os.PathLike[str]],
    *,
    metric_map: MetricMap | None = None,
    behaviour: Sequence[str] = (),
) -> LoadResult:
    """Read files, logdirs and zips, and resolve each run's canonical metrics."""
    result = LoadResult()
    for path in inputs:
        result.extend(read_path(path))
    return _finish(result, metric_map, behaviour)


def load_uploads(
    files: Iterable[tuple[str, bytes]],
    *,
    metric_map: MetricMap | None = None,
    behaviour: Sequence[str] = (),
) -> LoadResult:
    """Read uploaded files given as (file name, bytes) pairs."""
    result = LoadResult()
    for name, data in files:
        result.extend(read_bytes(data, name))
    return _finish(result, metric_map, behaviour)


@dataclass
class Report:
    """Findings for every run read, plus an error entry for everything that could not be."""

    analyses: list[Analysis] = field(default_factory=list)
    errors: list[ReadError] = field(default_factory=list)

    @property
    def runs(self) -> list[Run]:
        return [a.run for a in self.analyses]

    @property
    def findings(self) -> list[Finding]:
        return [f for a in self.analyses for f in a.findings]

    def worst(self) -> str | None:
        return worst_severity(self.findings)

    def reaches(self, level: str) -> bool:
        worst = self.worst()
        return worst is not None and SEVERITY_RANK[worst] >= SEVERITY_RANK[level]

    def all_errors(self) -> list[dict[str, str]]:
        """Read errors, then rule errors (a rule that raised), in the JSON contract's shape."""
        out = [e.to_dict() for e in self.errors]
        for a in self.analyses:
            where = a.run.sources[0] if a.run.sources else a.run.name
            for err in a.errors:
                out.append({"path": where, "message": f"rule {err['rule']} failed on run '{a.run.name}': {err['message']}"})
        return out

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON contract of ``python -m analyzers triage --format json``."""
        runs = []
        for a in self.analyses:
            entry = a.run.summary()
            entry["findings"] = [f.to_dict() for f in a.findings]
            entry["skipped_rules"] = list(a.skipped)
            runs.append(entry)
        return {"runs": runs, "errors": self.all_errors()}


def analyze_runs(
    result: LoadResult, *, preview: bool = False, select: Iterable[str] | None = None
) -> Report:
    """Run the rules on every run of ``result``."""
    select = list(select) if select else None
    return Report(
        analyses=[analyze(run, preview=preview, select=select) for run in result.runs],
        errors=list(result.errors),
    )


def triage(
    inputs: Iterable[str | os.PathLike[str]],
    *,
    metric_map: MetricMap | None = None,
    behaviour: Sequence[str] = (),
    preview: bool = False,
    select: Iterable[str] | None = None,
) -> Report:
    """Read, resolve and analyse: what ``python -m analyzers triage`` does."""
    return analyze_runs(load(inputs, metric_map=metric_map, behaviour=behaviour), preview=preview, select=select)
