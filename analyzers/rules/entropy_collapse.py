"""Policy entropy collapses toward zero.

What it detects
---------------
Per-token or per-action policy entropy (`entropy`: TRL `policy/entropy_avg`, GRPO `entropy`,
verl `actor/entropy`, CleanRL `losses/entropy`, SB3 `train/entropy_loss` negated) falling to
10 % or less of its starting level (the median of the first 5 % of the run) and staying there
for at least 5 % of the run; critical below 2 % (effectively deterministic). For continuous
actions the entropy is a differential entropy that can be negative (SB3 `entropy_loss` > 0 is
then normal), so ratios mean nothing: a drop of at least 3 nats is reported, as info only,
because a healthy Gaussian policy also narrows and the action dimension is unknown. The onset is
the change point where the decline began.

Why it matters
--------------
Entropy is the policy's remaining exploration. Policy-gradient updates raise the probability of
actions with positive advantage, and because that covariance stays positive entropy falls
monotonically unless something pushes back (Cui et al. 2025 find performance is bottlenecked by
this entropy exhaustion). Once the policy is (near) deterministic, every sample of a prompt or
state is the same action: advantages within a group vanish, the gradient goes to zero and
learning stops, often at a mediocre policy. In RLHF, collapse is mode collapse: "no matter what
query is input, the output is the same response", frequently together with a KL blow-up or
reward hacking.

What to try
-----------
- Add or raise an entropy bonus: SB3 `ent_coef` (e.g. 0.01), CleanRL `ent_coef`, verl `actor_rollout_ref.actor.entropy_coeff`, TRL GRPO `entropy_coef`; use with care in LLMs.
- Raise the KL coefficient to the reference (TRL `beta` / `kl_coef`, verl `actor_rollout_ref.actor.kl_loss_coef`), which keeps the policy as spread as the reference.
- Use clip-higher (TRL GRPO `epsilon_high=0.28`, verl `clip_ratio_high`) or Clip-Cov/KL-Cov so low-probability tokens can still grow.
- Lower `learning_rate` and the number of passes per batch (`n_epochs`, `num_ppo_epochs`, `num_iterations`).
- Raise the sampling `temperature` for rollouts, and check whether the reward is saturated (see reward_saturation / zero_learning_signal).

References
----------
- metrics.md P7 (Jones: relative entropy near 0 means collapse; huggingface/trl#204)
- Cui et al., "The Entropy Mechanism of Reinforcement Learning for Reasoning Language Models", arXiv:2505.22617
- Yu et al., "DAPO", arXiv:2503.14476 (clip-higher)
- metrics.md §1.4 (SB3 entropy sign; continuous differential entropy)
"""

from __future__ import annotations

import numpy as np

from ..findings import Finding
from ..model import Run
from . import _common, stats
from .base import Rule, fmt_step, fmt_value

COLLAPSE_FRACTION = 0.1  # Heuristic ([Jones] "near 0" relative entropy): 10 % of the starting level
# LLM token entropy: a converged classic-control policy may legitimately become near-deterministic
# (SB3 Acrobot healthy: 1.1 -> 0.17 nats, 16 % of its start), but a language policy whose token
# entropy loses three quarters of its start has collapsed onto a few modes (Cui et al. 2025,
# arXiv:2505.22617: performance plateaus as token entropy is exhausted; healthy GRPO runs keep
# 40-100 % of it). Heuristic.
LLM_COLLAPSE_FRACTION = 0.25
CRITICAL_FRACTION = 0.02  # Heuristic: 2 % of the start is effectively deterministic
CONTINUOUS_DROP_NATS = 3.0  # Heuristic: a 3-nat drop is a ~20x narrower Gaussian in one dimension
PERSIST_FRACTION = 0.05  # Heuristic: collapsed for 5 % of the run ...
PERSIST_MIN = 5  # ... and at least 5 consecutive logged points
PAUSE_FRACTION = 0.1  # Heuristic: a collapse that pauses for less than a tenth of the run is one collapse


def detect(run: Run) -> list[Finding]:
    profile = _common.entropy_profile(run)
    if profile is None:
        return []
    entropy, smoothed, start, continuous = profile
    n = len(entropy)
    persist = max(PERSIST_MIN, int(n * PERSIST_FRACTION))
    if continuous:
        collapsed = smoothed <= start - CONTINUOUS_DROP_NATS
    else:
        if not start > 0:
            return []
        fraction = LLM_COLLAPSE_FRACTION if _common.is_llm(run) else COLLAPSE_FRACTION
        collapsed = smoothed <= fraction * start
    sustained = stats.persistent(collapsed, persist)
    if not sustained.any():
        return []
    first = int(np.argmax(sustained))
    low = int(np.argmin(smoothed))
    if continuous:
        onset = _common.ramp_onset(smoothed, first, direction=-1)
    else:
        # A collapse is multiplicative: date it by the change in the decline rate of log entropy,
        # so a healthy slow decline since step 0 is not taken for the start of the collapse.
        floor = max(float(smoothed[low]), start * 1e-3, 1e-12)
        onset = _common.growth_onset(-np.log(np.maximum(smoothed, floor)), first, max(low, first),
                                     calm_points=max(_common.CALM_POINTS, int(n * PAUSE_FRACTION)))
    last = stats.runs(sustained)[-1][1]
    ongoing = last >= n
    tag = Rule.tag(run, "entropy")
    if continuous:
        severity = "info"
        change = f"dropped by {fmt_value(start - smoothed[low])} nats"
        note = " Continuous actions: differential entropy, judged by its change in nats; check the action std."
    else:
        severity = "critical" if smoothed[low] <= CRITICAL_FRACTION * start else "warning"
        change = f"fell to {smoothed[low] / start:.0%} of its starting level"
        note = ""
    summary = (
        f"Policy entropy ({tag}) {change}: from {fmt_value(start)} to {fmt_value(smoothed[low])} (rolling median) "
        f"at step {fmt_step(entropy.index[low])}, declining from step {fmt_step(entropy.index[onset])}"
        + (" and still collapsed at the last step." if ongoing else f"; it recovered after step {fmt_step(entropy.index[last - 1])}.")
        + note
    )
    return [
        RULE.finding(
            severity=severity,
            summary=summary,
            onset_step=entropy.index[onset],
            peak_step=entropy.index[low],
            end_step=None if ongoing else entropy.index[last - 1],
            metrics=[tag],
            evidence={
                "starting_entropy": start,
                "lowest_rolling_median": float(smoothed[low]),
                "fraction_of_start": float(smoothed[low] / start) if start > 0 and not continuous else None,
                "continuous_actions": continuous,
                "first_collapsed_step": int(entropy.index[first]),
            },
            confidence=0.5 if continuous else (0.85 if severity == "critical" else 0.75),
        )
    ]


RULE = Rule("ENT001", "entropy-collapse", "entropy_collapse", needs=("entropy",), doc=__doc__, detect=detect)
