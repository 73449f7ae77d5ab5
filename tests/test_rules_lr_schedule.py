"""LR001 lr-schedule (preview): LR at 0 too early, no warm-up with an early spike, LR step changes."""

import numpy as np

from analyzers.rules import analyze, get_rule
from analyzers.synthetic import make_run

N = 200
STEPS = np.arange(1, N + 1) * 10


def _run(lr, framework="trl-grpo", **extra):
    series = {"learning_rate": lr, **extra}
    metrics = {"lr": "learning_rate"}
    for concept, tag in (("kl.step", "approx_kl"), ("clipfrac", "clipfrac")):
        if tag in extra:
            metrics[concept] = tag
    return make_run(series, steps=STEPS, metrics=metrics, framework=framework, resolve_aliases=False)


def _findings(run):
    return [f for f in analyze(run, preview=True, select=["LR001"]).findings if f.kind == "lr_schedule"]


def test_is_a_preview_rule():
    assert get_rule("LR001").preview


def test_fires_when_the_lr_reaches_zero_long_before_the_last_step():
    t = np.arange(N)
    lr = np.where(t < 80, 1e-6 * (1 - t / 80), 0.0)
    (finding,) = _findings(_run(lr))
    assert finding.onset_step == STEPS[80]
    assert "sized for fewer steps" in finding.summary


def test_silent_when_a_linear_schedule_reaches_zero_at_the_last_step():
    t = np.arange(N)
    assert _findings(_run(1e-6 * (1 - t / N))) == []


def test_silent_on_an_all_zero_lr_from_console_rounding():
    assert _findings(_run(np.zeros(N))) == []


def test_lr_step_change_with_a_kl_jump_is_a_warning():
    rng = np.random.default_rng(0)
    lr = np.where(np.arange(N) >= 120, 3e-5, 3e-6)
    kl = 0.005 * np.exp(rng.normal(0, 0.2, N)) * np.where(np.arange(N) >= 120, 10, 1)
    (finding,) = _findings(_run(lr, approx_kl=kl))
    assert finding.severity == "warning" and finding.onset_step == STEPS[120]
    assert "approx_kl jumped" in finding.summary


def test_lr_step_change_without_instability_is_info():
    rng = np.random.default_rng(1)
    lr = np.where(np.arange(N) >= 120, 3e-7, 3e-6)
    kl = 0.005 * np.exp(rng.normal(0, 0.2, N))
    (finding,) = _findings(_run(lr, approx_kl=kl))
    assert finding.severity == "info"


def test_no_warmup_with_an_early_kl_spike_fires_at_the_first_step():
    rng = np.random.default_rng(2)
    kl = 0.004 * np.exp(rng.normal(0, 0.2, N)) + 0.1 * np.exp(-np.arange(N) / 5)
    (finding,) = _findings(_run(np.full(N, 3e-6), approx_kl=kl))
    assert finding.onset_step == STEPS[0] and "warm-up" in finding.summary


def test_warmup_ramp_is_not_a_step_change():
    t = np.arange(N)
    lr = 1e-6 * np.minimum(1.0, (t + 1) / 10)
    assert _findings(_run(lr, approx_kl=0.004 + np.zeros(N))) == []


def test_classic_control_without_warmup_is_normal():
    kl = 0.01 + 0.2 * np.exp(-np.arange(N) / 5)
    assert _findings(_run(np.full(N, 3e-4), framework="stable-baselines3", approx_kl=kl)) == []
