"""Policy entropy rises sharply and stays high.

What it detects
---------------
Policy entropy (`entropy`, positive convention; SB3 `train/entropy_loss` negated) rising to
2.5x or more of its starting level (the median of the first 5 % of the run) and by at least
0.5 nats, sustained for at least 5 % of the run; critical at 5x. For continuous actions
(differential entropy, can be negative) a sustained rise of at least 3 nats is reported instead.
The onset is the change point where the rise began.

Why it matters
--------------
With no entropy bonus, PPO/RLHF entropy normally falls slowly: each update concentrates
probability on actions with positive advantage. A large, sustained rise means the policy is being
pushed toward uniform: an entropy bonus that dominates the reward (verl once changed its default
`entropy_coeff` from 0.001 to 0 because it "might be causing an entropy explosion" in GRPO),
updates that are too large, noisy advantages with no real signal, or a numerical problem in the
log-probabilities. In an LLM it shows up as gibberish and random tokens (huggingface/trl#199),
often with truncated, overlong responses, and it frequently precedes a crash (verl#2738).

What to try
-----------
- Lower or remove the entropy bonus: SB3 `ent_coef`, verl `actor_rollout_ref.actor.entropy_coeff`, TRL GRPO `entropy_coef`.
- Lower `learning_rate` and check the update size (approx KL, clip fraction: see PS001/PS002).
- Keep the policy near the reference with the KL term (TRL `beta` / `kl_coef`, verl `kl_loss_coef`) rather than an entropy bonus.
- Check the truncation rate (`completions/clipped_ratio`, `response_length/clip_ratio`) and the rollout/training log-probability mismatch (vLLM/SGLang).
- Inspect samples after the onset step for degenerate text.

References
----------
- metrics.md P7 (Jones: "a large permanent increase is suspect"; huggingface/trl#199; verl-project/verl#2738; verl PR #781)
- https://andyljones.com/posts/rl-debugging.html
"""

from __future__ import annotations

import numpy as np

from ..findings import Finding
from ..model import Run
from . import _common, stats
from .base import Rule, fmt_step, fmt_value

EXPLOSION_FACTOR = 2.5  # Heuristic ([Jones] "large permanent increase is suspect")
CRITICAL_FACTOR = 5.0  # Heuristic: 5x the starting entropy
MIN_RISE_NATS = 0.5  # Heuristic: smaller absolute rises are harmless whatever the ratio
CONTINUOUS_RISE_NATS = 3.0  # Heuristic: a ~20x wider Gaussian in one dimension
PERSIST_FRACTION = 0.05  # Heuristic: high for 5 % of the run ...
PERSIST_MIN = 5  # ... and at least 5 consecutive logged points


def detect(run: Run) -> list[Finding]:
    profile = _common.entropy_profile(run)
    if profile is None:
        return []
    entropy, smoothed, start, continuous = profile
    n = len(entropy)
    persist = max(PERSIST_MIN, int(n * PERSIST_FRACTION))
    if continuous:
        high = smoothed >= start + CONTINUOUS_RISE_NATS
    else:
        if not start > 0:
            return []
        high = (smoothed >= EXPLOSION_FACTOR * start) & (smoothed - start >= MIN_RISE_NATS)
    sustained = stats.persistent(high, persist)
    if not sustained.any():
        return []
    first = int(np.argmax(sustained))
    onset = _common.ramp_onset(smoothed, first)
    peak = int(np.argmax(smoothed))
    last = stats.runs(sustained)[-1][1]
    ongoing = last >= n
    factor = float(smoothed[peak] / start) if start > 0 and not continuous else None
    severity = "critical" if factor is not None and factor >= CRITICAL_FACTOR else "warning"
    tag = Rule.tag(run, "entropy")
    change = f"{factor:.1f}x its starting level" if factor is not None else f"+{fmt_value(smoothed[peak] - start)} nats"
    return [
        RULE.finding(
            severity=severity,
            summary=(
                f"Policy entropy ({tag}) rose from {fmt_value(start)} to {fmt_value(smoothed[peak])} (rolling median, {change}) "
                f"at step {fmt_step(entropy.index[peak])}, rising from step {fmt_step(entropy.index[onset])}"
                + (" and still high at the last step." if ongoing else f"; back down after step {fmt_step(entropy.index[last - 1])}.")
            ),
            onset_step=entropy.index[onset],
            peak_step=entropy.index[peak],
            end_step=None if ongoing else entropy.index[last - 1],
            metrics=[tag],
            evidence={
                "starting_entropy": start,
                "peak_rolling_median": float(smoothed[peak]),
                "factor_over_start": factor,
                "continuous_actions": continuous,
                "first_high_step": int(entropy.index[first]),
            },
            confidence=0.8 if severity == "critical" else 0.7,
        )
    ]


RULE = Rule("ENT002", "entropy-explosion", "entropy_explosion", needs=("entropy",), doc=__doc__, detect=detect)
