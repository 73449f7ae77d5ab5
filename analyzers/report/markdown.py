"""Markdown report: for a GitHub issue, a pull request or a chat message.

Every string that can come from a user's files (run names, tags, file names, notes, and the
finding texts that quote them) goes through :func:`escape_markdown`, so a tag named
``<img src=x onerror=alert(1)>`` or ``**bold**|pipe`` shows as typed and cannot break a table.
"""

from __future__ import annotations

import re

from ..api import Report
from ..findings import Finding
from ..rules import Analysis
from .overview import overview_rows, ranked, severity_counts, timing

SEVERITY_LABEL = {"critical": "CRITICAL", "warning": "WARNING", "info": "info"}
SEVERITY_ICON = {"critical": "🔴", "warning": "🟠", "info": "🔵"}

# CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that start
# markup in CommonMark, GFM tables/strikethrough, or Streamlit's markdown ($ LaTeX, :colour[]).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$:^=])")


def escape_markdown(text: object, *, inline: bool = True) -> str:
    """``text`` as literal Markdown: HTML-escaped, markup characters backslash-escaped.

    With ``inline`` (the default) newlines become spaces, so the result is safe in a table cell
    or a heading.
    """
    s = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _MARKDOWN_SPECIAL.sub(r"\\\1", s)
    if inline:
        s = " ".join(s.split())
    return s


def rule_text(text: str) -> str:
    """Text from a rule's own doc block (explanation, actions, references): our Markdown, so
    code spans like `kl_coef` render; still HTML-escaped, since it is shown next to user data."""
    return " ".join(str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").split())


def _finding(f: Finding) -> list[str]:
    lines = [
        f"### {SEVERITY_ICON[f.severity]} {SEVERITY_LABEL[f.severity]} · {escape_markdown(f.code)} {escape_markdown(f.title)}",
        "",
        escape_markdown(f.summary),
        "",
        f"*{escape_markdown(', '.join(timing(f)))} · confidence {f.confidence:.2f}*",
        "",
    ]
    if f.explanation:
        lines += [f"**Why it matters.** {rule_text(f.explanation)}", ""]
    if f.actions:
        lines += ["**What to try:**", ""] + [f"- {rule_text(a)}" for a in f.actions] + [""]
    if f.references:
        lines += ["**References:**", ""] + [f"- {rule_text(r)}" for r in f.references] + [""]
    return lines


def _run(a: Analysis) -> list[str]:
    run = a.run
    lines = [
        f"## {escape_markdown(run.name)}",
        "",
        f"{escape_markdown(run.framework or 'unknown framework')} · {run.steps:,} steps · "
        f"{len(run.tags):,} tags · {run.points:,} points",
        "",
    ]
    if run.sources:
        lines += ["Sources: " + ", ".join(escape_markdown(s) for s in run.sources[:5])
                  + (f" and {len(run.sources) - 5} more" if len(run.sources) > 5 else ""), ""]
    for note in run.notes:
        lines += [f"> Note: {escape_markdown(note)}", ""]
    if a.findings:
        for f in a.findings:
            lines += _finding(f)
    else:
        lines += ["No findings.", ""]
    if run.metrics:
        lines += ["<details><summary>Metric mapping used</summary>", "",
                  "| Concept | Tag | Transform | Source |", "|---|---|---|---|"]
        for concept, b in sorted(run.metrics.items()):
            lines.append(f"| {escape_markdown(concept)} | {escape_markdown(b.tag)} | {escape_markdown(b.transform)} | {escape_markdown(b.source)} |")
        lines += ["", "</details>", ""]
    if a.skipped:
        lines += [f"*{len(a.skipped)} rule(s) skipped for missing metrics: "
                  + ", ".join(escape_markdown(s["rule"]) for s in a.skipped) + "*", ""]
    return lines


def render_markdown(report: Report) -> str:
    """The whole report as GitHub-flavoured Markdown."""
    errors = report.all_errors()
    counts = severity_counts(report.findings)
    out = [
        "# rlhf-triage report",
        "",
        f"{len(report.analyses)} run(s): {counts['critical']} critical, {counts['warning']} warning, "
        f"{counts['info']} info; {len(errors)} error(s)",
        "",
    ]
    if report.analyses:
        out += ["| Run | Worst | Framework | Steps | Critical | Warning | Info | Headline |",
                "|---|---|---|---:|---:|---:|---:|---|"]
        for row in overview_rows(report.analyses):
            out.append(
                f"| {escape_markdown(row['run'])} | {row['worst']} | {escape_markdown(row['framework'])} | {row['steps']:,} | "
                f"{row['critical']} | {row['warning']} | {row['info']} | {escape_markdown(row['headline'])} |"
            )
        out.append("")
    for a in ranked(report.analyses):
        out += _run(a)
    if errors:
        out += ["## Errors", ""] + [f"- {escape_markdown(e['path'])}: {escape_markdown(e['message'])}" for e in errors] + [""]
    return "\n".join(out).rstrip() + "\n"
