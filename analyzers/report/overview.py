"""The triage overview shared by the HTML and Markdown reports and the dashboard: runs ranked
worst first, with severity counts and a headline finding per run."""

from __future__ import annotations

from typing import Any

from ..findings import SEVERITIES, SEVERITY_RANK, Finding
from ..rules import Analysis


def timing(f: Finding, onset: str = "{:,}") -> list[str]:
    """A finding's timing as phrases ("onset step 1,200", "until step 1,450" or "ongoing at
    the end of the log", "peak at step 1,300"); ``onset`` formats the onset step (e.g. bold)."""
    if f.onset_step is None:
        return ["onset unknown"]
    parts = ["onset step " + onset.format(f.onset_step)]
    if f.end_step is None:
        parts.append("ongoing at the end of the log")
    elif f.end_step != f.onset_step:
        parts.append(f"until step {f.end_step:,}")
    if f.peak_step is not None:
        parts.append(f"peak at step {f.peak_step:,}")
    return parts


def severity_counts(findings: list[Finding]) -> dict[str, int]:
    """How many findings of each severity (every severity present as a key)."""
    return {s: sum(1 for f in findings if f.severity == s) for s in SEVERITIES}


def headline(a: Analysis) -> str:
    """The run's most severe finding in a few words (findings are already sorted worst first)."""
    if not a.findings:
        return "no findings"
    f = a.findings[0]
    return f"{f.code} {f.title}" + (f" (from step {f.onset_step:,})" if f.onset_step is not None else "")


def worst(a: Analysis) -> str:
    """The run's worst severity, or ``"none"``."""
    if not a.findings:
        return "none"
    return max((f.severity for f in a.findings), key=SEVERITY_RANK.__getitem__)


def ranked(analyses: list[Analysis]) -> list[Analysis]:
    """Runs ordered worst first: by worst severity, then critical/warning/info counts, then name."""

    def key(a: Analysis) -> tuple[Any, ...]:
        c = severity_counts(a.findings)
        rank = max((SEVERITY_RANK[f.severity] for f in a.findings), default=-1)
        return (-rank, -c["critical"], -c["warning"], -c["info"], a.run.name)

    return sorted(analyses, key=key)


def overview_rows(analyses: list[Analysis]) -> list[dict[str, Any]]:
    """One row per run, ranked worst first: the triage overview table."""
    rows = []
    for a in ranked(analyses):
        c = severity_counts(a.findings)
        rows.append({
            "run": a.run.name,
            "worst": worst(a),
            "framework": a.run.framework or "unknown",
            "steps": a.run.steps,
            "critical": c["critical"],
            "warning": c["warning"],
            "info": c["info"],
            "headline": headline(a),
        })
    return rows
