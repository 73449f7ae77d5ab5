"""Every dashboard page renders the sample runs' findings (Streamlit AppTest, no browser)."""

from __future__ import annotations

import base64
import json

import numpy as np
from _dashboard_fixtures import app, goto, page_text, sample_finding, samples  # noqa: F401 (fixtures)


def plotly_specs(at):
    return [json.loads(e.proto.spec) for e in at.get("plotly_chart")]


def decoded(values):
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), values["dtype"])
    return np.asarray(values)


def overview_frame(at):
    return next(d for d in at.dataframe if "headline" in d.value.columns).value


def test_start_page_opens_on_the_sample_runs_with_findings(app):
    text = page_text(app)
    assert "the bundled sample runs" in text and "1 critical" in text
    assert list(overview_frame(app)["run"]) == ["broken", "healthy"]


def test_start_page_states_the_upload_limit(app):
    assert "Upload limit: 1 GB" in page_text(app)
    assert app.get("file_uploader")[0].proto.max_upload_size_mb == 1024


def test_overview_ranks_runs_worst_first_with_counts_and_headline(app):
    goto(app, "Triage overview")
    row = overview_frame(app).iloc[0]
    assert (row["run"], row["worst"], row["critical"]) == ("broken", "critical", 1)
    assert row["framework"] != "" and row["steps"] == 500
    assert row["headline"].startswith("KL001")


def test_overview_button_opens_the_run_view_of_the_chosen_run(app):
    goto(app, "Triage overview")
    app.selectbox(key="overview_pick").select("healthy")
    app.button(key="overview_open").click().run()
    assert app.sidebar.radio(key="page").value == "Run view"
    assert app.selectbox(key="run_name").value == "healthy"


def test_run_view_shows_a_card_with_symptom_onset_and_confidence(app, samples):
    onset = sample_finding(samples, "broken", "KL001").onset_step  # the KL runs away from about step 300
    goto(app, "Run view")
    text = page_text(app)
    assert "KL001 · KL to the reference model runs away" in text
    assert f"Onset step **{onset:,}**" in text and "confidence **" in text
    assert any(e.label.startswith("Why it matters") for e in app.expander)


def test_run_view_evidence_chart_shades_the_window_and_marks_onset(app, samples):
    onset = sample_finding(samples, "broken", "KL001").onset_step
    goto(app, "Run view")
    spec = plotly_specs(app)[0]
    shapes = spec["layout"]["shapes"]
    assert any(s["type"] == "rect" and s["x0"] == onset for s in shapes)
    assert any(s["type"] == "line" and s["x0"] == onset for s in shapes)
    names = [t["name"] for t in spec["data"]]
    assert "objective/kl" in names and "objective/kl_coef" in names


def test_run_view_smoothing_keeps_the_raw_series(app):
    goto(app, "Run view")
    app.slider(key="run_smoothing").set_value(0.9).run()
    names = [t["name"] for t in plotly_specs(app)[0]["data"]]
    assert "objective/kl (raw)" in names and "objective/kl" in names


def test_run_view_of_a_healthy_run_says_so(app):
    goto(app, "Run view")
    app.selectbox(key="run_name").select("healthy").run()
    assert app.success and "No findings" in app.success[0].value


def test_explorer_filters_tags_by_regex_and_overlays_runs(app):
    goto(app, "Metrics explorer")
    app.multiselect(key="explorer_runs").set_value(["broken", "healthy"]).run()
    app.text_input(key="explorer_regex").input("kl$").run()
    assert app.multiselect(key="explorer_tags").options == ["objective/kl"]
    spec = plotly_specs(app)[0]
    assert {t["name"] for t in spec["data"]} >= {"broken", "healthy"}


def test_explorer_log_scale_and_time_axis(app):
    goto(app, "Metrics explorer")
    app.checkbox(key="explorer_log").check().run()
    assert plotly_specs(app)[0]["layout"]["yaxis"]["type"] == "log"
    app.radio(key="explorer_x").set_value("relative").run()
    assert not app.exception


def test_explorer_invalid_regex_is_a_warning_not_a_crash(app):
    goto(app, "Metrics explorer")
    app.text_input(key="explorer_regex").input("kl[").run()
    assert not app.exception and "not a valid regular expression" in app.warning[0].value


def test_mapping_page_shows_what_each_concept_resolved_to(app):
    goto(app, "Metric mapping")
    table = next(d for d in app.dataframe if "concept" in d.value.columns).value
    kl = table[table["concept"] == "kl.ref"].iloc[0]
    assert kl["tag"] == "objective/kl"


def test_compare_lists_findings_present_in_one_run_only(app):
    goto(app, "Compare")
    table = next(d for d in app.dataframe if "in" in d.value.columns).value
    assert list(table["in"]) == ["only A"] and table.iloc[0]["finding"].startswith("KL001")
    assert len(plotly_specs(app)) >= 2  # reward and KL overlaid


def test_every_page_offers_the_report_downloads(app):
    for page in ("Start", "Run view", "Compare"):
        goto(app, page)
        labels = [b.label for b in app.get("download_button")]
        assert {"Download HTML report", "Download Markdown", "Download JSON"} <= set(labels)
