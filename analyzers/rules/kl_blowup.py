"""KL to the reference model runs away.

What it detects
---------------
The KL divergence between the policy and the frozen reference (SFT) model (`kl.ref`: TRL
`objective/kl`, GRPO `kl`, verl `actor/reward_kl_penalty` / `actor/kl_loss`, OpenRLHF `kl`,
trlx `policy/sqrt_kl` squared) rises in a sustained way, with a change point, beyond a budget
that depends on its unit: 10 nats per sequence (TRL's "keep it between 0 and 10", adaptive
target 6) or 0.5 nats per token for token-mean KL (5x verl's adaptive target of 0.1). The
onset is where the run-away began, not the step where the budget was crossed: a runaway KL
grows roughly exponentially, so the rule reads the growth rate of log KL (its local slope) and
walks back from the middle of the rise to where that rate drops to the level it had before
(a healthy KL that rose slowly since the start is the earlier trend, not the runaway). When
the unit is unknown (no framework recognised, e.g. a W&B panel export holding only the KL), a
KL over 10 is judged as above; below it, the KL is judged by its growth against its own early
level: a sustained change point after which it stays 5x that level (floored at 0.1) and above
0.5, reported as a warning at lower confidence, since a per-sequence KL of a few nats is normal. A
rising KL coefficient (`objective/kl_coef`, verl `actor/kl_coef`) while KL is above budget means
the adaptive controller is chasing it and losing.

Why it matters
--------------
The RLHF objective is reward minus beta times the KL to the reference: the KL penalty keeps the
policy in the region where the reward model was trained and can be trusted. When KL runs away,
the policy has left that region; the reward model is a learned proxy that the policy can now game
(Goodhart's law), and Gao et al. (2022) show the true (gold) reward peaks and then falls as KL
grows while the proxy reward keeps rising. A runaway KL is therefore the usual first sign of
over-optimisation, mode collapse or gibberish, and with an adaptive controller a climbing
coefficient "often increases before numerical instabilities" (TRL docs). The three forces pull
against each other: reward ranking pushes the policy away, PPO's clipping limits each step, and
only the KL term pulls it back.

What to try
-----------
- Raise the KL coefficient: TRL PPO `kl_coef` (or `init_kl_coef` with `adap_kl_ctrl=True` and `target`), TRL GRPO `beta`, verl `algorithm.kl_ctrl.kl_coef` / `actor_rollout_ref.actor.kl_loss_coef`, OpenRLHF `--init_kl_coef`.
- Use an adaptive controller with a target (TRL-old `target=6`, verl `algorithm.kl_ctrl.type=adaptive` with `target_kl`).
- Lower `learning_rate` and take fewer passes per batch (`num_ppo_epochs`, `num_iterations`, `ppo_epochs`).
- Stop at the best held-out checkpoint: compare eval metrics before the onset step with those after it.
- Inspect generations after the onset and check the reward model for exploitable patterns (length, repetition, special tokens).

References
----------
- metrics.md P1 (TRL FAQ "between 0 and 10"; lm-human-preferences adaptive target 6; verl target_kl 0.1)
- Gao, Schulman, Hilton, "Scaling Laws for Reward Model Overoptimization", arXiv:2210.10760
- huggingface/trl#1098, #204, #41 (KL climbing while reward stalls or collapses)
- https://huggingface.co/blog/the_n_implementation_details_of_rlhf_with_ppo
"""

from __future__ import annotations

import numpy as np

from ..findings import Finding
from ..model import Run
from . import _common, stats
from .base import Rule, fmt_step, fmt_value

SEQUENCE_BUDGET, SEQUENCE_TARGET = 10.0, 6.0  # [TRL-faq] "between 0 and 10"; [NImpl]/[TRL-old] target 6
TOKEN_BUDGET, TOKEN_TARGET = 0.5, 0.1  # Heuristic: 5x verl's adaptive target_kl 0.1 [verl]
CRITICAL_FACTOR = 3.0  # Heuristic: smoothed KL at 3x the budget is far beyond it
RISE_FACTOR = 3.0  # Heuristic: the late level must be 3x the pre-onset level (relative growth)
PERSIST_FRACTION = 0.03  # Heuristic: above budget for 3 % of the run ...
PERSIST_MIN = 5  # ... and at least 5 consecutive logged points
COEF_RISE_FACTOR = 1.5  # Heuristic: an adaptive coefficient that grew 1.5x is chasing the KL
LOG_FLOOR_FRACTION = 1e-3  # Heuristic: KL below a thousandth of the budget counts as 0 on the log scale


