"""RWD001 reward-saturation: the score pinned at a ceiling with its spread collapsed."""

import numpy as np

from analyzers.rules import analyze
from analyzers.synthetic import make_run

N, PIN = 200, 110
STEPS = np.arange(1, N + 1) * 5


def _run(score, std=None):
    series = {"reward": score}
    metrics = {"reward.score": "reward"}
    if std is not None:
        series["reward_std"] = std
        metrics["reward.score_std"] = "reward_std"
    return make_run(series, steps=STEPS, metrics=metrics, framework="trl-grpo", resolve_aliases=False)


def _findings(run):
    return [f for f in analyze(run, select=["RWD001"]).findings if f.kind == "reward_saturation"]


def _saturating(rng):
    t = np.arange(N)
    score = np.where(t < PIN, 0.3 + 0.6 * t / PIN + rng.normal(0, 0.03, N), 1.0 - np.abs(rng.normal(0, 0.001, N)))
    std = np.where(t < PIN, 0.45 + rng.normal(0, 0.02, N), np.abs(rng.normal(0, 0.002, N)))
    return score, std


def test_fires_when_the_score_is_pinned_at_its_ceiling_and_the_spread_collapses():
    score, std = _saturating(np.random.default_rng(0))
    (finding,) = _findings(_run(score, std))
    assert finding.severity == "warning" and finding.confidence >= 0.8
    assert abs(finding.onset_step - STEPS[PIN]) <= 0.1 * (STEPS[-1] - STEPS[0])
    assert "pinned at 1" in finding.summary


def test_silent_when_the_mean_is_flat_but_samples_still_disagree():
    score, _ = _saturating(np.random.default_rng(1))
    std = 0.4 + np.random.default_rng(1).normal(0, 0.02, N)
    assert _findings(_run(score, std)) == []


def test_silent_on_an_ordinary_noisy_plateau():
    rng = np.random.default_rng(2)
    score = 0.3 + 0.5 * (1 - np.exp(-np.arange(N) / 30)) + rng.normal(0, 0.03, N)
    assert _findings(_run(score, 0.45 + rng.normal(0, 0.02, N))) == []


def test_without_a_spread_metric_a_tight_pin_is_reported_with_lower_confidence():
    score, _ = _saturating(np.random.default_rng(3))
    (finding,) = _findings(_run(score))
    assert finding.confidence < 0.8
