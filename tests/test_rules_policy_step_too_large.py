"""PS001 policy-step-too-large and PS002 clip-fraction-too-high."""

import numpy as np

from analyzers.model import MetricBinding
from analyzers.rules import analyze
from analyzers.synthetic import make_run

N = 1_000  # logged PPO updates


def _run(series, metrics, framework="stable-baselines3"):
    return make_run(series, metrics=metrics, framework=framework, resolve_aliases=False)


def _findings(run, code):
    return [f for f in analyze(run, select=[code]).findings if f.code == code]


def _healthy_sb3(rng):
    approx_kl = np.abs(0.01 + 0.004 * rng.standard_normal(N))
    clip = np.clip(0.12 + 0.03 * rng.standard_normal(N), 0, 1)
    return approx_kl, clip


def test_approx_kl_far_above_target_after_a_change_is_found_at_the_change():
    rng = np.random.default_rng(20)
    approx_kl, _ = _healthy_sb3(rng)
    approx_kl[600:] = np.abs(0.4 + 0.1 * rng.standard_normal(N - 600))
    run = _run({"train/approx_kl": approx_kl}, {"kl.step": MetricBinding("kl.step", "train/approx_kl", estimator="k3")})
    [finding] = _findings(run, "PS001")
    assert finding.kind == "policy_step_too_large"
    assert finding.severity == "warning"
    assert abs(finding.onset_step - 600) <= 0.03 * N


def test_approx_kl_ten_times_the_alarm_is_critical():
    rng = np.random.default_rng(21)
    approx_kl = np.abs(1.5 + 0.3 * rng.standard_normal(N))
    [finding] = _findings(_run({"train/approx_kl": approx_kl}, {"kl.step": "train/approx_kl"}), "PS001")
    assert finding.severity == "critical"
    assert finding.onset_step <= 0.03 * N


def test_llm_approx_kl_uses_the_tighter_llm_level():
    rng = np.random.default_rng(22)
    approx = np.abs(0.002 + 0.0005 * rng.standard_normal(N))
    approx[700:] = np.abs(0.06 + 0.01 * rng.standard_normal(N - 700))
    run = _run({"policy/approxkl_avg": approx}, {"kl.step": "policy/approxkl_avg"}, framework="trl-ppo")
    [finding] = _findings(run, "PS001")
    assert abs(finding.onset_step - 700) <= 0.03 * N
    assert finding.evidence["alarm_level"] == 0.03


def test_ratio_mean_far_from_one_is_found():
    rng = np.random.default_rng(23)
    ratio = 1.0 + 0.01 * rng.standard_normal(N)
    ratio[400:] = 3.0 + 0.3 * rng.standard_normal(N - 400)
    [finding] = _findings(_run({"val/ratio": ratio}, {"ratio.mean": "val/ratio"}, framework="trl-ppo"), "PS001")
    assert abs(finding.onset_step - 400) <= 0.03 * N
    assert finding.title == "Importance ratio far from 1"


def test_a_few_odd_minibatches_are_at_most_info():
    rng = np.random.default_rng(24)
    approx_kl, _ = _healthy_sb3(rng)
    approx_kl[[100, 400, 800]] = 0.5
    findings = _findings(_run({"train/approx_kl": approx_kl}, {"kl.step": "train/approx_kl"}), "PS001")
    assert [f.severity for f in findings] == ["info"]


def test_healthy_sb3_updates_are_silent():
    approx_kl, clip = _healthy_sb3(np.random.default_rng(25))
    run = _run({"train/approx_kl": approx_kl, "train/clip_fraction": clip}, {"kl.step": "train/approx_kl", "clipfrac": "train/clip_fraction"})
    assert _findings(run, "PS001") == [] and _findings(run, "PS002") == []


def test_on_policy_grpo_zero_clip_ratio_and_zero_ppo_kl_are_silent():
    # metrics.md §1.4: num_iterations=1 makes the ratio identically 1.
    rng = np.random.default_rng(26)
    run = _run(
        {"clip_ratio/region_mean": np.zeros(N), "actor/ppo_kl": 1e-6 * rng.standard_normal(N)},
        {"clipfrac": "clip_ratio/region_mean", "kl.step": "actor/ppo_kl"},
        framework="trl-grpo",
    )
    assert _findings(run, "PS001") == [] and _findings(run, "PS002") == []


def test_clip_fraction_jump_is_found_at_the_jump():
    rng = np.random.default_rng(27)
    _, clip = _healthy_sb3(rng)
    clip[500:] = np.clip(0.45 + 0.05 * rng.standard_normal(N - 500), 0, 1)
    [finding] = _findings(_run({"train/clip_fraction": clip}, {"clipfrac": "train/clip_fraction"}), "PS002")
    assert finding.kind == "policy_step_too_large"
    assert finding.severity == "warning"
    assert abs(finding.onset_step - 500) <= 0.03 * N


def test_llm_clip_fraction_tripling_above_half_the_llm_level_is_found():
    rng = np.random.default_rng(28)
    clip = np.clip(0.02 + 0.005 * rng.standard_normal(N), 0, 1)
    clip[800:] = np.clip(0.08 + 0.01 * rng.standard_normal(N - 800), 0, 1)
    run = _run({"policy/clipfrac_avg": clip}, {"clipfrac": "policy/clipfrac_avg"}, framework="trl-ppo")
    [finding] = _findings(run, "PS002")
    assert abs(finding.onset_step - 800) <= 0.03 * N


def test_small_clip_fraction_tripling_stays_silent():
    rng = np.random.default_rng(29)
    clip = np.clip(0.005 + 0.001 * rng.standard_normal(N), 0, 1)
    clip[500:] *= 3.5  # 0.005 -> 0.0175: relatively large, absolutely tiny
    run = _run({"policy/clipfrac_avg": clip}, {"clipfrac": "policy/clipfrac_avg"}, framework="trl-ppo")
    assert _findings(run, "PS002") == []


def test_clip_fraction_high_from_the_first_update_says_so_without_nan():
    rng = np.random.default_rng(31)
    clip = np.clip(0.6 + 0.05 * rng.standard_normal(60), 0, 1)
    approx_kl = np.abs(2.0 + 0.3 * rng.standard_normal(60))
    run = _run({"train/clip_fraction": clip, "train/approx_kl": approx_kl},
               {"clipfrac": "train/clip_fraction", "kl.step": "train/approx_kl"})
    [finding] = _findings(run, "PS002")
    assert "nan" not in finding.summary
    assert "from the first logged updates" in finding.summary
