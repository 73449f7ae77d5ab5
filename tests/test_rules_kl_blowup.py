"""KL001 kl-blowup: fires on a runaway reference KL, dated at the change point; silent on healthy KL."""

import numpy as np

from analyzers.model import MetricBinding
from analyzers.rules import analyze
from analyzers.rules.kl_blowup import RULE
from analyzers.synthetic import make_run

N = 3_000
ONSET_TOLERANCE = int(0.03 * N)  # 3 % of the run


def _kl_run(values, framework="trl-ppo", unit="nats/sequence", extra=None, extra_metrics=None):
    series = {"objective/kl": values, **(extra or {})}
    metrics = {"kl.ref": MetricBinding("kl.ref", "objective/kl", unit=unit, estimator="k1"), **(extra_metrics or {})}
    return make_run(series, metrics=metrics, framework=framework, resolve_aliases=False)


def _findings(run):
    return [f for f in analyze(run, select=["KL001"]).findings if f.code == "KL001"]


def test_exponential_runaway_with_a_chasing_controller_is_critical_and_dated_at_the_take_off():
    rng = np.random.default_rng(1)
    t = np.arange(N)
    kl = 2.0 + 0.8 * rng.standard_normal(N)
    kl[1_800:] += 2.0 * (np.exp((t[1_800:] - 1_800) / 300) - 1)
    coef = np.where(t < 1_800, 0.2, 0.2 * (1 + (t - 1_800) / 200))
    run = _kl_run(kl, extra={"objective/kl_coef": coef}, extra_metrics={"kl.coef": "objective/kl_coef"})
    [finding] = _findings(run)
    assert finding.kind == "kl_blowup"
    assert finding.severity == "critical"
    assert abs(finding.onset_step - 1_800) <= ONSET_TOLERANCE
    assert finding.end_step is None
    assert finding.evidence["kl_coef_peak"] > finding.evidence["kl_coef_before"]
    assert "objective/kl_coef" in finding.metrics


def test_linear_token_kl_ramp_in_verl_is_found_at_the_ramp_start():
    rng = np.random.default_rng(2)
    n = 4_000
    kl = 0.02 + 0.005 * rng.standard_normal(n)
    kl[2_500:] += np.linspace(0, 1.5, n - 2_500)
    run = _kl_run(kl, framework="verl", unit="nats/token")
    [finding] = _findings(run)
    assert finding.severity == "warning"
    assert abs(finding.onset_step - 2_500) <= int(0.03 * n)
    assert finding.evidence["budget"] == 0.5


def test_kl_that_returns_under_budget_has_an_end_step():
    rng = np.random.default_rng(3)
    kl = 3.0 + 0.5 * rng.standard_normal(N)
    kl[1_000:1_600] += 20.0
    [finding] = _findings(_kl_run(kl))
    assert abs(finding.onset_step - 1_000) <= ONSET_TOLERANCE
    assert finding.end_step is not None and abs(finding.end_step - 1_600) <= ONSET_TOLERANCE


def test_healthy_kl_growing_slowly_inside_the_budget_is_silent():
    rng = np.random.default_rng(4)
    kl = 5.0 * np.sqrt(np.arange(N) / N) + 0.7 * rng.standard_normal(N)
    assert _findings(_kl_run(kl)) == []


def test_noisy_but_healthy_k1_kl_with_spikes_is_silent():
    rng = np.random.default_rng(5)
    kl = 3.0 + 3.0 * rng.standard_normal(N)
    kl[rng.choice(N, 30, replace=False)] = 15.0
    assert _findings(_kl_run(kl)) == []


def test_grpo_kl_and_loss_rising_from_zero_is_normal():
    # metrics.md §1.4: the GRPO loss equals beta * KL and starts at 0; KL rising from 0 is expected.
    rng = np.random.default_rng(6)
    kl = np.clip(0.05 * (1 - np.exp(-np.arange(N) / 800)) + 0.004 * rng.standard_normal(N), 0, None)
    run = _kl_run(kl, framework="trl-grpo", unit="nats/token", extra={"loss": 0.04 * kl}, extra_metrics={"loss.total": "loss"})
    assert _findings(run) == []


