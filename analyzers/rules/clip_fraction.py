"""The PPO clip is active on an unusually large share of samples.

What it detects
---------------
The clip fraction (`clipfrac`: SB3 `train/clip_fraction`, CleanRL `losses/clipfrac`, TRL
`policy/clipfrac_avg`, GRPO `clip_ratio/region_mean`, verl `actor/pg_clipfrac`) sustained above
0.3 for classic PPO or 0.1 for LLM RLHF (whose frameworks count only samples where the clipped
term is active, so their values are lower for the same update), or jumping to more than 3x its
own rolling median while above half that level. When the per-update approx KL (`kl.step`) is
logged and stays below its alarm level over the same stretch, the finding is info only: several
metrics must agree before this rule warns. A clip fraction of exactly 0 is expected when
training is fully on-policy (TRL GRPO `num_iterations=1`, one epoch and minibatch in verl): the
ratio is identically 1, and this rule stays silent.

Why it matters
--------------
The clip is PPO's trust region: once |ratio - 1| exceeds the clip range the sample contributes
no gradient in the direction that would move the policy further. A high clip fraction means most
of the batch is outside the region where the surrogate objective is trustworthy, so the update is
driven by the few samples left and the effective learning signal shrinks, while the policy still
drifts. It usually comes with a large per-update approx KL (too high a learning rate or too many
epochs over the same rollout) and precedes instability or entropy collapse.

What to try
-----------
- Lower `learning_rate`.
- Take fewer passes over each batch: SB3 `n_epochs`, TRL `num_ppo_epochs` / GRPO `num_iterations`, verl `actor_rollout_ref.actor.ppo_epochs`.
- Enable `target_kl` early stopping (SB3/CleanRL) so an update stops when it has moved far enough.
- If one side binds (GRPO `clip_ratio/high_mean` vs `low_mean`), consider clip-higher (`epsilon_high=0.28` in TRL GRPO, `clip_ratio_high` in verl) rather than a larger symmetric `cliprange`/`clip_range`.

References
----------
- metrics.md P4 (Heuristic: > 3x rolling median, > 0.3 classic, > 0.1 LLM; SB3 docs example 0.243; RLHF start-of-run 0.005-0.02)
- metrics.md §1.4 (clip-fraction definitions; on-policy clip metrics are 0)
- Yu et al., "DAPO", arXiv:2503.14476 (clip-higher)
"""

from __future__ import annotations

import numpy as np

from ..findings import Finding
from ..model import Run
from . import _common, stats
from .base import Rule, fmt_step, fmt_value

CLIPFRAC_ALARM_CLASSIC = 0.3  # [metrics.md P4] Heuristic, classic RL (|r-1| > eps definition)
CLIPFRAC_ALARM_LLM = 0.1  # [metrics.md P4] Heuristic, LLM frameworks (active-clip definition)
JUMP_FACTOR = 3.0  # [metrics.md P4] Heuristic: a jump of more than 3x the rolling median
BASELINE_FRACTION = 0.1  # Heuristic: trailing baseline over 10 % of the run
CRITICAL_FACTOR = 2.0  # Heuristic: twice the alarm level (0.6 classic) is critical
PERSIST_FRACTION = 0.03  # Heuristic: sustained for 3 % of the logged updates ...
PERSIST_MIN = 3  # ... and at least 3 consecutive updates
ZERO_LEVEL = 1e-6  # below this the clip never binds (on-policy)


def _kl_step_agrees(run: Run, first_step: int, last_step: int) -> bool | None:
    """Whether the per-update approx KL was also beyond its alarm level over the flagged stretch.

    None when no approx KL is logged (the clip fraction then stands alone).
    """
    from .policy_step_too_large import kl_step_alarm

    kl = stats.finite(run.metric("kl.step"))
    if len(kl) == 0:
        return None
    stretch = kl[(kl.index >= first_step) & (kl.index <= last_step)]
    if len(stretch) == 0:
        return None
    return bool(np.median(stretch.to_numpy()) > kl_step_alarm(run))


def detect(run: Run) -> list[Finding]:
    clip = _common.prepared(run, "clipfrac")
    n = len(clip)
    if n < _common.MIN_POINTS // 2:
        return []
    values = clip.to_numpy()
    if np.nanmax(np.abs(values)) < ZERO_LEVEL:
        return []  # on-policy: the ratio is identically 1 (metrics.md §1.4)
    alarm = CLIPFRAC_ALARM_LLM if _common.is_llm(run) else CLIPFRAC_ALARM_CLASSIC
    smoothed = stats.rolling_median(values, max(3, _common.smoothing_window(n) // 2), center=True)
    baseline, _ = stats.trailing_baseline(values, stats.window_for(n, BASELINE_FRACTION, 5, 500))
    jumped = (smoothed > JUMP_FACTOR * np.nan_to_num(baseline, nan=np.inf)) & (smoothed > alarm / 2)
    alarmed = (smoothed > alarm) | jumped
    persist = max(PERSIST_MIN, int(n * PERSIST_FRACTION))
    sustained = stats.persistent(alarmed, persist)
    if not sustained.any():
        return []
    first = int(np.argmax(sustained))
    onset = _common.ramp_onset(smoothed, first)
    peak = int(np.argmax(np.where(sustained, smoothed, -np.inf)))
    last = stats.runs(sustained)[-1][1]
    share = float(sustained.mean())
    severity = "critical" if smoothed[peak] >= CRITICAL_FACTOR * alarm else "warning"
    corroborated = _kl_step_agrees(run, clip.index[first], clip.index[last - 1])
    if corroborated is False and severity == "warning":
        severity = "info"  # several metrics must agree before we alarm (a clip fraction near 0.3 alone is common)
    tag = Rule.tag(run, "clipfrac")
    family = "LLM RLHF" if _common.is_llm(run) else "classic PPO"
    before = _common.level(values, max(0, onset - max(5, n // 10)), onset)
    return [
        RULE.finding(
            severity=severity,
            summary=(
                f"The clip fraction ({tag}) "
                + (f"rose from {fmt_value(before)} to " if np.isfinite(before) else "was high from the first logged updates, reaching ")
                + f"{fmt_value(smoothed[peak])} "
                f"(rolling median) at step {fmt_step(clip.index[peak])}, above the {family} level of {fmt_value(alarm)} "
                f"or 3x its recent median for {share:.0%} of the logged updates from step {fmt_step(clip.index[first])}."
            ),
            onset_step=clip.index[onset],
            peak_step=clip.index[peak],
            end_step=None if last >= n else _common.step_at(clip, last - 1),
            metrics=[tag],
            evidence={
                "alarm_level": alarm,
                "level_before_onset": before,
                "peak_rolling_median": float(smoothed[peak]),
                "share_of_updates_flagged": share,
                "framework_family": family,
                "approx_kl_agrees": corroborated,
            },
            confidence=0.8 if corroborated else 0.6,
        )
    ]


RULE = Rule("PS002", "clip-fraction-too-high", "policy_step_too_large", needs=("clipfrac",), doc=__doc__, detect=detect)
