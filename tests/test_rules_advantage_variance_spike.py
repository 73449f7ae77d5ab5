"""ADV001 advantage-variance-spike: jumps in advantage/reward spread, out-of-range advantages, non-zero whitened mean."""

import numpy as np

from analyzers.rules import analyze
from analyzers.synthetic import make_run

N = 2_000


def _findings(run):
    return [f for f in analyze(run, select=["ADV001"]).findings if f.code == "ADV001"]


def _verl_advantages(rng, n=N):
    return {
        "critic/advantages/max": 2.5 + 0.3 * rng.standard_normal(n),
        "critic/advantages/min": -2.5 + 0.3 * rng.standard_normal(n),
        "critic/advantages/mean": 0.01 * rng.standard_normal(n),
    }


VERL_BINDINGS = {"adv.max": "critic/advantages/max", "adv.min": "critic/advantages/min", "adv.mean": "critic/advantages/mean"}


def test_repeated_advantage_spikes_are_a_warning_dated_at_the_first_spike():
    rng = np.random.default_rng(30)
    series = _verl_advantages(rng)
    for step in (1_200, 1_230, 1_290, 1_400):
        series["critic/advantages/max"][step] = 9.0
    [finding] = _findings(make_run(series, metrics=VERL_BINDINGS, framework="verl", resolve_aliases=False))
    assert finding.kind == "advantage_variance_spike"
    assert finding.severity == "warning"
    assert finding.onset_step == 1_200
    assert finding.peak_step in (1_200, 1_230, 1_290, 1_400)


def test_a_single_reward_spread_spike_is_info():
    rng = np.random.default_rng(31)
    score_std = np.abs(0.5 + 0.05 * rng.standard_normal(N))
    score_std[900] = 5.0
    run = make_run({"ppo/std_scores": score_std}, metrics={"reward.score_std": "ppo/std_scores"}, framework="trl-ppo-legacy", resolve_aliases=False)
    [finding] = _findings(run)
    assert finding.severity == "info"
    assert finding.onset_step == 900


def test_advantages_beyond_the_grpo_group_bound_are_flagged():
    rng = np.random.default_rng(32)
    series = {
        "critic/advantages/max": np.minimum(2.47, 2.3 + 0.1 * rng.standard_normal(N)),
        "critic/advantages/min": np.maximum(-2.47, -2.3 + 0.1 * rng.standard_normal(N)),
    }
    series["critic/advantages/max"][1_500:] = 3.5 + 0.2 * rng.standard_normal(N - 1_500)  # batch-level scaling
    run = make_run(series, metrics={k: v for k, v in VERL_BINDINGS.items() if k != "adv.mean"}, framework="verl", resolve_aliases=False)
    run.metadata["num_generations"] = 8
    findings = _findings(run)
    bound = [f for f in findings if f.title == "Advantages beyond their possible range"]
    assert len(bound) == 1
    assert bound[0].onset_step == 1_500
    assert abs(bound[0].evidence["bound"] - 7 / np.sqrt(8)) < 1e-9


def test_without_a_group_size_the_bound_is_ten():
    rng = np.random.default_rng(33)
    series = _verl_advantages(rng)
    run = make_run(series, metrics=VERL_BINDINGS, framework="verl", resolve_aliases=False)
    assert _findings(run) == []  # |A| ~ 2.5 is inside [-10, 10] and above no known group bound


def test_persistently_non_zero_whitened_mean_is_flagged():
    # verl PPO with a critic: GAE advantages are whitened over the batch, so their mean is ~0.
    rng = np.random.default_rng(34)
    series = _verl_advantages(rng)
    series["critic/advantages/mean"][1_000:] += 0.8
    run = make_run(
        {**series, "critic/advantages/std": np.ones(N), "critic/vf_loss": np.full(N, 0.1)},
        metrics={**VERL_BINDINGS, "adv.std": "critic/advantages/std", "value.loss": "critic/vf_loss"},
        framework="verl",
        resolve_aliases=False,
    )
    [finding] = [f for f in _findings(run) if "non-zero mean" in f.title]
    assert abs(finding.onset_step - 1_000) <= 0.03 * N


def _trl_old_advantage_mean(rng, n=300, shift_at=None, level=0.0):
    mean = 0.01 * rng.standard_normal(n)
    if shift_at is not None:
        mean[shift_at:] = level + 0.05 * rng.standard_normal(n - shift_at)
    return make_run({"ppo/policy/advantages_mean": mean}, metrics={"adv.mean": "ppo/policy/advantages_mean"},
                    framework="trl-ppo-legacy", resolve_aliases=False)


def test_old_trl_advantage_mean_moving_to_minus_half_is_a_warning_at_the_shift():
    # Jones: whitened advantages should be ~mean-zero; "if they're persistently not then
    # you've messed up your advantage calculations".
    run = _trl_old_advantage_mean(np.random.default_rng(37), shift_at=120, level=-0.45)
    [finding] = [f for f in _findings(run) if "non-zero mean" in f.title]
    assert finding.severity == "warning"
    assert abs(finding.onset_step - 120) <= 3
    assert finding.evidence["level"] < -0.3


def test_a_short_excursion_of_the_advantage_mean_is_not_persistent():
    rng = np.random.default_rng(38)
    run = _trl_old_advantage_mean(rng)
    series = run.metric("adv.mean").to_numpy().copy()
    series[150:160] = 0.6  # 10 of 300 points
    run = make_run({"ppo/policy/advantages_mean": series}, metrics={"adv.mean": "ppo/policy/advantages_mean"},
                   framework="trl-ppo-legacy", resolve_aliases=False)
    assert [f for f in _findings(run) if "non-zero mean" in f.title] == []


def test_token_weighted_mean_of_grpo_advantages_in_verl_may_sit_off_zero():
    # verl GRPO without a critic: per-sequence group normalisation, token-weighted mean; long
    # wrong answers pull it to about -0.3 in a healthy run.
    rng = np.random.default_rng(39)
    series = _verl_advantages(rng)
    series["critic/advantages/mean"] = -0.3 + 0.05 * rng.standard_normal(N)
    run = make_run(series, metrics=VERL_BINDINGS, framework="verl", resolve_aliases=False)
    assert _findings(run) == []


def test_healthy_whitened_advantages_are_silent():
    rng = np.random.default_rng(35)
    series = _verl_advantages(rng)
    series["critic/advantages/std"] = np.abs(1.0 + 0.05 * rng.standard_normal(N))
    run = make_run(series, metrics={**VERL_BINDINGS, "adv.std": "critic/advantages/std"}, framework="verl", resolve_aliases=False)
    assert _findings(run) == []


def test_slowly_growing_reward_spread_is_not_a_spike():
    rng = np.random.default_rng(36)
    score_std = np.linspace(0.2, 2.0, N) * np.abs(1 + 0.05 * rng.standard_normal(N))
    run = make_run({"ppo/std_scores": score_std}, metrics={"reward.score_std": "ppo/std_scores"}, resolve_aliases=False)
    assert _findings(run) == []
