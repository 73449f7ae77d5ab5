"""Evidence and explorer charts: raw always drawn, spikes never hidden, window shaded, names escaped."""

from __future__ import annotations

import numpy as np
import pytest

from analyzers import charts
from analyzers.findings import Finding
from analyzers.synthetic import make_run

HOSTILE = "<img src=x onerror=alert(1)>"


def kl_run(n: int = 400, name: str = "run-a"):
    kl = np.r_[np.full(n * 3 // 4, 0.5), np.linspace(0.5, 40.0, n - n * 3 // 4)]
    return make_run(
        {"objective/kl": kl, "objective/kl_coef": np.linspace(0.2, 0.4, n), "env/reward_mean": np.linspace(0, 1, n)},
        name=name,
        metrics={"kl.ref": "objective/kl", "kl.coef": "objective/kl_coef", "reward.score": "env/reward_mean"},
        resolve_aliases=False,
    )


def kl_finding(onset: int = 300, end: int | None = None, metrics=("objective/kl",)) -> Finding:
    return Finding(code="KL001", kind="kl_blowup", severity="critical", title="KL blow-up",
                   summary="KL rose", onset_step=onset, end_step=end, metrics=list(metrics))


def tensorboard_ema(values, weight):
    """TensorBoard's scalar smoothing, written as its loop (vz_line_chart resmoothDataset)."""
    last, count, out = 0.0, 0, []
    for v in values:
        if not np.isfinite(v):
            out.append(v)
            continue
        last = last * weight + (1 - weight) * v
        count += 1
        out.append(last / (1 - weight**count))
    return np.array(out)


def test_ema_matches_tensorboards_debiased_smoothing():
    values = np.array([1.0, 5.0, 2.0, np.nan, 8.0, 3.0, 4.0])
    np.testing.assert_allclose(charts.ema(values, 0.6), tensorboard_ema(values, 0.6), equal_nan=True)


def test_ema_with_zero_weight_returns_the_raw_values():
    values = np.array([3.0, 1.0, 2.0])
    np.testing.assert_array_equal(charts.ema(values, 0.0), values)


def test_ema_keeps_non_finite_points_where_they_were():
    out = charts.ema(np.array([1.0, np.inf, 2.0]), 0.5)
    assert np.isinf(out[1]) and np.isfinite(out[[0, 2]]).all()


def test_downsampling_a_million_points_keeps_a_single_spike():
    y = np.zeros(1_000_000)
    y[777_777] = 50.0
    idx = charts.display_indices(np.arange(len(y)), y)
    assert len(idx) <= charts.MAX_DISPLAY_POINTS
    assert 777_777 in idx


def test_short_series_are_drawn_in_full():
    y = np.arange(100.0)
    assert len(charts.display_indices(np.arange(100), y)) == 100


def test_evidence_chart_shades_onset_to_end_and_marks_onset():
    fig = charts.evidence_figure(kl_run(), kl_finding(onset=300, end=350))
    shapes = fig.layout.shapes
    rect = next(s for s in shapes if s.type == "rect")
    assert (rect.x0, rect.x1) == (300, 350)
    assert any(s.type == "line" and s.x0 == 300 for s in shapes)
    assert any("onset 300" in a.text for a in fig.layout.annotations)


def test_ongoing_finding_is_shaded_to_the_last_step():
    fig = charts.evidence_figure(kl_run(n=400), kl_finding(onset=300, end=None))
    rect = next(s for s in fig.layout.shapes if s.type == "rect")
    assert (rect.x0, rect.x1) == (300, 399)


def test_kl_blowup_chart_shows_the_kl_coefficient_on_a_second_axis():
    fig = charts.evidence_figure(kl_run(), kl_finding())
    coef = [t for t in fig.data if t.name == "objective/kl_coef"]
    assert coef and coef[0].yaxis == "y2"


def length_run(n: int = 200):
    """LEN001 on verl's sample: response length 7-24 tokens, clip ratio 0-1, reward ~0.1-1."""
    steps = np.arange(n)
    length = np.r_[np.full(n // 4, 8.0), np.linspace(8.0, 24.0, n - n // 4)]
    return make_run({"response_length/mean": length, "response_length/max": np.minimum(length + 4, 24.0),
                     "response_length/clip_ratio": np.clip((length - 16) / 8, 0, 1),
                     "critic/score/mean": 0.1 + 0.9 * steps / (n - 1)}, resolve_aliases=False)


def length_finding() -> Finding:
    return Finding(code="LEN001", kind="length_exploitation", severity="critical", title="length", summary="s",
                   onset_step=50, metrics=["response_length/mean", "response_length/max",
                                           "response_length/clip_ratio", "critic/score/mean"])


def y_axis_of(fig) -> dict[str, str]:
    return {t.name: t.yaxis for t in fig.data}


def test_series_on_very_different_scales_get_their_own_panels():
    axes = y_axis_of(charts.evidence_figure(length_run(), length_finding()))
    # Tokens (7-24) and a 0-1 ratio on one axis would draw the ratio as a flat line at 0.
    assert axes["response_length/mean"] == "y"
    assert axes["response_length/clip_ratio"] != "y"


def test_series_on_one_scale_share_a_panel():
    axes = y_axis_of(charts.evidence_figure(length_run(), length_finding()))
    assert axes["response_length/max"] == axes["response_length/mean"]
    assert axes["critic/score/mean"] == axes["response_length/clip_ratio"]


def test_stacked_panels_share_the_step_axis_and_only_the_bottom_one_is_titled():
    fig = charts.evidence_figure(length_run(), length_finding())
    assert fig.layout.xaxis.matches == "x2" and not fig.layout.xaxis.showticklabels
    assert fig.layout.xaxis2.title.text == "step" and fig.layout.xaxis.title.text is None


def test_every_panel_is_shaded_and_marked_and_the_onset_is_labelled_once():
    fig = charts.evidence_figure(length_run(), length_finding())
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert sorted(r.yref for r in rects) == ["y domain", "y2 domain"]
    assert all(r.x0 == 50 for r in rects) and sorted(ln.yref for ln in lines) == ["y domain", "y2 domain"]
    assert [a.text for a in fig.layout.annotations].count("onset 50") == 1


def test_each_panel_is_labelled_with_its_series_names():
    fig = charts.evidence_figure(length_run(), length_finding())
    labels = [a.text for a in fig.layout.annotations if "span" in (a.text or "")]
    assert len(labels) == 2
    assert "response_length/mean" in labels[0] and "response_length/max" in labels[0]
    assert "response_length/clip_ratio" in labels[1] and "critic/score/mean" in labels[1]


def test_each_extra_panel_makes_the_figure_taller_at_a_fixed_width():
    one = charts.evidence_figure(kl_run(), kl_finding(metrics=("objective/kl",)), width=charts.REPORT_FIGURE_WIDTH)
    run = make_run({"objective/kl": np.r_[np.full(300, 0.5), np.linspace(0.5, 40.0, 100)]}, resolve_aliases=False)
    alone = charts.evidence_figure(run, kl_finding(), width=charts.REPORT_FIGURE_WIDTH)
    assert alone.layout.height == charts.REPORT_FIGURE_HEIGHT
    assert one.layout.height == charts.REPORT_FIGURE_HEIGHT + charts.EXTRA_PANEL_HEIGHT
    assert one.layout.width == alone.layout.width == charts.REPORT_FIGURE_WIDTH


def test_a_companion_alone_in_its_panel_is_solid_and_dotted_beside_the_findings_metric():
    alone = charts.evidence_figure(kl_run(), kl_finding())
    assert next(t for t in alone.data if t.name == "objective/kl_coef").line.dash is None
    run = make_run({"env/reward_mean": np.linspace(0, 1, 50), "eval/accuracy": np.linspace(0.6, 0.2, 50)},
                   metrics={"reward.score": "env/reward_mean", "eval.reward": "eval/accuracy"}, resolve_aliases=False)
    f = Finding(code="RH001", kind="reward_hacking", severity="warning", title="hack", summary="s",
                onset_step=20, metrics=["env/reward_mean"])
    beside = charts.evidence_figure(run, f)
    assert y_axis_of(beside)["eval/accuracy"] == "y"
    assert next(t for t in beside.data if t.name == "eval/accuracy").line.dash == "dot"


def test_a_spike_in_a_long_companion_survives_downsampling():
    n = 200_000
    kl = np.r_[np.full(n - 1000, 0.5), np.linspace(0.5, 40.0, 1000)]
    coef = np.full(n, 0.05)
    coef[123_457] = 3.0
    run = make_run({"objective/kl": kl, "objective/kl_coef": coef},
                   metrics={"kl.ref": "objective/kl", "kl.coef": "objective/kl_coef"}, resolve_aliases=False)
    trace = next(t for t in charts.evidence_figure(run, kl_finding(onset=n - 1000)).data if t.name == "objective/kl_coef")
    assert len(trace.y) <= charts.MAX_DISPLAY_POINTS and max(trace.y) == 3.0


def test_hostile_tag_names_are_escaped_in_panel_labels():
    run = make_run({"objective/kl": np.r_[np.full(300, 0.5), np.linspace(0.5, 40.0, 100)], HOSTILE: np.full(400, 0.05)},
                   metrics={"kl.ref": "objective/kl", "kl.coef": HOSTILE}, resolve_aliases=False)
    fig = charts.evidence_figure(run, kl_finding())
    assert any("&lt;img src=x onerror=alert(1)&gt;" in (a.text or "") for a in fig.layout.annotations)
    assert "<img" not in fig.to_json()


def test_reward_hacking_chart_shows_reward_with_the_eval_metric():
    run = make_run({"env/reward_mean": np.linspace(0, 1, 50), "eval/accuracy": np.linspace(0.5, 0.2, 50)},
                   metrics={"reward.score": "env/reward_mean", "eval.reward": "eval/accuracy"}, resolve_aliases=False)
    f = Finding(code="RH001", kind="reward_hacking", severity="warning", title="hack", summary="s",
                onset_step=20, metrics=["env/reward_mean"])
    names = {t.name for t in charts.evidence_figure(run, f).data}
    assert {"env/reward_mean", "eval/accuracy"} <= names


def test_smoothing_draws_the_raw_series_too():
    fig = charts.evidence_figure(kl_run(), kl_finding(), smoothing=0.9)
    kl_traces = [t for t in fig.data if t.legendgroup == "objective/kl"]
    raw = [t for t in kl_traces if t.name.endswith("(raw)")]
    assert raw and raw[0].opacity < 1 and len(raw[0].y) == 400
    assert any(not t.name.endswith("(raw)") for t in kl_traces)


def test_finding_metrics_may_be_concepts_or_tags():
    by_concept = charts.evidence_figure(kl_run(), kl_finding(metrics=("kl.ref",)))
    assert by_concept.data[0].name == "objective/kl"


def test_no_chart_when_the_run_has_none_of_the_findings_metrics():
    run = make_run({"loss": np.arange(10.0)}, resolve_aliases=False)
    assert charts.evidence_figure(run, Finding(code="X", kind="non_finite", severity="info", title="t",
                                               summary="s", onset_step=1, metrics=["absent"])) is None


def test_non_finite_points_are_marked():
    run = make_run({"loss": [1.0, np.nan, 2.0, np.inf]}, resolve_aliases=False)
    f = Finding(code="NF", kind="non_finite", severity="critical", title="t", summary="s", onset_step=1, metrics=["loss"])
    marks = [t for t in charts.evidence_figure(run, f).data if t.mode == "markers"]
    assert list(marks[0].x) == [1, 3] and list(marks[0].text) == ["NaN", "+Inf"]


def test_user_strings_are_escaped_in_figures():
    run = make_run({HOSTILE: np.arange(10.0)}, name=HOSTILE, resolve_aliases=False)
    fig = charts.explorer_figure([run], HOSTILE)
    assert "<img" not in fig.to_json()
    assert fig.data[0].name == "&lt;img src=x onerror=alert(1)&gt;"


def test_explorer_overlays_every_run_that_logs_the_tag():
    fig = charts.explorer_figure([kl_run(name="a"), kl_run(name="b")], "objective/kl", log_y=True)
    assert [t.name for t in fig.data] == ["a", "b"]
    assert fig.layout.yaxis.type == "log"


@pytest.mark.parametrize("axis", ["wall_time", "relative"])
def test_explorer_skips_runs_without_wall_times_on_a_time_axis(axis):
    assert len(charts.explorer_figure([kl_run()], "objective/kl", x_axis=axis).data) == 0


def test_concept_figure_overlays_two_runs_on_one_metric():
    fig = charts.concept_figure([kl_run(name="a"), kl_run(name="b")], "kl.ref", "KL to reference")
    assert len(fig.data) == 2


def test_a_constant_companion_gets_a_readable_axis_range():
    run = make_run({"objective/kl": np.r_[np.zeros(300), np.linspace(0, 40, 100)], "objective/kl_coef": np.full(400, 0.05)},
                   metrics={"kl.ref": "objective/kl", "kl.coef": "objective/kl_coef"}, resolve_aliases=False)
    fig = charts.evidence_figure(run, kl_finding())
    assert tuple(fig.layout.yaxis2.range) == pytest.approx((0.025, 0.075))


def test_a_peak_at_the_right_edge_is_labelled_left_of_its_line():
    late = Finding(code="KL001", kind="kl_blowup", severity="critical", title="t", summary="s",
                   onset_step=300, peak_step=399, metrics=["objective/kl"])
    early = Finding(code="KL001", kind="kl_blowup", severity="critical", title="t", summary="s",
                    onset_step=300, peak_step=320, metrics=["objective/kl"])

    def anchor(f):
        return next(a.xanchor for a in charts.evidence_figure(kl_run(), f).layout.annotations if a.text.startswith("peak"))

    assert (anchor(late), anchor(early)) == ("right", "left")
