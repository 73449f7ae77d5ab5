"""Self-contained HTML report: opens offline, prints to clean PDF pages, safe to share.

plotly.js is embedded once, inline, in the page head; each evidence chart is a ``<div>`` plus a
``Plotly.newPlot`` call with its figure as JSON. No ``src=`` or ``href=`` points anywhere, so the
file works with no network. Every string from a user's files is escaped: ``html.escape`` in the
markup, ``<``/``>``/``&`` as ``\\u003c``-style escapes inside the figure JSON (so a tag named
``</script>`` cannot end the script), and the chart builder escapes plotly's own HTML-ish text.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
from typing import Any

from ..api import Report
from ..findings import Finding
from ..rules import Analysis
from .overview import overview_rows, ranked, severity_counts, timing

SEVERITY_LABEL = {"critical": "CRITICAL", "warning": "WARNING", "info": "info"}

# Chart widths are fixed so a printed page never clips a chart (A4 minus 12 mm margins is ~703 px).
_STYLE = """
:root { --crit:#c62828; --warn:#e65100; --info:#1565c0; --muted:#555; }
* { box-sizing: border-box; }
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color:#1b1b1b;
       max-width: 980px; margin: 24px auto; padding: 0 16px; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 4px; margin-top: 1.6em; }
h3 { margin: 0 0 6px 0; font-size: 1.08em; }
.muted { color: var(--muted); } .meta { font-size: 0.92em; }
table { border-collapse: collapse; margin: 8px 0 16px 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f5f5f5; } td.num { text-align: right; }
.badge { display: inline-block; white-space: nowrap; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 0.78em; font-weight: 600; }
.badge.critical { background: var(--crit); } .badge.warning { background: var(--warn); } .badge.info { background: var(--info); }
.badge.none { background: #2e7d32; }
article.finding { border: 1px solid #ddd; border-left: 6px solid var(--info); border-radius: 6px; padding: 12px 14px; margin: 14px 0; }
article.finding.critical { border-left-color: var(--crit); } article.finding.warning { border-left-color: var(--warn); }
.chart { width: 680px; max-width: 100%; margin: 8px 0; }
details { margin-top: 8px; } summary { cursor: pointer; font-weight: 600; }
.errors li { color: var(--crit); }
@page { size: A4; margin: 12mm; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 11pt; }
  table { width: 100%; } td, th { overflow-wrap: anywhere; }
  .modebar-container, .modebar { display: none !important; }
  .chart, .plotly-graph-div, tr, h3 { break-inside: avoid; page-break-inside: avoid; }
  th { white-space: nowrap; }
  h2 { break-after: avoid; page-break-after: avoid; }
  details > summary { list-style: none; }
}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _script_json(obj: Any) -> str:
    """JSON safe to place inside a ``<script>`` element: no ``<``, ``>`` or ``&`` survives."""
    text = obj if isinstance(obj, str) else json.dumps(obj)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    # A literal "</script" inside the bundle would end the element early; split it defensively.
    return get_plotlyjs().replace("</script", "<\\/script")


class _Charts:
    """Numbers the chart divs of one report and renders each figure as div + newPlot call."""

    def __init__(self) -> None:
        self.count = 0

    def figure(self, fig: Any) -> str:
        import plotly.io as pio

        self.count += 1
        div_id = f"evidence-{self.count}"
        spec = json.loads(pio.to_json(fig, validate=False))
        layout = spec.get("layout", {})
        width, height = layout.get("width") or 700, layout.get("height") or 340
        config = {"displayModeBar": False, "responsive": False, "staticPlot": False}
        return (
            f'<div class="chart"><div id="{div_id}" class="plotly-graph-div" style="width:{int(width)}px;height:{int(height)}px"></div>'
            f'<script>Plotly.newPlot("{div_id}", {_script_json(spec.get("data", []))}, {_script_json(layout)}, {_script_json(config)});</script></div>'
        )


def _finding(a: Analysis, f: Finding, charts: _Charts | None) -> str:
    when = " · ".join(timing(f, "<b>{:,}</b>"))
    parts = [
        f'<article class="finding {_e(f.severity)}">',
        f'<h3><span class="badge {_e(f.severity)}">{SEVERITY_LABEL[f.severity]}</span> {_e(f.code)} {_e(f.title)}</h3>',
        f"<p>{_e(f.summary)}</p>",
        f'<p class="meta muted">{when} · confidence {f.confidence:.2f}'
        + (f" · metrics: {_e(', '.join(f.metrics))}" if f.metrics else "") + "</p>",
    ]
    if charts is not None:
        from ..charts import REPORT_FIGURE_HEIGHT, REPORT_FIGURE_WIDTH, evidence_figure

        fig = evidence_figure(a.run, f, smoothing=0.0, width=REPORT_FIGURE_WIDTH, height=REPORT_FIGURE_HEIGHT)
        if fig is not None:
            parts.append(charts.figure(fig))
    if f.explanation or f.actions or f.references:
        parts.append("<details open><summary>Why it matters · what to try · references</summary>")
        if f.explanation:
            parts.append(f"<p>{_e(f.explanation)}</p>")
        if f.actions:
            parts.append("<p><b>What to try</b></p><ul>" + "".join(f"<li>{_e(x)}</li>" for x in f.actions) + "</ul>")
        if f.references:
            # Plain text on purpose: the report makes no links, so nothing leaves the machine.
            parts.append("<p><b>References</b></p><ul>" + "".join(f"<li>{_e(x)}</li>" for x in f.references) + "</ul>")
        parts.append("</details>")
    parts.append("</article>")
    return "\n".join(parts)


def _run(a: Analysis, charts: _Charts | None) -> str:
    run = a.run
    c = severity_counts(a.findings)
    out = [
        f'<section class="run"><h2>{_e(run.name)}</h2>',
        f'<p class="meta">{_e(run.framework or "unknown framework")} · {run.steps:,} steps · {len(run.tags):,} tags · '
        f'{run.points:,} points · {c["critical"]} critical, {c["warning"]} warning, {c["info"]} info</p>',
    ]
    if run.sources:
        shown = "".join(f"<li>{_e(s)}</li>" for s in run.sources[:10])
        more = f"<li>… and {len(run.sources) - 10} more</li>" if len(run.sources) > 10 else ""
        out.append(f'<details><summary>Sources ({len(run.sources)})</summary><ul class="meta">{shown}{more}</ul></details>')
    for note in run.notes:
        out.append(f'<p class="meta muted">Note: {_e(note)}</p>')
    if a.findings:
        out.extend(_finding(a, f, charts) for f in a.findings)
    else:
        out.append("<p>No findings.</p>")
    out.append(_mapping(a))
    if a.skipped:
        rows = "".join(f"<tr><td>{_e(s['rule'])}</td><td>{_e(s['reason'])}</td></tr>" for s in a.skipped)
        out.append(f"<details><summary>Rules skipped ({len(a.skipped)})</summary><table><tr><th>Rule</th><th>Why</th></tr>{rows}</table></details>")
    out.append("</section>")
    return "\n".join(out)


def _mapping(a: Analysis) -> str:
    run = a.run
    if not run.metrics and not run.behaviour:
        return '<p class="meta muted">No canonical metric was resolved for this run.</p>'
    rows = []
    for concept, b in sorted(run.metrics.items()):
        rows.append(f"<tr><td>{_e(concept)}</td><td>{_e(b.tag)}</td><td>{_e(b.transform)}</td><td>{_e(b.unit or '')}</td><td>{_e(b.source)}</td></tr>")
    for b in run.behaviour:
        rows.append(f"<tr><td>behaviour</td><td>{_e(b.tag)}</td><td>{_e(b.transform)}</td><td>{_e(b.unit or '')}</td><td>{_e(b.source)}</td></tr>")
    return ("<details open><summary>Metric mapping used</summary><table><tr><th>Concept</th><th>Tag</th><th>Transform</th>"
            "<th>Unit</th><th>Source</th></tr>" + "".join(rows) + "</table></details>")


def _overview(report: Report) -> str:
    rows = []
    for row in overview_rows(report.analyses):
        rows.append(
            f'<tr><td>{_e(row["run"])}</td><td><span class="badge {row["worst"]}">{_e(row["worst"])}</span></td>'
            f'<td>{_e(row["framework"])}</td><td class="num">{row["steps"]:,}</td><td class="num">{row["critical"]}</td>'
            f'<td class="num">{row["warning"]}</td><td class="num">{row["info"]}</td><td>{_e(row["headline"])}</td></tr>'
        )
    return ("<table><tr><th>Run</th><th>Worst</th><th>Framework</th><th>Steps</th><th>Critical</th><th>Warning</th>"
            "<th>Info</th><th>Headline</th></tr>" + "".join(rows) + "</table>")


def render_html(report: Report, *, charts: bool = True, title: str = "rlhf-triage report") -> str:
    """The whole report as one self-contained HTML page (plotly.js inline once when charts are on)."""
    chart_maker = _Charts() if charts else None
    errors = report.all_errors()
    counts = severity_counts(report.findings)
    generated = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = [
        f"<header><h1>{_e(title)}</h1>",
        f'<p class="meta">{len(report.analyses)} run(s): {counts["critical"]} critical, {counts["warning"]} warning, '
        f'{counts["info"]} info; {len(errors)} error(s) · generated {generated}</p></header>',
    ]
    if report.analyses:
        body.append(_overview(report))
    body.extend(_run(a, chart_maker) for a in ranked(report.analyses))
    if errors:
        body.append('<section><h2>Errors</h2><ul class="errors">'
                    + "".join(f"<li><b>{_e(e['path'])}</b>: {_e(e['message'])}</li>" for e in errors) + "</ul></section>")
    body.append('<footer class="meta muted"><p>Generated by rlhf-triage (<code>python -m analyzers triage</code>).</p></footer>')
    head_script = ""
    if chart_maker is not None and chart_maker.count:
        head_script = f'<script type="text/javascript">{_plotly_js()}</script>'
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style>{head_script}</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
