"""A server path with many runs is triaged as a sweep: streamed overview, scalars read on demand (AppTest)."""

from __future__ import annotations

import json

from _dashboard_fixtures import (  # noqa: F401
    SWEEP_BROKEN, SWEEP_RUNS, app, goto, page_text, samples, sweep_logdir,
)

from analyzers.sweep import RunSummary
from dashboard import workspace


def overview_frame(at):
    return next(d for d in at.dataframe if "headline" in d.value.columns).value


def open_sweep(at):
    at.text_input(key="server_path").input("sweep")
    at.button(key="load_path").click().run()
    assert not at.exception, at.exception
    return at


def test_the_sweep_fixture_is_big_enough_to_be_a_sweep():
    assert SWEEP_RUNS > workspace.SWEEP_MIN_UNITS


def test_the_default_sweep_executor_is_the_process_pool(monkeypatch):
    monkeypatch.delenv(workspace.EXECUTOR_ENV, raising=False)
    assert workspace.sweep_executor() == "process"


def test_an_unknown_executor_setting_falls_back_to_the_process_pool(monkeypatch):
    monkeypatch.setenv(workspace.EXECUTOR_ENV, "gpu-cluster")
    assert workspace.sweep_executor() == "process"


def test_a_server_path_of_many_runs_lists_every_run_ranked_worst_first(app, sweep_logdir):
    frame = overview_frame(open_sweep(app))
    assert len(frame) == SWEEP_RUNS
    assert sorted(frame["run"][: len(SWEEP_BROKEN)]) == list(SWEEP_BROKEN)
    assert set(frame["worst"][: len(SWEEP_BROKEN)]) == {"critical"}
    assert "critical" not in set(frame["worst"][len(SWEEP_BROKEN):])
    assert frame.iloc[0]["headline"].startswith("KL001")


def test_a_sweep_keeps_summaries_not_scalars(app, sweep_logdir):
    open_sweep(app)
    loaded = workspace._shared_cache[next(reversed(workspace._shared_cache))]
    assert loaded.sweep is not None
    assert all(isinstance(a.run, RunSummary) for a in loaded.report.analyses)


def test_the_overview_fills_in_as_results_arrive_and_gives_way_to_the_final_table(app, sweep_logdir, monkeypatch):
    from dashboard import views

    streamed: list[int] = []
    draw = views.overview_table

    def spy(report, key="overview_table"):
        if key != "overview_table":
            streamed.append(len(report.analyses))
        draw(report, key)

    monkeypatch.setattr(views, "overview_table", spy)
    monkeypatch.setattr(workspace, "STREAM_REDRAW_SECONDS", 0.0)
    open_sweep(app)
    assert streamed == list(range(1, SWEEP_RUNS + 1))  # one redraw per run triaged
    assert len([d for d in app.dataframe if "headline" in d.value.columns]) == 1
    assert not app.get("progress")


def test_opening_a_sweep_run_reads_its_scalars_and_shows_its_finding_card_and_chart(app, sweep_logdir):
    open_sweep(app)
    goto(app, "Triage overview")
    app.selectbox(key="overview_pick").select(SWEEP_BROKEN[1])
    app.button(key="overview_open").click().run()
    assert not app.exception, app.exception
    assert app.selectbox(key="run_name").value == SWEEP_BROKEN[1]
    assert "KL001 · KL to the reference model runs away" in page_text(app)
    (chart,) = app.get("plotly_chart")
    spec = json.loads(chart.proto.spec)
    assert any(s["type"] == "rect" for s in spec["layout"]["shapes"])  # the onset window is shaded
    assert "objective/kl" in [t["name"] for t in spec["data"]]


def test_the_explorer_overlays_sweep_runs_read_on_demand(app, sweep_logdir):
    open_sweep(app)
    goto(app, "Metrics explorer")
    assert app.get("plotly_chart"), "no chart drawn for the sweep runs"
    assert "objective/kl" in app.multiselect(key="explorer_tags").value


def test_compare_two_sweep_runs_lists_the_finding_only_one_has(app, sweep_logdir):
    open_sweep(app)
    goto(app, "Compare")
    app.selectbox(key="compare_b").select("run_00").run()
    table = next(d for d in app.dataframe if "in" in d.value.columns).value
    assert list(table["in"]) == ["only A"]
    assert app.get("plotly_chart")


def test_scalars_read_on_demand_are_kept_for_a_few_runs_only(app, sweep_logdir, monkeypatch):
    monkeypatch.setattr(workspace, "SCALAR_CACHE_RUNS", 2)
    open_sweep(app)
    goto(app, "Run view")
    for name in ("run_00", "run_01", "run_02"):
        app.selectbox(key="run_name").select(name).run()
        assert not app.exception
    assert [key[1] for key in app.session_state["_scalar_cache"]] == ["run_01", "run_02"]


def test_a_small_server_path_is_still_read_whole(app, sweep_logdir):
    app.text_input(key="server_path").input("sweep/run_03").run()
    app.button(key="load_path").click().run()
    assert list(overview_frame(app)["run"]) == ["run_03"]
    loaded = workspace._shared_cache[next(reversed(workspace._shared_cache))]
    assert loaded.sweep is None


def test_editing_the_mapping_reanalyses_every_sweep_run(app, sweep_logdir):
    open_sweep(app)
    goto(app, "Metric mapping")
    app.selectbox(key="mapping_concept").select("kl.ref")
    app.selectbox(key="mapping_tag").select("env/reward_mean")
    app.button(key="mapping_apply").click().run()
    goto(app, "Triage overview")
    frame = overview_frame(app)
    assert len(frame) == SWEEP_RUNS and frame["critical"].sum() == 0


def test_the_app_triages_a_sweep_on_its_default_process_pool(app, sweep_logdir, monkeypatch):
    from analyzers import sweep

    used: list[str] = []
    iter_results = sweep.iter_results

    def spy(units, options, *, executor="serial", **kwargs):
        used.append(executor)
        return iter_results(units, options, executor=executor, **kwargs)

    monkeypatch.setattr(sweep, "iter_results", spy)
    monkeypatch.delenv(workspace.EXECUTOR_ENV)
    frame = overview_frame(open_sweep(app))
    assert used == ["process"]
    assert len(frame) == SWEEP_RUNS and sorted(frame["run"][: len(SWEEP_BROKEN)]) == list(SWEEP_BROKEN)


def test_a_shared_sweep_report_has_every_run_and_the_evidence_charts(app, sweep_logdir):
    from analyzers import share

    open_sweep(app)
    app.sidebar.button(key="share_link").click().run()
    assert not app.exception, app.exception
    report_id = app.query_params["report"]
    stored = share.load(report_id[0] if isinstance(report_id, list) else report_id)
    assert all(f"run_{i:02d}" in stored.html for i in range(SWEEP_RUNS))
    assert stored.html.count("KL001") >= len(SWEEP_BROKEN) and "Metric mapping used" in stored.html
    assert stored.json.count('"code": "KL001"') == len(SWEEP_BROKEN)
