"""NUM001 non-finite: the first NaN/Inf, which keys went first, what spiked before."""

import numpy as np

from analyzers.model import Run
from analyzers.rules import analyze
from analyzers.synthetic import make_run

N = 1_000


def _findings(run):
    return [f for f in analyze(run, select=["NUM001"]).findings if f.code == "NUM001"]


def _verl_like(rng, nan_from=700):
    grad = np.abs(1.0 + 0.1 * rng.standard_normal(N))
    grad[nan_from - 5: nan_from] = [5, 20, 80, 300, 900]  # diverging just before
    kl_loss = np.abs(0.01 + 0.002 * rng.standard_normal(N))
    pg_loss = 0.1 * rng.standard_normal(N)
    kl_loss[nan_from:] = np.nan
    grad[nan_from + 1:] = np.nan
    pg_loss[nan_from + 1:] = np.nan
    return {"actor/kl_loss": kl_loss, "actor/grad_norm": grad, "actor/pg_loss": pg_loss, "critic/score/mean": rng.standard_normal(N)}


def test_first_nan_names_the_key_that_went_first_and_the_spike_before_it():
    rng = np.random.default_rng(60)
    run = make_run(_verl_like(rng), metrics={"grad_norm": "actor/grad_norm", "kl.ref": "actor/kl_loss"}, framework="verl", resolve_aliases=False)
    [finding] = _findings(run)
    assert finding.kind == "non_finite"
    assert finding.severity == "critical"
    assert finding.onset_step == 700
    assert finding.evidence["first_keys"] == ["actor/kl_loss"]
    assert [o["tag"] for o in finding.evidence["order"]] == ["actor/kl_loss", "actor/grad_norm", "actor/pg_loss"]
    assert finding.evidence["precursors"][0]["tag"] == "actor/grad_norm"
    assert finding.end_step is None


def test_a_run_that_recovers_has_an_end_step():
    values = np.ones(N)
    values[400:410] = np.inf
    [finding] = _findings(make_run({"loss": values}, resolve_aliases=False))
    assert finding.onset_step == 400 and finding.end_step == 409
    assert finding.evidence["recovered"] is True


def test_finite_run_is_silent():
    rng = np.random.default_rng(61)
    assert _findings(make_run({"loss": rng.standard_normal(N)}, resolve_aliases=False)) == []


def test_nan_explained_variance_from_constant_returns_is_not_a_numerical_failure():
    ev = np.linspace(0, 0.9, N)
    ev[600:] = np.nan
    run = make_run({"train/explained_variance": ev, "train/value_loss": np.ones(N)}, metrics={"value.ev": "train/explained_variance"}, framework="stable-baselines3", resolve_aliases=False)
    assert _findings(run) == []


def test_a_metric_that_never_had_a_value_is_only_info():
    run = make_run({"loss": np.ones(N), "kl": np.full(N, np.nan)}, resolve_aliases=False)
    [finding] = _findings(run)
    assert finding.severity == "info"
    assert finding.evidence["never_finite"] == ["kl"]


def test_nan_only_in_points_a_restart_overwrote_is_ignored():
    steps = np.r_[np.arange(100), np.arange(50, 150)]
    values = np.r_[np.ones(100), np.ones(100)]
    values[80] = np.nan  # step 80 of the first attempt; the resumed run rewrote it
    run = Run.from_arrays("restart", ["loss"], np.zeros(200, np.int32), steps, values)
    assert _findings(run) == []
