"""Terminal output: what a person reads after `python -m analyzers triage`."""

from __future__ import annotations

import textwrap

from ..api import Report
from ..findings import Finding

_MARK = {"critical": "CRITICAL", "warning": "WARNING", "info": "info"}


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(text, width=100, initial_indent=indent, subsequent_indent=indent)


def _finding(f: Finding, verbose: bool) -> list[str]:
    when = f"step {f.onset_step:,}" if f.onset_step is not None else "step ?"
    if f.end_step is not None and f.end_step != f.onset_step:
        when += f"-{f.end_step:,}"
    elif f.end_step is None and f.onset_step is not None:
        when += " (ongoing)"
    lines = [f"  [{_MARK[f.severity]}] {f.code} {f.title}  ({when}, confidence {f.confidence:.2f})"]
    lines.append(_wrap(f.summary, "      "))
    if verbose:
        if f.explanation:
            lines.append(_wrap("Why: " + f.explanation, "      "))
        for action in f.actions:
            lines.append(_wrap("- " + action, "      "))
    return lines


def render_text(report: Report, verbose: bool = True) -> str:
    out: list[str] = []
    for a in report.analyses:
        run = a.run
        fw = run.framework or "unknown framework"
        out.append(f"== {run.name}  ({fw}; {run.steps:,} steps, {len(run.tags)} tags, {run.points:,} points)")
        for src in run.sources[:3]:
            out.append(f"   source: {src}")
        if len(run.sources) > 3:
            out.append(f"   ... and {len(run.sources) - 3} more source files")
        for note in run.notes:
            out.append(_wrap("note: " + note, "   "))
        if a.findings:
            for f in a.findings:
                out.extend(_finding(f, verbose))
        else:
            out.append("  no findings")
        if a.skipped:
            out.append(f"  ({len(a.skipped)} rules skipped for missing metrics: " + ", ".join(s["rule"] for s in a.skipped) + ")")
        out.append("")
    errors = report.all_errors()
    if errors:
        out.append("Errors:")
        for e in errors:
            out.append(_wrap(f"{e['path']}: {e['message']}", "  "))
        out.append("")
    counts = {s: sum(1 for f in report.findings if f.severity == s) for s in ("critical", "warning", "info")}
    out.append(
        f"{len(report.analyses)} run(s): {counts['critical']} critical, {counts['warning']} warning, "
        f"{counts['info']} info; {len(errors)} error(s)"
    )
    return "\n".join(out) + "\n"
