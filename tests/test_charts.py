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
