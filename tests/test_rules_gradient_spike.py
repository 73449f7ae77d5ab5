"""GRD001 gradient-spike: norm > 10x its rolling median; isolated = info, repeated = warning."""

import numpy as np

from analyzers.rules import analyze
from analyzers.synthetic import make_run

N = 2_000


def _healthy_norm(rng, n=N):
    return np.abs(0.8 + 0.15 * rng.standard_normal(n))


def _findings(series, metrics=None):
    run = make_run(series, metrics=metrics or {"grad_norm": "grad_norm"}, framework="trl-grpo", resolve_aliases=False)
    return [f for f in analyze(run, select=["GRD001"]).findings if f.code == "GRD001"]


def test_repeated_spikes_are_a_warning_dated_at_the_first():
    rng = np.random.default_rng(70)
    norm = _healthy_norm(rng)
    norm[[1_100, 1_180, 1_260, 1_500]] = [15, 30, 12, 40]
    [finding] = _findings({"grad_norm": norm})
    assert finding.kind == "gradient_spike"
    assert finding.severity == "warning"
    assert finding.onset_step == 1_100
    assert finding.peak_step == 1_500
    assert finding.evidence["spikes"] == 4


def test_a_single_spike_is_info():
    rng = np.random.default_rng(71)
    norm = _healthy_norm(rng)
    norm[900] = 25.0
    [finding] = _findings({"grad_norm": norm})
    assert finding.severity == "info"
    assert finding.onset_step == 900 and finding.end_step == 900


def test_a_sustained_excursion_is_a_warning():
    rng = np.random.default_rng(72)
    norm = _healthy_norm(rng)
    norm[1_300:1_305] = 50.0
    [finding] = _findings({"grad_norm": norm})
    assert finding.severity == "warning"
    assert finding.evidence["longest_consecutive"] == 5


def test_healthy_noisy_norm_is_silent():
    rng = np.random.default_rng(73)
    norm = np.exp(0.4 * rng.standard_normal(N))  # log-normal noise, heavy-ish tail
    assert _findings({"grad_norm": norm}) == []


def test_large_early_critic_norms_that_decay_are_normal():
    # verl quickstart: critic/grad_norm ~1000 at step 0 (metrics.md P6, P12).
    rng = np.random.default_rng(74)
    critic = 1_000 * np.exp(-np.arange(N) / 30) + np.abs(2 + 0.3 * rng.standard_normal(N))
    assert _findings({"critic/grad_norm": critic}, {"critic.grad_norm": "critic/grad_norm"}) == []


def test_zero_gradient_norms_are_not_spikes():
    norm = np.zeros(N)
    norm[500] = 1.0  # 0 -> 1 is not "10x its median" (that is zero_learning_signal territory)
    assert _findings({"grad_norm": norm}) == []
