"""Each PPO update moves the policy too far.

What it detects
---------------
The per-update KL between the rollout policy and the updated policy (`kl.step`: SB3
`train/approx_kl`, CleanRL `losses/approx_kl`, TRL `policy/approxkl_avg`, verl `actor/ppo_kl`)
staying far above a normal target, or the mean importance ratio (`ratio.mean`, TRL `val/ratio`)
staying far from 1. Alarm levels: approx KL above 0.075 for classic control (1.5x the upper
`target_kl` of 0.05, the early-stopping factor of SB3 and Spinning Up) or above 0.03 for LLM
RLHF (10x the ~2.4e-3 of a healthy PyTorch RLHF run); a mean ratio above 2.0 or below 0.5 (TRL
docs: "should float around 1.0", values "like 2.0 ... or 0.1" mean updates are "too drastic").
The condition must hold for several consecutive logged updates (a rolling median), so a single
odd minibatch does not fire; on-policy runs where the ratio is identically 1 and the approx KL
is ~0 (TRL GRPO with `num_iterations=1`, verl with one epoch and minibatch) never fire.

Why it matters
--------------
PPO's guarantee is local: the clipped surrogate objective only approximates the true objective
while the new policy stays close to the policy that collected the data. The advantage estimates
A = Q - V were computed for the old policy; after a large step they describe actions the policy
no longer takes, so the update follows stale, biased gradients and performance can collapse in a
single iteration. A large approx KL together with a high clip fraction means the optimiser is
pushing against the clip on most samples and wasting the batch; in RLHF it also feeds straight
into a KL-to-reference blow-up.

What to try
-----------
- Lower `learning_rate` (TRL, SB3 `learning_rate`, verl `actor_rollout_ref.actor.optim.lr`).
- Take fewer passes over each batch: SB3 `n_epochs`, TRL `num_ppo_epochs` / GRPO `num_iterations`, verl `actor_rollout_ref.actor.ppo_epochs`; or use larger minibatches.
- Enable KL early stopping: SB3/CleanRL `target_kl` (e.g. 0.01-0.05), TRL-old `early_stopping=True` with `target_kl`.
- Tighten the clip range: SB3 `clip_range`, TRL `cliprange`, verl `actor_rollout_ref.actor.clip_ratio`.
- Check `max_grad_norm` / gradient clipping is on, and that rollouts and training use the same weights (stale rollouts make every step look large).

References
----------
- metrics.md P3 (Spinning Up target_kl "usually small, 0.01 or 0.05"; SB3 ppo.py early stop at 1.5 x target_kl; TRL PPO docs on val/ratio)
- https://huggingface.co/blog/the_n_implementation_details_of_rlhf_with_ppo (healthy approxkl 3.7e-4 to 2.4e-3)
- Schulman et al., "Proximal Policy Optimization Algorithms", arXiv:1707.06347
"""

from __future__ import annotations

import numpy as np

from ..findings import Finding
from ..model import Run
from . import _common, stats
from .base import Rule, fmt_step, fmt_value

TARGET_KL_CLASSIC = 0.05  # [SpinUp] target_kl "usually small, 0.01 or 0.05" (upper value)
EARLY_STOP_FACTOR = 1.5  # [SB3] ppo.py / [SpinUp]: stop when approx_kl > 1.5 * target_kl
KL_STEP_ALARM_CLASSIC = EARLY_STOP_FACTOR * TARGET_KL_CLASSIC
KL_STEP_ALARM_LLM = 0.03  # Heuristic: ~10x the healthy PyTorch RLHF approxkl of 2.4e-3 [NImpl]
CRITICAL_FACTOR = 10.0  # Heuristic: 10x the alarm level is far beyond target
RATIO_HIGH = 2.0  # [TRL-ppodoc] ratio "like 2.0 or 1000.0" is too drastic
RATIO_LOW = 0.5  # Heuristic: 1 / RATIO_HIGH (TRL docs call 0.1 "too small")
RATIO_CRITICAL_HIGH, RATIO_CRITICAL_LOW = 10.0, 0.1  # [TRL-old] ratio_threshold 10 skips the batch; [TRL-ppodoc] 0.1
PERSIST_FRACTION = 0.03  # Heuristic: sustained for 3 % of the logged updates ...
PERSIST_MIN = 3  # ... and at least 3 consecutive updates
BURST_FACTOR = 3.0  # Heuristic: isolated updates at 3x the alarm level are reported (info)
BURST_MIN = 3  # Heuristic: ... when there are at least 3 of them


def kl_step_alarm(run: Run) -> float:
    return KL_STEP_ALARM_LLM if _common.is_llm(run) else KL_STEP_ALARM_CLASSIC


