"""VAL001 value-failure: explained variance <= 0 sustained, value-loss explosion; NaN EV from constant returns is not failure."""

import numpy as np

from analyzers.rules import analyze
from analyzers.synthetic import make_run

N = 500  # logged PPO updates (SB3 logs once per rollout)
SB3_BINDINGS = {"value.ev": "train/explained_variance", "value.loss": "train/value_loss"}


def _findings(series, metrics=SB3_BINDINGS, framework="stable-baselines3"):
    run = make_run(series, metrics={k: v for k, v in metrics.items() if v in series}, framework=framework, resolve_aliases=False)
    return [f for f in analyze(run, select=["VAL001"]).findings if f.code == "VAL001"]


def _healthy_ev(rng, n=N):
    # Starts near 0, rises fast, then improves slowly (Jones: residual variance 1 -> small).
    t = np.arange(n)
    return 0.9 * (1 - np.exp(-t / 20)) + 0.05 * rng.standard_normal(n)


def _healthy_value_loss(rng, n=N):
    return np.abs(20 * np.exp(-np.arange(n) / 100) + 2 + 0.3 * rng.standard_normal(n))


def test_explained_variance_collapsing_below_zero_is_found_at_the_drop():
    rng = np.random.default_rng(40)
    ev = _healthy_ev(rng)
    ev[300:] = -0.4 + 0.1 * rng.standard_normal(N - 300)
    [finding] = _findings({"train/explained_variance": ev})
    assert finding.kind == "value_failure"
    assert finding.severity == "warning"
    assert abs(finding.onset_step - 300) <= 0.03 * N
    assert finding.evidence["collapsed_after_learning"] is True


def test_critic_that_never_learns_is_found_from_the_start():
    rng = np.random.default_rng(41)
    ev = -1.5 + 0.3 * rng.standard_normal(N)
    [finding] = _findings({"train/explained_variance": ev})
    assert finding.severity == "critical"
    assert finding.onset_step == 0


def test_value_loss_explosion_is_found_at_the_jump():
    rng = np.random.default_rng(42)
    loss = _healthy_value_loss(rng)
    loss[350:] *= 60
    [finding] = _findings({"train/value_loss": loss})
    assert finding.title == "Value loss exploded"
    assert abs(finding.onset_step - 350) <= 0.03 * N


def test_non_finite_value_loss_is_critical():
    rng = np.random.default_rng(43)
    loss = _healthy_value_loss(rng)
    loss[420:] = np.nan
    [finding] = _findings({"train/value_loss": loss})
    assert finding.severity == "critical"
    assert finding.onset_step == 420


def test_healthy_critic_is_silent():
    rng = np.random.default_rng(44)
    assert _findings({"train/explained_variance": _healthy_ev(rng), "train/value_loss": _healthy_value_loss(rng)}) == []


def test_nan_explained_variance_from_constant_returns_is_not_failure():
    # SB3/CleanRL return NaN when Var[returns] = 0 (metrics.md §1.4).
    rng = np.random.default_rng(45)
    ev = _healthy_ev(rng)
    ev[200:] = np.nan
    assert _findings({"train/explained_variance": ev}) == []


def test_explained_variance_near_zero_only_at_the_start_is_silent():
    rng = np.random.default_rng(46)
    ev = _healthy_ev(rng)
    ev[:15] = -0.2 + 0.05 * rng.standard_normal(15)
    assert _findings({"train/explained_variance": ev}) == []


def test_value_loss_growing_with_the_returns_is_silent():
    rng = np.random.default_rng(47)
    loss = np.abs(np.linspace(5, 200, N) * (1 + 0.2 * rng.standard_normal(N)))  # CartPole returns grow
    assert _findings({"train/value_loss": loss}) == []


def test_value_loss_that_stays_exploded_is_ongoing():
    rng = np.random.default_rng(48)
    loss = _healthy_value_loss(rng)
    loss[350:] *= 60
    [finding] = _findings({"train/value_loss": loss})
    assert finding.end_step is None


def test_explained_variance_near_zero_after_the_returns_stop_varying_is_not_failure():
    # CartPole solved: every episode hits the cap, returns barely vary, the value loss -> ~0 and
    # EV hovers around 0 although the critic is accurate (sample_logs/sb3/cartpole_healthy).
    rng = np.random.default_rng(49)
    ev = _healthy_ev(rng)
    ev[250:] = 0.02 * rng.standard_normal(N - 250) - 0.01
    loss = _healthy_value_loss(rng)
    loss[250:] = np.abs(1e-3 * rng.standard_normal(N - 250))
    assert _findings({"train/explained_variance": ev, "train/value_loss": loss}) == []