def test_rule_is_skipped_without_a_reference_kl():
    run = make_run({"loss": np.ones(100)}, resolve_aliases=False)
    assert RULE.missing(run) == "needs kl.ref; none found"


def test_kl_rising_slowly_from_the_start_is_dated_where_it_runs_away_not_at_step_0():
    # A healthy KL climbs towards ~5 nats from step 0 (saturating), then runs away exponentially
    # from step 1,300: the onset is the change in growth rate, not the start of the run.
    rng = np.random.default_rng(7)
    t = np.arange(N)
    kl = 5.0 * (1 - np.exp(-t / 400)) + 0.4 * rng.standard_normal(N)
    kl[1_300:] *= np.exp((t[1_300:] - 1_300) / 250)
    [finding] = _findings(_kl_run(kl))
    assert abs(finding.onset_step - 1_300) <= ONSET_TOLERANCE


def test_token_kl_that_settles_above_budget_then_runs_away_is_dated_at_the_second_rise():
    # TRL GRPO with a tiny beta: k3 KL jumps from 0 to ~0.6 nats/token in the first updates (just
    # above the 0.5 budget), sits there, then climbs tenfold from step 1,000.
    rng = np.random.default_rng(8)
    t = np.arange(N)
    kl = np.minimum(0.6, 0.6 * t / 30) * np.exp(0.03 * rng.standard_normal(N))
    kl[1_000:] = kl[1_000:] * np.minimum(10.0, np.exp((t[1_000:] - 1_000) / 200))
    [finding] = _findings(_kl_run(kl, framework="trl-grpo", unit="nats/token"))
    assert abs(finding.onset_step - 1_000) <= ONSET_TOLERANCE
    assert finding.evidence["first_step_above_budget"] < 100


def _unknown_unit_run(values):
    # A W&B panel export holding only the KL tag: no framework, no unit, no estimator.
    metrics = {"kl.ref": MetricBinding("kl.ref", "train/kl")}
    return make_run({"train/kl": values}, metrics=metrics, framework=None, resolve_aliases=False)


def test_unknown_unit_runaway_far_above_its_early_level_is_a_warning_that_says_the_unit_is_unknown():
    # 0 -> 0.6 in two steps, a plateau, then a climb to ~5 that stays (real TRL GRPO lr 5e-3 shape):
    # under the 10-nat per-sequence budget, but 9x its own early level and 10x a token-mean budget.
    rng = np.random.default_rng(7)
    n = 200
    kl = np.concatenate([[0.0, 0.15], np.full(8, 0.57), np.linspace(0.8, 5.0, 35), np.full(n - 45, 4.5)])
    kl = np.abs(kl + 0.05 * rng.standard_normal(n))
    [finding] = _findings(_unknown_unit_run(kl))
    assert finding.severity == "warning"
    assert finding.onset_step <= 20  # 10 % of the run
    assert "unit is unknown" in finding.summary
    assert finding.evidence["judged_by_growth"] is True
    assert finding.confidence < 0.6


def test_unknown_unit_kl_rising_from_zero_inside_a_token_budget_is_silent():
    # The healthy GRPO run of the same panel: KL starts at 0 by construction and drifts to ~0.09.
    rng = np.random.default_rng(8)
    n = 200
    kl = np.clip(0.09 * np.arange(n) / n + 0.004 * rng.standard_normal(n), 0, None)
    assert _findings(_unknown_unit_run(kl)) == []


def test_unknown_unit_kl_that_jumps_once_and_settles_back_is_silent():
    rng = np.random.default_rng(9)
    n = 200
    kl = 0.3 + 0.02 * rng.standard_normal(n)
    kl[100:104] = 4.0  # four points: not a sustained change
    assert _findings(_unknown_unit_run(kl)) == []
