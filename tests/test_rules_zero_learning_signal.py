"""SIG001 zero-learning-signal: every group ties, advantages 0, gradient norm 0."""

import numpy as np

from analyzers.rules import analyze
from analyzers.synthetic import make_run

N, ONSET = 150, 80
STEPS = np.arange(1, N + 1)


def _grpo(rng, frac, reward_std, grad, loss):
    return make_run(
        {"frac_reward_zero_std": frac, "reward_std": reward_std, "grad_norm": grad, "loss": loss},
        steps=STEPS,
        metrics={"grpo.frac_zero_std": "frac_reward_zero_std", "reward.score_std": "reward_std",
                 "grad_norm": "grad_norm", "loss.total": "loss"},
        framework="trl-grpo",
        resolve_aliases=False,
    )


def _findings(run):
    return [f for f in analyze(run, select=["SIG001"]).findings if f.kind == "zero_learning_signal"]


def _healthy_parts(rng):
    frac = np.clip(0.35 + rng.normal(0, 0.05, N), 0, 1)
    reward_std = 0.45 + rng.normal(0, 0.02, N)
    grad = 0.25 * np.exp(rng.normal(0, 0.3, N))
    return frac, reward_std, grad


def test_fires_from_the_first_step_where_every_group_ties_and_the_gradient_is_zero():
    rng = np.random.default_rng(0)
    frac, reward_std, grad = _healthy_parts(rng)
    after = np.arange(N) >= ONSET
    run = _grpo(rng, np.where(after, 1.0, frac), np.where(after, 0.0, reward_std), np.where(after, 0.0, grad), np.zeros(N))
    (finding,) = _findings(run)
    assert finding.onset_step == STEPS[ONSET]
    assert finding.severity == "critical" and finding.end_step is None
    assert "advantage" in finding.summary and "(r_i - mean(r_group))" in finding.explanation


def test_fires_when_groups_tie_even_though_the_batch_reward_std_is_positive():
    # TRL's reward_std is a whole-batch std: > 0 while every group is uniform (trl#3857).
    rng = np.random.default_rng(1)
    frac, reward_std, grad = _healthy_parts(rng)
    after = np.arange(N) >= ONSET
    (finding,) = _findings(_grpo(rng, np.where(after, 1.0, frac), reward_std, np.where(after, 0.0, grad), np.zeros(N)))
    assert finding.onset_step == STEPS[ONSET]


def test_silent_on_a_grpo_loss_of_zero_alone():
    # loss = beta * KL: 0 throughout with beta = 0, while the gradient is alive (trl#2703).
    rng = np.random.default_rng(2)
    frac, reward_std, grad = _healthy_parts(rng)
    assert _findings(_grpo(rng, frac, reward_std, grad, np.zeros(N))) == []


def test_silent_when_groups_tie_for_a_moment_only():
    rng = np.random.default_rng(3)
    frac, reward_std, grad = _healthy_parts(rng)
    frac[60:62], grad[60:62] = 1.0, 0.0
    assert _findings(_grpo(rng, frac, reward_std, grad, np.zeros(N))) == []


def test_fires_on_verl_advantages_pinned_at_zero():
    rng = np.random.default_rng(4)
    after = np.arange(N) >= ONSET
    adv_max = np.where(after, 0.0, 2.2 + np.abs(rng.normal(0, 0.1, N)))
    grad = np.where(after, 0.0, 0.3 * np.exp(rng.normal(0, 0.3, N)))
    run = make_run({"critic/advantages/max": adv_max, "critic/advantages/min": -adv_max, "actor/grad_norm": grad},
                   steps=STEPS, metrics={"adv.max": "critic/advantages/max", "adv.min": "critic/advantages/min",
                                         "grad_norm": "actor/grad_norm"}, framework="verl", resolve_aliases=False)
    (finding,) = _findings(run)
    assert finding.onset_step == STEPS[ONSET]
