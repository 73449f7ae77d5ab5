"""MIS001 train-inference-mismatch (preview): IS ratio leaves 1, logp difference grows."""

import numpy as np

from analyzers.rules import analyze, get_rule
from analyzers.synthetic import make_run

N, ONSET = 200, 100
STEPS = np.arange(1, N + 1)


def _run(**series):
    bindings = {"sampling/importance_sampling_ratio/mean": "ratio.is_mean",
                "sampling/sampling_logp_difference/mean": "mismatch.logp_diff", "vllm_kl": "mismatch.logp_diff"}
    metrics = {bindings[tag]: tag for tag in series}
    return make_run(series, steps=STEPS, metrics=metrics, framework="trl-grpo", resolve_aliases=False)


def _findings(run):
    return [f for f in analyze(run, preview=True, select=["MIS001"]).findings if f.kind == "train_inference_mismatch"]


def _ramp():
    return np.clip((np.arange(N) - ONSET) / 40, 0, 1)


def test_is_a_preview_rule():
    assert get_rule("MIS001").preview


def test_fires_when_the_is_ratio_and_logp_difference_drift_together():
    rng = np.random.default_rng(0)
    ratio = 1.0 + rng.normal(0, 0.004, N) - 0.4 * _ramp()
    logp = 0.012 * np.exp(rng.normal(0, 0.15, N)) + 0.3 * _ramp()
    (finding,) = _findings(_run(**{"sampling/importance_sampling_ratio/mean": ratio,
                                   "sampling/sampling_logp_difference/mean": logp}))
    assert finding.severity == "critical" and finding.confidence >= 0.9
    assert abs(finding.onset_step - STEPS[ONSET]) <= 0.1 * N
    assert len(finding.metrics) == 2


def test_fires_on_a_growing_openrlhf_vllm_kl():
    rng = np.random.default_rng(1)
    kl = 0.001 * np.exp(rng.normal(0, 0.15, N)) + 0.03 * _ramp()
    (finding,) = _findings(_run(vllm_kl=kl))
    assert abs(finding.onset_step - STEPS[ONSET]) <= 0.1 * N


def test_silent_on_a_small_stable_gap():
    rng = np.random.default_rng(2)
    assert _findings(_run(**{"sampling/importance_sampling_ratio/mean": 1.0 + rng.normal(0, 0.004, N),
                             "sampling/sampling_logp_difference/mean": 0.012 * np.exp(rng.normal(0, 0.15, N))})) == []


def test_silent_when_a_tiny_gap_grows_but_stays_negligible():
    rng = np.random.default_rng(3)
    kl = 0.0005 * np.exp(rng.normal(0, 0.1, N)) * (1 + 9 * _ramp())  # 10x growth, still 0.005
    assert _findings(_run(vllm_kl=kl)) == []


def test_absurd_values_raise_no_overflow_warning():
    # A logp gap alternating between 1e-300 and 1e300 overflows a naive std; the rule must stay
    # quiet about numpy (warnings as errors here) and still answer.
    import warnings

    gap = np.where(np.arange(N) % 2, 1e300, 1e-300)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        findings = get_rule("MIS001").check(_run(**{"sampling/sampling_logp_difference/mean": gap}))
    assert isinstance(findings, list)
