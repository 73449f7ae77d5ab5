"""ENT001 entropy-collapse and ENT002 entropy-explosion (relative to the starting level; sign-safe)."""

import numpy as np

from analyzers.model import MetricBinding
from analyzers.rules import analyze
from analyzers.synthetic import make_run

N = 3_000


def _grpo_run(entropy):
    return make_run({"entropy": entropy}, metrics={"entropy": "entropy"}, framework="trl-grpo", resolve_aliases=False)


def _sb3_run(entropy_loss, extra=None):
    binding = MetricBinding("entropy", "train/entropy_loss", transform="negate")
    return make_run({"train/entropy_loss": entropy_loss, **(extra or {})}, metrics={"entropy": binding}, framework="stable-baselines3", resolve_aliases=False)


def _findings(run, code):
    return [f for f in analyze(run, select=[code]).findings if f.code == code]


def _healthy_llm_entropy(rng, n=N):
    # Slow, monotone decline (EntropyMech), 1.2 -> ~0.6 nats/token.
    return 0.6 + 0.6 * np.exp(-np.arange(n) / 1_500) + 0.03 * rng.standard_normal(n)


def test_llm_entropy_collapsing_after_a_change_point_is_found_there():
    rng = np.random.default_rng(50)
    entropy = _healthy_llm_entropy(rng)
    t = np.arange(N)
    entropy[1_500:] = entropy[1_500] * np.exp(-(t[1_500:] - 1_500) / 150) + 0.005 * np.abs(rng.standard_normal(N - 1_500))
    [finding] = _findings(_grpo_run(entropy), "ENT001")
    assert finding.kind == "entropy_collapse"
    assert finding.severity == "critical"
    assert abs(finding.onset_step - 1_500) <= 0.03 * N
    assert finding.end_step is None


def test_sb3_discrete_entropy_collapse_via_the_negated_entropy_loss():
    rng = np.random.default_rng(51)
    n = 400
    entropy = 0.69 - 0.1 * np.arange(n) / n + 0.01 * rng.standard_normal(n)
    entropy[200:] = np.maximum(0.69 * np.exp(-(np.arange(n - 200)) / 15), 0.04) + 0.005 * rng.standard_normal(n - 200)
    [finding] = _findings(_sb3_run(-entropy), "ENT001")
    assert finding.severity == "warning"
    assert abs(finding.onset_step - 200) <= 0.03 * n


def test_healthy_llm_entropy_decline_is_silent():
    rng = np.random.default_rng(52)
    run = _grpo_run(_healthy_llm_entropy(rng))
    assert _findings(run, "ENT001") == [] and _findings(run, "ENT002") == []


def test_sb3_continuous_entropy_going_negative_is_not_a_collapse():
    # metrics.md §1.4: Gaussian differential entropy can be negative; entropy_loss > 0 is normal.
    rng = np.random.default_rng(53)
    n = 500
    entropy = 1.42 - 2.0 * (1 - np.exp(-np.arange(n) / 150)) + 0.02 * rng.standard_normal(n)  # 1.42 -> ~-0.5
    run = _sb3_run(-entropy, extra={"train/std": np.exp(entropy - 1.42)})
    assert _findings(run, "ENT001") == [] and _findings(run, "ENT002") == []


def test_continuous_entropy_that_stays_positive_is_not_judged_by_ratio():
    rng = np.random.default_rng(54)
    n = 500
    entropy = 1.42 - 1.3 * (1 - np.exp(-np.arange(n) / 100)) + 0.01 * rng.standard_normal(n)  # 1.42 -> 0.12
    run = _sb3_run(-entropy, extra={"train/std": np.exp(entropy - 1.42)})
    assert _findings(run, "ENT001") == []


def test_entropy_explosion_is_found_where_the_rise_began():
    rng = np.random.default_rng(55)
    entropy = _healthy_llm_entropy(rng)
    entropy[2_000:] += np.minimum(np.arange(N - 2_000) * 0.02, 6.0)
    [finding] = _findings(_grpo_run(entropy), "ENT002")
    assert finding.kind == "entropy_explosion"
    assert finding.severity == "critical"
    assert abs(finding.onset_step - 2_000) <= 0.03 * N


def test_entropy_wobble_of_a_low_entropy_policy_is_not_an_explosion():
    rng = np.random.default_rng(56)
    entropy = np.abs(0.1 + 0.1 * np.sin(np.arange(N) / 200) + 0.02 * rng.standard_normal(N))  # 0.1 -> 0.2: 2x, 0.1 nats
    assert _findings(_grpo_run(entropy), "ENT002") == []