def _kl_step_finding(run: Run) -> Finding | None:
    kl = _common.prepared(run, "kl.step")
    n = len(kl)
    if n < _common.MIN_POINTS // 2:
        return None
    alarm = kl_step_alarm(run)
    values = kl.to_numpy()
    smoothed = stats.rolling_median(values, max(3, _common.smoothing_window(n) // 2), center=True)
    persist = max(PERSIST_MIN, int(n * PERSIST_FRACTION))
    sustained = stats.persistent(smoothed > alarm, persist)
    tag = Rule.tag(run, "kl.step")
    family = "LLM RLHF" if _common.is_llm(run) else "classic PPO"
    if sustained.any():
        first = int(np.argmax(sustained))
        onset = _common.ramp_onset(smoothed, first)
        peak = int(np.argmax(smoothed))
        share = float(sustained.mean())
        last = stats.runs(sustained)[-1][1]
        end_step = None if last >= n else _common.step_at(kl, last - 1)
        severity = "critical" if smoothed[peak] >= CRITICAL_FACTOR * alarm else "warning"
        return RULE.finding(
            severity=severity,
            summary=(
                f"The per-update approx KL ({tag}) stayed above {fmt_value(alarm)} (the {family} alarm level) from step "
                f"{fmt_step(kl.index[first])}, peaking at {fmt_value(smoothed[peak])} (rolling median) at step "
                f"{fmt_step(kl.index[peak])}; {share:.0%} of the logged updates are beyond it."
            ),
            onset_step=kl.index[onset],
            peak_step=kl.index[peak],
            end_step=end_step,
            metrics=[tag],
            evidence={
                "alarm_level": alarm,
                "peak_rolling_median": float(smoothed[peak]),
                "median_overall": float(np.median(values)),
                "share_of_updates_above": share,
                "framework_family": family,
            },
            confidence=0.85 if severity == "critical" else 0.75,
        )
    bursts = np.flatnonzero(values > BURST_FACTOR * alarm)
    if len(bursts) >= BURST_MIN:
        peak = int(np.argmax(values))
        return RULE.finding(
            severity="info",
            summary=(
                f"{len(bursts)} isolated updates had an approx KL ({tag}) above {fmt_value(BURST_FACTOR * alarm)}, "
                f"up to {fmt_value(values[peak])} at step {fmt_step(kl.index[peak])}; between them the step size is normal."
            ),
            onset_step=kl.index[bursts[0]],
            peak_step=kl.index[peak],
            end_step=kl.index[bursts[-1]],
            metrics=[tag],
            evidence={"alarm_level": alarm, "bursts": len(bursts), "max": float(values[peak])},
            confidence=0.5,
        )
    return None


def _ratio_finding(run: Run) -> Finding | None:
    ratio = _common.prepared(run, "ratio.mean")
    n = len(ratio)
    if n < _common.MIN_POINTS // 2:
        return None
    values = ratio.to_numpy()
    smoothed = stats.rolling_median(values, max(3, _common.smoothing_window(n) // 2), center=True)
    persist = max(PERSIST_MIN, int(n * PERSIST_FRACTION))
    outside = (smoothed > RATIO_HIGH) | (smoothed < RATIO_LOW)
    sustained = stats.persistent(outside, persist)
    if not sustained.any():
        return None
    first = int(np.argmax(sustained))
    deviation = np.abs(np.log(np.clip(smoothed, 1e-12, None)))
    onset = _common.ramp_onset(deviation, first)
    peak = int(np.argmax(np.where(sustained, deviation, -1)))
    last = stats.runs(sustained)[-1][1]
    critical = bool(np.any(sustained & ((smoothed > RATIO_CRITICAL_HIGH) | (smoothed < RATIO_CRITICAL_LOW))))
    tag = Rule.tag(run, "ratio.mean")
    return RULE.finding(
        severity="critical" if critical else "warning",
        title="Importance ratio far from 1",
        summary=(
            f"The mean importance ratio ({tag}) left [{fmt_value(RATIO_LOW)}, {fmt_value(RATIO_HIGH)}] from step "
            f"{fmt_step(ratio.index[first])} and reached {fmt_value(smoothed[peak])} at step {fmt_step(ratio.index[peak])} "
            "(a healthy ratio floats around 1.0)."
        ),
        onset_step=ratio.index[onset],
        peak_step=ratio.index[peak],
        end_step=None if last >= n else _common.step_at(ratio, last - 1),
        metrics=[tag],
        evidence={"ratio_bounds": [RATIO_LOW, RATIO_HIGH], "extreme_rolling_median": float(smoothed[peak]), "points_outside": int(sustained.sum())},
        confidence=0.8,
    )


def detect(run: Run) -> list[Finding]:
    return [f for f in (_kl_step_finding(run), _ratio_finding(run)) if f is not None]


RULE = Rule(
    "PS001",
    "policy-step-too-large",
    "policy_step_too_large",
    needs_any=("kl.step", "ratio.mean"),
    doc=__doc__,
    detect=detect,
)
