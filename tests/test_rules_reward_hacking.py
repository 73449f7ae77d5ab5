"""RH001 reward-hacking: reward up while behaviour falls (with eval), or the pattern without eval."""

import numpy as np

from analyzers.model import MetricBinding
from analyzers.rules import analyze
from analyzers.synthetic import make_run

N = 200
STEPS = np.arange(N) * 10
EVAL_EVERY = 10  # one eval per 10 logged points


def _reward(rng, rise_after=None):
    reward = 0.2 + 0.6 * (1 - np.exp(-np.arange(N) / 40)) + rng.normal(0, 0.03, N)
    if rise_after is not None:
        reward += 0.4 * np.clip(np.arange(N) - rise_after, 0, None) / N
    return reward


def _eval(rng, peak_at=None):
    idx = np.arange(EVAL_EVERY - 1, N, EVAL_EVERY)
    level = 0.3 + 0.3 * (1 - np.exp(-idx / 40))
    if peak_at is not None:
        level = np.where(idx <= peak_at, level, level[idx <= peak_at][-1] - 0.003 * (idx - peak_at))
    import pandas as pd

    return pd.Series(level + rng.normal(0, 0.01, len(idx)), index=STEPS[idx])


def _run(reward, evals=None, **extra):
    series = {"reward": reward, **extra}
    if evals is not None:
        series["eval_accuracy"] = evals
    metrics = {"reward.score": "reward"}
    for concept, tag in (("len.mean", "completions/mean_length"), ("kl.ref", "kl"), ("entropy", "entropy")):
        if tag in extra:
            metrics[concept] = tag
    run = make_run(series, steps=STEPS, metrics=metrics, framework="trl-grpo", resolve_aliases=False)
    if evals is not None:
        run.behaviour = [MetricBinding("behaviour", "eval_accuracy", source="user")]
    return run


def _findings(run):
    return [f for f in analyze(run, select=["RH001"]).findings if f.kind == "reward_hacking"]


def test_fires_when_reward_rises_while_eval_falls_from_its_peak():
    rng = np.random.default_rng(0)
    run = _run(_reward(rng, rise_after=99), _eval(rng, peak_at=99))
    (finding,) = _findings(run)
    assert finding.severity in ("warning", "critical")
    assert finding.confidence >= 0.8
    assert abs(finding.onset_step - STEPS[99]) <= 0.1 * STEPS[-1]
    assert "eval_accuracy" in finding.metrics and "reward" in finding.metrics


def test_summary_states_the_eval_fall_with_numbers():
    rng = np.random.default_rng(1)
    finding = _findings(_run(_reward(rng, rise_after=99), _eval(rng, peak_at=99)))[0]
    assert "eval_accuracy fell from its peak" in finding.summary
    assert "Gao" in finding.explanation and "Goodhart" in finding.explanation


def test_silent_when_eval_tracks_the_reward():
    rng = np.random.default_rng(2)
    assert _findings(_run(_reward(rng), _eval(rng))) == []


def test_silent_when_eval_falls_but_reward_falls_too():
    rng = np.random.default_rng(3)
    reward = _reward(rng) - 0.5 * np.clip(np.arange(N) - 100, 0, None) / N
    assert _findings(_run(reward, _eval(rng, peak_at=99))) == []


def test_silent_when_a_capped_return_ticks_up_while_eval_wobbles():
    # CartPole-style: the return is pinned at its 500 cap; eval noise is not hacking.
    rng = np.random.default_rng(4)
    reward = np.minimum(500, 480 + 40 * np.arange(N) / N + rng.normal(0, 3, N))
    evals = _eval(rng) * 0 + 500 + rng.normal(0, 15, N // EVAL_EVERY)
    assert _findings(_run(reward, evals)) == []


def test_without_eval_reward_length_kl_and_entropy_together_is_a_lower_confidence_warning():
    rng = np.random.default_rng(5)
    onset = 100
    ramp = np.clip(np.arange(N) - onset, 0, None) / (N - onset)
    run = _run(
        _reward(rng) + 0.6 * ramp,
        **{
            "completions/mean_length": 200 * (1 + 1.2 * ramp) + rng.normal(0, 4, N),
            "kl": 0.02 + 0.1 * ramp + rng.normal(0, 0.002, N),
            "entropy": 0.5 * (1 - 0.5 * ramp) + rng.normal(0, 0.01, N),
        },
    )
    (finding,) = _findings(run)
    assert finding.severity == "warning" and finding.confidence <= 0.5
    assert abs(finding.onset_step - STEPS[onset]) <= 0.1 * STEPS[-1]
    assert "--behaviour" in finding.summary


def test_without_eval_healthy_kl_growth_and_entropy_decline_alone_stay_silent():
    # Every healthy RLHF run has reward up, KL up and entropy slowly down: not enough on their own.
    rng = np.random.default_rng(6)
    t = np.arange(N)
    run = _run(
        _reward(rng),
        **{
            "completions/mean_length": 200 + rng.normal(0, 4, N),
            "kl": 0.05 * (1 - np.exp(-t / 60)) + rng.normal(0, 0.002, N),
            "entropy": 0.5 - 0.1 * t / N + rng.normal(0, 0.01, N),
        },
    )
    assert _findings(run) == []


def test_absurd_eval_values_raise_no_overflow_warning():
    import warnings

    from analyzers.rules import get_rule

    rng = np.random.default_rng(9)
    evals = _eval(rng, peak_at=99)
    evals.iloc[::3] = 1e300  # a corrupted eval logger
    run = _run(_reward(rng, rise_after=99), evals)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        findings = get_rule("RH001").check(run)
    assert isinstance(findings, list)


def test_an_eval_that_sags_slowly_then_crashes_is_dated_at_the_crash_not_at_its_best_point():
    # Real TRL GRPO shape: true quality 0.99 -> 0.93 over 50 steps, then 0.93 -> 0 while the
    # length-paid reward climbs. The best eval is at the start; the fall began at the crash.
    rng = np.random.default_rng(4)
    crash = 100  # logged point
    idx = np.arange(EVAL_EVERY - 1, N, EVAL_EVERY // 2)
    level = np.where(idx < crash, 0.99 - 0.06 * idx / crash, np.maximum(0.0, 0.93 - 0.03 * (idx - crash)))
    import pandas as pd

    evals = pd.Series(level + rng.normal(0, 0.008, len(idx)), index=STEPS[idx])
    reward = 0.3 + 0.15 * np.arange(N) / N + np.clip((np.arange(N) - crash) * 0.02, 0, 0.5) + rng.normal(0, 0.01, N)
    (finding,) = _findings(_run(reward, evals))
    assert finding.severity in ("warning", "critical")
    assert abs(finding.onset_step - STEPS[crash]) <= 0.05 * STEPS[-1]
    assert finding.evidence["best_step"] < STEPS[crash] - 0.2 * STEPS[-1]
    assert "took off" in finding.summary
