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


def test_repeated_jumps_of_a_tiny_norm_that_stay_below_the_clip_threshold_are_info():
    # After a collapse the norm sits at ~0.003 and the odd batch with signal reaches 0.05-0.1:
    # 15-30x its median, but far below max_grad_norm 1.0 (TRL grpo_kl_blowup sample).
    rng = np.random.default_rng(75)
    norm = 0.003 * np.exp(0.2 * rng.standard_normal(N))
    norm[[900, 1_000, 1_100, 1_200, 1_300]] = [0.05, 0.08, 0.06, 0.1, 0.07]
    [finding] = _findings({"grad_norm": norm})
    assert finding.severity == "info"
    assert finding.evidence["spikes_above_clip"] == 0


def test_the_clip_threshold_from_the_run_config_is_used():
    rng = np.random.default_rng(76)
    norm = 0.003 * np.exp(0.2 * rng.standard_normal(N))
    norm[[900, 1_000, 1_100]] = [0.05, 0.08, 0.06]
    run = make_run({"grad_norm": norm}, metrics={"grad_norm": "grad_norm"}, framework="trl-grpo", resolve_aliases=False)
    run.metadata["max_grad_norm"] = 0.01
    [finding] = [f for f in analyze(run, select=["GRD001"]).findings if f.code == "GRD001"]
    assert finding.severity == "warning"
    assert finding.evidence["clip_threshold"] == 0.01
