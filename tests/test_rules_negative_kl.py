"""KL002 negative-kl: persistent negative k1 KL or any negative k2/k3 value; transient k1 noise is silent."""

import numpy as np

from analyzers.model import MetricBinding
from analyzers.rules import analyze
from analyzers.synthetic import make_run

N = 2_000


def _run(values, estimator="k1", unit="nats/sequence", concept="kl.ref", tag="objective/kl", framework="trl-ppo"):
    return make_run(
        {tag: values},
        metrics={concept: MetricBinding(concept, tag, unit=unit, estimator=estimator)},
        framework=framework,
        resolve_aliases=False,
    )


def _findings(run):
    return [f for f in analyze(run, select=["KL002"]).findings if f.code == "KL002"]


def test_k1_kl_that_goes_and_stays_negative_is_found_where_it_crossed_zero():
    rng = np.random.default_rng(10)
    kl = 1.5 + 0.6 * rng.standard_normal(N)
    kl[800:] = np.linspace(1.5, -4.0, 200).tolist() + [-4.0] * (N - 1_000) + 0.6 * rng.standard_normal(N - 800)
    # crosses zero at step 800 + 1.5/5.5*200 ~= 855
    [finding] = _findings(_run(kl))
    assert finding.kind == "negative_kl"
    assert finding.severity == "critical"  # negative for more than a quarter of the run
    assert abs(finding.onset_step - 855) <= 0.03 * N
    assert finding.end_step is None


def test_negative_k1_stretch_that_recovers_is_a_warning_with_an_end():
    rng = np.random.default_rng(11)
    kl = 2.0 + 0.5 * rng.standard_normal(N)
    kl[1_200:1_400] = -2.5 + 0.5 * rng.standard_normal(200)
    [finding] = _findings(_run(kl))
    assert finding.severity == "warning"
    assert abs(finding.onset_step - 1_200) <= 0.03 * N
    assert abs(finding.end_step - 1_400) <= 0.03 * N


def test_any_clearly_negative_k3_value_is_a_critical_bug_sign():
    rng = np.random.default_rng(12)
    kl = np.abs(0.05 + 0.01 * rng.standard_normal(N))
    kl[1_500] = -0.02
    [finding] = _findings(_run(kl, estimator="k3", unit="nats/token", tag="kl", framework="trl-grpo"))
    assert finding.severity == "critical"
    assert finding.onset_step == 1_500
    assert finding.evidence["estimator"] == "k3"


def test_negative_k2_approx_kl_per_update_is_flagged():
    rng = np.random.default_rng(13)
    approx = np.abs(0.002 + 0.0005 * rng.standard_normal(N))
    approx[300:310] = -0.01
    run = _run(approx, estimator="k2", unit=None, concept="kl.step", tag="policy/approxkl_avg")
    [finding] = _findings(run)
    assert finding.onset_step == 300


def test_transient_small_negative_k1_kl_is_noise():
    rng = np.random.default_rng(14)
    kl = 1.0 + 0.5 * rng.standard_normal(N)
    kl[500:504] = -2.0  # a few bad batches, then back (lvwerra: fine if it does not stay there)
    kl[1_500:1_503] = -1.5
    assert _findings(_run(kl)) == []


def test_noisy_healthy_k1_kl_around_zero_early_is_silent():
    rng = np.random.default_rng(15)
    kl = np.linspace(0.0, 4.0, N) + 1.0 * rng.standard_normal(N)  # many negative points at the start
    assert _findings(_run(kl)) == []


def test_k1_per_update_kl_slightly_negative_on_policy_is_silent():
    # verl actor/ppo_kl is k1 and ~0 (slightly negative) when on-policy (metrics.md §1.4).
    rng = np.random.default_rng(16)
    run = _run(1e-5 * rng.standard_normal(N), concept="kl.step", tag="actor/ppo_kl", unit=None, framework="verl")
    assert _findings(run) == []


def test_tiny_negatives_on_an_alias_k3_key_may_be_a_mislabelled_k1_and_are_info():
    # TRL RLOO logs k1 as `kl`, GRPO logs k3 under the same name (sample_logs/trl/rloo_kl_drift).
    rng = np.random.default_rng(17)
    kl = np.abs(0.5 + 0.05 * rng.standard_normal(N))
    kl[[100, 140, 180]] = -0.003
    run = make_run({"kl": kl}, metrics={"kl.ref": MetricBinding("kl.ref", "kl", unit="nats/token", estimator="k3", source="alias")},
                   framework="trl-grpo", resolve_aliases=False)
    [finding] = _findings(run)
    assert finding.severity == "info"


def test_k1_noise_logged_under_an_inferred_k3_name_is_only_info():
    # TRL RLOO logs k1 as `kl`, the same key GRPO uses for k3: dips below 0 inside the noise band
    # (healthy rloo sample: min -0.015, typical 0.009, noise 0.006) are not a bug sign.
    rng = np.random.default_rng(14)
    kl = 0.01 + 0.006 * rng.standard_normal(N)
    run = _run(kl, estimator="k3", unit="nats/token", tag="kl", framework="trl-grpo")
    from dataclasses import replace

    run.metrics["kl.ref"] = replace(run.metrics["kl.ref"], source="alias")  # inferred, not declared
    findings = _findings(run)
    assert findings and all(f.severity == "info" for f in findings)


def _rloo_like(rng, n=120, stays_from=36):
    # TRL RLOO logs k1 as `kl`, the name GRPO uses for k3: noisy around 0, a transient dip,
    # then negative for good (sampling temperature 2, scored at 1).
    kl = 0.005 + 0.02 * rng.standard_normal(n)
    kl[11:19] -= 0.03
    kl[stays_from:] = -0.04 + 0.02 * rng.standard_normal(n - stays_from)
    return kl


def test_an_alias_k3_key_that_stays_negative_is_judged_as_k1_and_dated_where_it_stays():
    kl = _rloo_like(np.random.default_rng(12))
    run = make_run(
        {"train/kl": kl},
        metrics={"kl.ref": MetricBinding("kl.ref", "train/kl", unit="nats/token", estimator="k3", source="alias")},
        framework="trl-grpo",
        resolve_aliases=False,
    )
    [finding] = _findings(run)
    assert finding.severity == "critical"
    assert abs(finding.onset_step - 36) <= 4  # not the transient dip at step 11
    assert "RLOO logs k1" in finding.summary
    assert finding.evidence["earlier_transient_dips"] >= 1


def test_a_user_declared_k3_key_with_a_negative_value_is_an_impossible_negative():
    kl = _rloo_like(np.random.default_rng(13))
    run = make_run(
        {"train/kl": kl},
        metrics={"kl.ref": MetricBinding("kl.ref", "train/kl", unit="nats/token", estimator="k3", source="user")},
        framework="trl-grpo",
        resolve_aliases=False,
    )
    [finding] = _findings(run)
    assert finding.title.startswith("Negative k3 KL")
