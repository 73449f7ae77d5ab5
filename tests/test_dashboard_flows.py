"""Dashboard flows: upload, server path, mapping edits, sharing, errors, escaping (AppTest)."""

from __future__ import annotations

import tomllib

import numpy as np
from _dashboard_fixtures import HOSTILE, PIPE, APP, app, goto, page_text, samples, trl_csv  # noqa: F401
from streamlit.testing.v1 import AppTest

from analyzers import share
from analyzers.metrics import MetricMap


def overview_frame(at):
    return next(d for d in at.dataframe if "headline" in d.value.columns).value


def upload(at: AppTest, *files: tuple[str, bytes]) -> AppTest:
    uploader = at.file_uploader[0]
    for name, data in files:
        uploader.upload(name, data)
    at.run()
    assert not at.exception, at.exception
    return at


# ----------------------------------------------------------------------------- uploads
def test_uploading_a_broken_run_shows_its_critical_finding(app):
    upload(app, ("my_run.csv", trl_csv(True)))
    frame = overview_frame(app)
    assert list(frame["run"]) == ["my_run"] and frame.iloc[0]["worst"] == "critical"
    assert "uploaded file my\\_run\\.csv" in page_text(app)


def test_several_files_upload_at_once(app):
    upload(app, ("a.csv", trl_csv(True)), ("b.csv", trl_csv(False)))
    assert sorted(overview_frame(app)["run"]) == ["a", "b"]


def test_an_unreadable_upload_is_a_message_naming_the_file(app):
    upload(app, ("good.csv", trl_csv(True)), ("garbage.csv", b"\x00\x01\x02 not a log"))
    assert not app.exception
    assert any("garbage" in e.value for e in app.error)
    assert list(overview_frame(app)["run"]) == ["good"]


def test_back_to_samples_after_an_upload(app):
    upload(app, ("my_run.csv", trl_csv(True)))
    app.button(key="use_samples").click().run()
    assert list(overview_frame(app)["run"]) == ["broken", "healthy"]


# ----------------------------------------------------------------------------- server path
def test_server_path_under_the_root_loads_that_run(app):
    app.text_input(key="server_path").input("samples/broken.csv")
    app.button(key="load_path").click().run()
    assert list(overview_frame(app)["run"]) == ["broken"]


def test_server_path_outside_the_root_is_refused(app, tmp_path):
    app.text_input(key="server_path").input(str(tmp_path / "outside.csv"))
    app.button(key="load_path").click().run()
    assert any("only paths under" in e.value for e in app.error)
    assert list(overview_frame(app)["run"]) == ["broken", "healthy"]


def test_server_path_with_dotdot_is_refused(app):
    app.text_input(key="server_path").input("../outside.csv")
    app.button(key="load_path").click().run()
    assert any("is not allowed" in e.value for e in app.error)


# ----------------------------------------------------------------------------- metric mapping
def test_editing_the_mapping_reanalyses_live(app):
    goto(app, "Metric mapping")
    app.selectbox(key="mapping_concept").select("kl.ref")
    app.selectbox(key="mapping_tag").select("env/reward_mean")
    app.button(key="mapping_apply").click().run()
    goto(app, "Triage overview")
    assert overview_frame(app)["critical"].sum() == 0  # reward (0 -> 1) is no KL blow-up
    goto(app, "Metric mapping")
    table = next(d for d in app.dataframe if "concept" in d.value.columns).value
    assert table[table["concept"] == "kl.ref"].iloc[0]["tag"] == "env/reward_mean"
    app.button(key="mapping_reset").click().run()
    goto(app, "Triage overview")
    assert overview_frame(app)["critical"].sum() == 1


def test_mapping_download_is_offered(app):
    goto(app, "Metric mapping")
    assert "Download metric map (TOML)" in [b.label for b in app.get("download_button")]


def test_downloaded_mapping_is_what_the_cli_reads(samples):
    from dashboard.mapping_file import metric_map_toml

    import analyzers

    report = analyzers.triage([samples / "broken.csv"])
    text = metric_map_toml(report, {"kl.ref": "env/reward_mean"}, ["objective/entropy"])
    tomllib.loads(text)
    parsed = MetricMap.from_toml(text)
    assert parsed.concepts["kl.ref"] == "env/reward_mean"
    assert parsed.concepts["kl.coef"] == "objective/kl_coef"
    assert "objective/entropy" in parsed.behaviour


# ----------------------------------------------------------------------------- sharing
def test_create_shareable_link_stores_the_report_and_sets_the_url(app):
    app.sidebar.button(key="share_link").click().run()
    report_id = app.query_params["report"]
    report_id = report_id[0] if isinstance(report_id, list) else report_id
    stored = share.load(report_id)
    assert stored is not None and "KL001" in stored.html and '"code": "KL001"' in stored.json
    assert any(report_id in c.value for c in app.sidebar.code)
    assert app.sidebar.radio(key="page").value == "Start"  # the author stays on the dashboard


def test_opening_a_shared_link_shows_the_stored_report_read_only(app):
    app.sidebar.button(key="share_link").click().run()
    report_id = app.query_params["report"]
    report_id = report_id[0] if isinstance(report_id, list) else report_id
    visitor = AppTest.from_file(APP, default_timeout=60)
    visitor.query_params["report"] = report_id
    visitor.run()
    assert not visitor.exception
    findings = visitor.dataframe[0].value
    assert list(findings["finding"]) == ["KL001 KL to the reference model runs away"]
    assert "KL001" in visitor.get("iframe")[0].proto.srcdoc
    assert not visitor.file_uploader and not visitor.sidebar.button


def test_unknown_shared_link_is_a_clear_message(samples):
    visitor = AppTest.from_file(APP, default_timeout=60)
    visitor.query_params["report"] = "A" * 22
    visitor.run()
    assert not visitor.exception and "No stored report has this link" in visitor.error[0].value


# ----------------------------------------------------------------------------- escaping
def test_hostile_run_and_tag_names_render_as_text(app):
    hostile_csv = trl_csv(True, extra={HOSTILE: np.ones(500), PIPE: np.zeros(500)})
    upload(app, (f"{HOSTILE}.csv", hostile_csv))
    for page in ("Start", "Triage overview", "Run view", "Metrics explorer", "Metric mapping"):
        goto(app, page)
        text = page_text(app)
        assert "<img" not in text and "**bold**" not in text
    goto(app, "Metrics explorer")
    app.text_input(key="explorer_regex").input("bold|img").run()
    specs = [e.proto.spec for e in app.get("plotly_chart")]
    assert specs and not any("<img" in s for s in specs)


def test_a_reader_that_crashes_becomes_a_message_naming_the_file(app, monkeypatch):
    import analyzers

    real = analyzers.load_uploads

    def crashing(files, **kwargs):
        if any(name == "boom.csv" for name, _ in files):
            raise RuntimeError("reader bug")
        return real(files, **kwargs)

    monkeypatch.setattr(analyzers, "load_uploads", crashing)
    upload(app, ("good.csv", trl_csv(True)), ("boom.csv", trl_csv(False)))
    assert any("boom" in e.value and "reader bug" in e.value for e in app.error)
    assert list(overview_frame(app)["run"]) == ["good"]