# Unknown unit (no framework detected, e.g. a W&B panel export holding only the KL tag): the KL
# starts at 0 by construction (policy = reference), so growth is measured against a floor.
UNKNOWN_UNIT_EARLY_FRACTION = 0.05  # Heuristic: the "early level" is the median of the first 5 % of the run
UNKNOWN_UNIT_GROWTH = 5.0  # Heuristic: the level after the change point is 5x the early level (floored at the token target)
UNKNOWN_UNIT_HOLD = 0.5  # Heuristic: ... and stays above that on half of the points from the onset to the end
UNKNOWN_UNIT_CONFIDENCE = 0.4  # a finding whose scale cannot be checked is a hint, not a verdict


def _early_level(smoothed: np.ndarray) -> float:
    k = max(PERSIST_MIN, int(len(smoothed) * UNKNOWN_UNIT_EARLY_FRACTION))
    return float(np.median(smoothed[:k]))


def _sustained_runaway(smoothed: np.ndarray, onset: int, persist: int) -> bool:
    """Unknown unit: the KL after ``onset`` stays far above its own early level (floored), not a blip."""
    reference = max(_early_level(smoothed[: max(onset, 1)]) if onset > 0 else 0.0, TOKEN_TARGET)
    after = smoothed[onset:]
    if len(after) < persist:
        return False
    high = after > UNKNOWN_UNIT_GROWTH * reference
    return bool(stats.persistent(high, persist).any() and high.mean() >= UNKNOWN_UNIT_HOLD)


def budget_for(run: Run) -> tuple[float, float, str, bool]:
    """(budget, target, unit, unit_known) for the run's reference-KL binding."""
    binding = run.metrics.get("kl.ref")
    unit = binding.unit if binding is not None else None
    if unit == "nats/sequence":
        return SEQUENCE_BUDGET, SEQUENCE_TARGET, unit, True
    if unit == "nats/token":
        return TOKEN_BUDGET, TOKEN_TARGET, unit, True
    if run.framework in _common.TOKEN_KL_FRAMEWORKS:
        return TOKEN_BUDGET, TOKEN_TARGET, "nats/token", True
    if run.framework in _common.SEQUENCE_KL_FRAMEWORKS:
        return SEQUENCE_BUDGET, SEQUENCE_TARGET, "nats/sequence", True
    # Unknown unit: the larger (per-sequence) budget keeps false alarms down.
    return SEQUENCE_BUDGET, SEQUENCE_TARGET, "nats (unit unknown)", False


def _coefficient_chase(run: Run, onset_step: int) -> tuple[float, float] | None:
    """(coefficient before onset, coefficient at its late peak) when the coefficient rose 1.5x."""
    coef = _common.prepared(run, "kl.coef")
    if len(coef) < 4:
        return None
    before = coef[coef.index <= onset_step]
    after = coef[coef.index > onset_step]
    if len(before) == 0 or len(after) == 0:
        return None
    start = float(before.iloc[-min(len(before), 5):].median())
    peak = float(after.max())
    if start > 0 and peak >= COEF_RISE_FACTOR * start:
        return start, peak
    return None


def runaway_onset(smoothed: np.ndarray, first_alarm: int, budget: float) -> int:
    """Position where the run-away that reaches the budget at ``first_alarm`` began.

    A run-away KL grows multiplicatively, so its onset is a change in the slope of log KL, not a
    threshold crossing and not the start of the run (a KL that rose slowly and healthily since
    step 0 is the earlier trend). The reference point is where log KL first covers half of its
    climb from the first alarm to the peak; :func:`_common.growth_onset` walks back from it.
    """
    log_kl = np.log(np.maximum(smoothed, budget * LOG_FLOOR_FRACTION))
    peak = int(np.argmax(smoothed))
    mid_rise = first_alarm
    if peak > first_alarm:
        halfway = 0.5 * (log_kl[first_alarm] + log_kl[peak])
        mid_rise = first_alarm + int(np.argmax(log_kl[first_alarm: peak + 1] >= halfway))
    return _common.growth_onset(log_kl, mid_rise, peak)


