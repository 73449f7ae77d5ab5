"""Self-contained HTML report: opens offline, prints cleanly, and every user string is inert."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from _report_fixtures import HOSTILE_TAG, SCRIPT_TAG, hostile_report

from analyzers.api import Report
from analyzers.report import render
from analyzers.report.html import render_html


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_bodies: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.script_bodies.append(data)


def parse(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    return parser


def test_plotly_js_is_embedded_exactly_once_inline():
    from plotly.offline import get_plotlyjs

    bundle_start = get_plotlyjs()[:300]
    html = render(hostile_report(), "html")
    assert html.count(bundle_start) == 1
    assert html.index(bundle_start) < html.index("</head>")


def test_no_element_loads_anything_from_elsewhere():
    tags = parse(render(hostile_report(), "html")).tags
    assert not [t for t, attrs in tags if "src" in attrs or "href" in attrs]


def test_hostile_strings_create_no_elements():
    tags = parse(render(hostile_report(), "html")).tags
    assert "img" not in {t for t, _ in tags}
    assert not [a for _, a in tags if any(k.startswith("on") for k in a)]


def test_a_tag_named_like_a_closing_script_cannot_end_the_figure_script():
    html = render(hostile_report(), "html")
    scripts = parse(html).script_bodies
    assert not any("alert(2)" in s and "Plotly.newPlot" not in s for s in scripts)
    assert SCRIPT_TAG not in html


def test_user_strings_appear_escaped_in_the_text():
    assert "&lt;img src=x onerror=alert(1)&gt;" in render(hostile_report(), "html")


def test_each_finding_has_one_evidence_chart_with_fixed_width():
    html = render(hostile_report(), "html")
    assert html.count('class="plotly-graph-div"') == 1
    assert re.search(r'id="evidence-1" class="plotly-graph-div" style="width:680px', html)


def test_a_chart_with_stacked_panels_prints_at_the_same_width_and_its_full_height():
    from analyzers.charts import EXTRA_PANEL_HEIGHT, REPORT_FIGURE_HEIGHT

    html = render(hostile_report(), "html")  # KL (0.5-40) and a constant coefficient: two panels
    height = REPORT_FIGURE_HEIGHT + EXTRA_PANEL_HEIGHT
    assert re.search(rf'id="evidence-1" class="plotly-graph-div" style="width:680px;height:{height}px"', html)


def test_report_carries_explanations_metadata_and_mapping():
    html = render(hostile_report(), "html")
    for text in ("Why it matters", "Raise the KL coefficient", "Ziegler et al. 2019", "Metric mapping used",
                 "trl · 400 steps", "objective/kl_coef", "not a CSV file"):
        assert text in html


def test_print_stylesheet_hides_the_modebar_and_keeps_charts_whole():
    html = render(hostile_report(), "html")
    assert "@media print" in html and ".modebar" in html and "break-inside: avoid" in html


def test_report_without_charts_has_no_plotly():
    html = render_html(hostile_report(), charts=False)
    assert "Plotly" not in html and "KL001" in html


def test_empty_report_renders():
    assert "0 run(s)" in render(Report(), "html")


def test_hostile_tag_keeps_its_name_in_the_figure_json_escaped():
    html = render(hostile_report(), "html")
    assert "\\u0026lt;img src=x onerror=alert(1)\\u0026gt;" in html
    assert HOSTILE_TAG not in html


def test_the_cli_writes_the_same_html_report(tmp_path):
    from analyzers.cli import main

    log = tmp_path / "run.csv"
    log.write_text("step,objective/kl\n" + "".join(f"{s},{0.5 if s < 300 else 0.5 + (s - 300) * 0.4}\n" for s in range(400)))
    out = tmp_path / "report.html"
    main(["triage", str(log), "--format", "html", "-o", str(out)])
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and "KL001" in html and 'class="plotly-graph-div"' in html
