"""The rollout engine and the training engine disagree about the policy's probabilities.

What it detects
---------------
With vLLM/SGLang rollouts, the log-probabilities the inference engine sampled with differ from
the ones the trainer computes. The rule fires when that gap grows in a sustained way: the
rollout importance-sampling ratio (`ratio.is_mean`: TRL
`sampling/importance_sampling_ratio/mean`, verl `rollout_corr/rollout_is_mean`) stays more than
0.1 away from 1, or the log-probability difference (`mismatch.logp_diff`: TRL
`sampling/sampling_logp_difference/mean`, verl `training/rollout_probs_diff_mean`, OpenRLHF
`vllm_kl`) rises to 5x its early level and above a small absolute floor. A small, stable gap
is normal (different kernels and precision) and is not flagged.

Why it matters
--------------
PPO and GRPO assume the samples came from the policy being trained (or from pi_old, which the
importance ratio corrects for). When the rollout engine's distribution drifts from the
trainer's, training silently becomes off-policy: the ratio pi_new/pi_old is computed against
the wrong denominator, clipping no longer bounds the real update, and the gradient is biased.
This mismatch "has been observed to destabilize training" and often precedes a collapse (entropy
spike, KL blow-up, NaN). Typical causes are precision differences (bf16 vs fp32 logits), a
weight sync that failed or lagged, MoE routing differences, or sampling settings that differ
between the engines.

What to try
-----------
- Turn on importance-sampling correction: TRL `vllm_importance_sampling_correction=True` (truncated IS, `vllm_importance_sampling_cap`), verl `algorithm.rollout_correction` (TIS/MIS).
- Check weight synchronisation between trainer and rollout engine after each step (and after resuming).
- Match precision and sampling settings: compute rollout logprobs in fp32 where possible; the same `temperature`, `top_p`, `top_k` in both engines.
- Lower `learning_rate` or the number of updates per rollout while investigating.

References
----------
- metrics.md P13 (TRL `sampling/*`, verl `rollout_corr/*` and `training/rollout_probs_diff_*`, OpenRLHF `vllm_kl`)
- TRL docs, GRPO trainer: "Dealing with the Training-Inference Mismatch"; verl docs `algo/rollout_corr.md`
- Yao et al., "Your Efficient RL Framework Secretly Brings You Off-Policy RL Training" / "When Speed Kills Stability" (richardli.xyz/rl-collapse)
"""

from __future__ import annotations

import numpy as np

from ..findings import Finding
from ..model import Run
from . import _common, _signals, stats
from .base import Rule, fmt_step, fmt_value

IS_DEVIATION = 0.1  # Heuristic: a mean IS ratio more than 0.1 from 1 (healthy runs sit within ~0.01)
IS_CRITICAL_DEVIATION = 0.3  # Heuristic
LOGP_GROWTH = 5.0  # Heuristic: the late logp difference is 5x its early level
LOGP_FLOOR = 0.01  # Heuristic: and at least 0.01 (nats or probability): below that the gap is negligible
LOGP_CRITICAL_GROWTH = 20.0  # Heuristic
PERSIST_FRACTION, PERSIST_MIN = 0.05, 5  # Heuristic: 5 % of the run, at least 5 logged points


def _is_ratio(run: Run) -> Finding | None:
    ratio = _common.prepared(run, "ratio.is_mean")
    n = len(ratio)
    if n < _common.MIN_POINTS:
        return None
    deviation = np.abs(_common.smooth(ratio.to_numpy()) - 1.0)
    sustained = stats.persistent(deviation > IS_DEVIATION, _signals.persist_length(n, PERSIST_FRACTION, PERSIST_MIN))
    if not sustained.any():
        return None
    first = int(np.argmax(sustained))
    onset = _common.ramp_onset(deviation, first, direction=1)
    peak = int(np.argmax(deviation))
    worst = float(ratio.to_numpy()[peak]) if abs(ratio.to_numpy()[peak] - 1) >= deviation[peak] else float(1 + deviation[peak])
    critical = float(deviation.max()) >= IS_CRITICAL_DEVIATION
    tag = Rule.tag(run, "ratio.is_mean")
    return RULE.finding(
        severity="critical" if critical else "warning",
        summary=(
            f"The rollout importance-sampling ratio ({tag}) left 1 from step {fmt_step(ratio.index[onset])} and "
            f"reached {fmt_value(worst)} at step {fmt_step(ratio.index[peak])} (healthy runs stay within "
            f"{fmt_value(IS_DEVIATION)} of 1): the rollout engine no longer samples from the policy being trained."
        ),
        onset_step=int(ratio.index[onset]),
        peak_step=int(ratio.index[peak]),
        metrics=[tag],
        evidence={"max_deviation_from_1": float(deviation.max()), "points_beyond": int(sustained.sum())},
        confidence=0.8,
    )


def _logp_gap(run: Run) -> Finding | None:
    gap = _common.prepared(run, "mismatch.logp_diff")
    n = len(gap)
    if n < _common.MIN_POINTS:
        return None
    values = np.abs(gap.to_numpy())
    smoothed = _common.smooth(values)
    early, _ = stats.early_baseline(smoothed)
    threshold = max(LOGP_GROWTH * early, LOGP_FLOOR)
    sustained = stats.persistent(smoothed > threshold, _signals.persist_length(n, PERSIST_FRACTION, PERSIST_MIN))
    if not sustained.any() or stats.trend(gap).direction <= 0:
        return None
    first = int(np.argmax(sustained))
    onset = _common.ramp_onset(smoothed, first, direction=1)
    peak = int(np.argmax(smoothed))
    growth = float(smoothed[peak]) / max(early, 1e-12)
    tag = Rule.tag(run, "mismatch.logp_diff")
    return RULE.finding(
        severity="critical" if growth >= LOGP_CRITICAL_GROWTH else "warning",
        summary=(
            f"The training/inference probability gap ({tag}) grew from {fmt_value(early)} to "
            f"{fmt_value(float(smoothed[peak]))} ({fmt_value(growth, 2)}x) between steps "
            f"{fmt_step(gap.index[onset])} and {fmt_step(gap.index[peak])}: the rollouts are drifting off-policy."
        ),
        onset_step=int(gap.index[onset]),
        peak_step=int(gap.index[peak]),
        metrics=[tag],
        evidence={"early_level": early, "peak_level": float(smoothed[peak]), "growth": growth, "threshold": threshold},
        confidence=0.75,
    )


def detect(run: Run) -> list[Finding]:
    found = [f for f in (_is_ratio(run), _logp_gap(run)) if f is not None]
    if len(found) <= 1:
        return found
    # Both signals agree: one finding, dated by the earlier onset, with both metrics.
    first = min(found, key=lambda f: f.onset_step)
    other = found[1] if first is found[0] else found[0]
    first.metrics += [m for m in other.metrics if m not in first.metrics]
    first.summary += " " + other.summary
    first.evidence = {**other.evidence, **first.evidence}
    first.confidence = 0.9
    if "critical" in (first.severity, other.severity):
        first.severity = "critical"
    return [first]


RULE = Rule(
    "MIS001",
    "train-inference-mismatch",
    "train_inference_mismatch",
    needs_any=("ratio.is_mean", "mismatch.logp_diff"),
    preview=True,
    doc=__doc__,
    detect=detect,
)