def detect(run: Run) -> list[Finding]:
    kl = _common.prepared(run, "kl.ref")
    n = len(kl)
    if n < _common.MIN_POINTS:
        return []
    budget, target, unit, unit_known = budget_for(run)
    values = kl.to_numpy()
    smoothed = _common.smooth(values)
    persist = max(PERSIST_MIN, int(n * PERSIST_FRACTION))
    if not unit_known and not stats.persistent(smoothed > budget, persist).any():
        # Unknown unit and within the per-sequence budget: judge the KL against the smaller
        # (token-mean) budget, but only as a sustained relative runaway (see UNKNOWN_UNIT_*).
        budget, target = TOKEN_BUDGET, TOKEN_TARGET
    above = smoothed > budget
    sustained = stats.persistent(above, persist)
    if not sustained.any():
        return []
    first_alarm = int(np.argmax(sustained))
    onset = runaway_onset(smoothed, first_alarm, budget)
    before = _common.level(smoothed, max(0, onset - max(5, n // 10)), onset + 1)
    peak_pos = int(np.argmax(smoothed))
    peak = float(smoothed[peak_pos])
    # Relative growth: a run that sat above budget from the start did not "run away".
    floor = budget / 10
    if peak < RISE_FACTOR * max(before, floor):
        return []
    judged_by_growth = not unit_known and budget == TOKEN_BUDGET
    if judged_by_growth and not _sustained_runaway(smoothed, onset, persist):
        return []
    rising = stats.trend(kl.iloc[max(0, onset - persist): peak_pos + 1]).direction > 0
    last_above = int(np.flatnonzero(above)[-1])
    ongoing = last_above >= n - 1 - persist // 2
    end_step = None if ongoing else _common.step_at(kl, last_above)
    severity = "critical" if peak >= CRITICAL_FACTOR * budget else "warning"
    onset_step = _common.step_at(kl, onset)
    early = _early_level(smoothed)
    chase = _coefficient_chase(run, onset_step)
    tag = Rule.tag(run, "kl.ref")
    summary = (
        f"KL to the reference ({tag}, {unit}) rose from {fmt_value(before)} to {fmt_value(peak)} "
        f"between steps {fmt_step(onset_step)} and {fmt_step(_common.step_at(kl, peak_pos))} "
        f"(budget {fmt_value(budget)}, target {fmt_value(target)})"
    )
    summary += "; it is still above budget at the last step." if ongoing else f"; back under budget after step {fmt_step(end_step)}."
    if chase:
        summary += (
            f" The KL coefficient rose from {fmt_value(chase[0])} to {fmt_value(chase[1])}: the adaptive "
            "controller is chasing the KL and not catching it."
        )
    if judged_by_growth:
        # Without a unit the size of the KL means little: a warning at most, at lower confidence.
        severity = "warning"
        summary += (
            f" The KL's unit is unknown (no framework detected): judged by its growth against its own "
            f"early level ({fmt_value(early)}) and by the token-mean budget; if this KL is summed over "
            f"the sequence (TRL PPO, trlx), values up to {fmt_value(SEQUENCE_BUDGET)} are normal."
        )
    elif not unit_known:
        summary += " (KL unit unknown: judged against the per-sequence budget.)"
    confidence = 0.6 + 0.1 * rising + 0.1 * bool(chase) + 0.1 * unit_known + 0.05 * (severity == "critical")
    if judged_by_growth:
        confidence = UNKNOWN_UNIT_CONFIDENCE + 0.1 * rising
    return [
        RULE.finding(
            severity=severity,
            summary=summary,
            onset_step=onset_step,
            peak_step=_common.step_at(kl, peak_pos),
            end_step=end_step,
            metrics=[tag, Rule.tag(run, "kl.coef") if chase else None],
            evidence={
                "kl_before_onset": before,
                "kl_peak": peak,
                "kl_last": float(smoothed[-1]),
                "budget": budget,
                "target": target,
                "unit": unit,
                "first_step_above_budget": _common.step_at(kl, first_alarm),
                "rising_trend": rising,
                "unit_known": unit_known,
                "judged_by_growth": judged_by_growth,
                "kl_early": early,
                "kl_coef_before": chase[0] if chase else None,
                "kl_coef_peak": chase[1] if chase else None,
            },
            confidence=confidence,
        )
    ]


RULE = Rule("KL001", "kl-blowup", "kl_blowup", needs=("kl.ref",), doc=__doc__, detect=detect)
