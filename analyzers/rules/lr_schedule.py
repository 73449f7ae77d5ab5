"""The learning-rate schedule does not fit the run: LR at 0 too early, no warm-up, or a sudden jump.

What it detects
---------------
Three schedule problems in the logged learning rate (`lr`: HF/TRL `learning_rate`, verl
`actor/lr`, OpenRLHF `actor_lr`, SB3 `train/learning_rate`):
(1) the LR decays to about 0 (below 1 % of its peak) long before the last logged step and stays
there, so the rest of the run trains nothing; a schedule that reaches 0 at the last step
(CleanRL's linear annealing, HF's default linear decay) is by design and not flagged;
(2) no warm-up in an LLM run (the first logged LR is already at its peak) together with a spike
of the per-update KL or clip fraction in the first updates;
(3) a step change of the LR (3x or more between two logged points, outside warm-up) that
coincides with a jump of the per-update KL, clip fraction or gradient norm. A step change
without any instability is reported as info.

Why it matters
--------------
The learning rate sets the size of each policy update, and PPO's stability depends on updates
staying small: the ratio pi_new/pi_old must stay near 1 for the clipped objective to be a good
surrogate. A jump in LR shows up at once as larger approx KL and clipping (updates "too
drastic"). PyTorch's Adam is aggressive in its first steps (6x larger approx KL at the start in
the "N implementation details" reproduction), which is why LLM recipes warm up (MOSS-RLHF: 500
steps). A schedule sized for a different number of steps silently turns the end of the run into
wasted compute: the logs keep coming but the weights barely move. On the verl console the LR is
rounded to 3 decimals, so `actor/lr:0.000` is a display artefact, not LR 0.

What to try
-----------
- Size the schedule to the run: `max_steps` / `num_train_epochs` and `lr_scheduler_type` (HF/TRL), `actor_rollout_ref.actor.optim.total_training_steps` (verl), `total_timesteps` with SB3 schedules; resume with the scheduler state, not a fresh one.
- Add warm-up: `warmup_ratio` / `warmup_steps` (HF/TRL), `actor_rollout_ref.actor.optim.lr_warmup_steps_ratio` (verl), `--lr_warmup_ratio` (OpenRLHF).
- After an LR jump, lower `learning_rate` or use `target_kl` early stopping (SB3/CleanRL), fewer `num_ppo_epochs` / `ppo_epochs`.
- Check that a resumed run restored the optimizer and scheduler state.

References
----------
- metrics.md P15 (heuristic alarms: LR ≈ 0 long before the last step; no warm-up with an early KL/clipfrac spike; LR steps coinciding with instability)
- https://huggingface.co/blog/the_n_implementation_details_of_rlhf_with_ppo (PyTorch Adam's early steps)
- Andy Jones, "Debugging RL, Without the Agonizing Pain" (oscillating entropy / residual variance: LR too high)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..findings import Finding
from ..model import Run
from . import _common, _signals
from .base import Rule, fmt_step, fmt_value

LR_ZERO_FRACTION = 0.01  # Heuristic: below 1 % of the peak LR is "about zero"
EARLY_ZERO_MARGIN = 0.15  # Heuristic: reaching 0 with 15 % or more of the run left is "long before the last step"
NO_WARMUP_FRACTION = 0.5  # Heuristic: the first logged LR at >= 50 % of the peak means no warm-up
EARLY_FRACTION = 0.05  # Heuristic: "the first updates" = the first 5 % of the run
EARLY_SPIKE_FACTOR = 5.0  # Heuristic: early KL/clipfrac at 5x the rest of the run's median
LR_JUMP_FACTOR = 3.0  # Heuristic: a 3x change between two logged points is a step change
WARMUP_FLOOR = 0.1  # Heuristic: changes while the LR is below 10 % of its peak are warm-up
INSTABILITY_FACTOR = 3.0  # Heuristic: KL/clipfrac/grad norm median after the jump at 3x the median before
INSTABILITY_WINDOW = 0.05  # Heuristic: compare 5 % of the run on each side of the jump
INSTABILITY_CONCEPTS = ("kl.step", "clipfrac", "grad_norm")


def _ratio_around(series: pd.Series, step: int, window: int) -> float | None:
    """Median after ``step`` over median before it (``window`` points each side)."""
    if len(series) < 2 * 3:
        return None
    pos = _signals.position_of(series, step)
    before = series.to_numpy()[max(0, pos - window): pos]
    after = series.to_numpy()[pos: pos + window]
    if len(before) < 3 or len(after) < 3:
        return None
    b, a = float(np.median(np.abs(before))), float(np.median(np.abs(after)))
    if b <= 0:
        return float("inf") if a > 0 else None
    return a / b


def _early_zero(run: Run, lr: pd.Series) -> Finding | None:
    values = lr.to_numpy()
    n = len(values)
    peak = float(values.max())
    zero = values <= LR_ZERO_FRACTION * peak
    if not zero[-1]:
        return None
    nonzero = np.flatnonzero(~zero)
    first_zero = int(nonzero[-1] + 1) if len(nonzero) else 0
    first_step, last_step = int(lr.index[0]), int(lr.index[-1])
    zero_step = int(lr.index[first_zero])
    remaining = (last_step - zero_step) / max(1, last_step - first_step)
    if first_zero == 0 or remaining < EARLY_ZERO_MARGIN:
        return None
    return RULE.finding(
        severity="warning",
        summary=(
            f"The learning rate ({Rule.tag(run, 'lr')}) fell from its peak {fmt_value(peak)} to "
            f"{fmt_value(float(values[first_zero]))} at step {fmt_step(zero_step)} and stayed there for the last "
            f"{fmt_value(100 * remaining, 2)} % of the run (to step {fmt_step(last_step)}): the schedule was sized for "
            "fewer steps, so those updates trained nothing."
        ),
        onset_step=zero_step,
        metrics=[Rule.tag(run, "lr")],
        evidence={"peak_lr": peak, "zero_step": zero_step, "last_step": last_step, "fraction_of_run_at_zero": remaining},
        confidence=0.85,
    )


def _no_warmup(run: Run, lr: pd.Series) -> Finding | None:
    if _common.is_classic(run):
        return None  # classic-control PPO never warms up; early clipping there is normal
    values = lr.to_numpy()
    if values[0] < NO_WARMUP_FRACTION * float(values.max()):
        return None
    for concept in ("kl.step", "clipfrac"):
        series = _common.prepared(run, concept)
        n = len(series)
        if n < _common.MIN_POINTS:
            continue
        head = max(3, int(n * EARLY_FRACTION))
        early = float(np.median(np.abs(series.to_numpy()[:head])))
        rest = float(np.median(np.abs(series.to_numpy()[head:])))
        if rest > 0 and early >= EARLY_SPIKE_FACTOR * rest:
            tag = Rule.tag(run, concept)
            return RULE.finding(
                severity="warning",
                summary=(
                    f"No learning-rate warm-up ({Rule.tag(run, 'lr')} starts at {fmt_value(float(values[0]))}, "
                    f"its peak is {fmt_value(float(values.max()))}) and {tag} over the first {head} logged updates "
                    f"was {fmt_value(early / rest, 2)}x its median over the rest of the run "
                    f"({fmt_value(early)} vs {fmt_value(rest)})."
                ),
                onset_step=int(lr.index[0]),
                peak_step=int(series.index[int(np.argmax(np.abs(series.to_numpy()[:head])))]),
                metrics=[Rule.tag(run, "lr"), tag],
                evidence={"first_lr": float(values[0]), "peak_lr": float(values.max()), "early_median": early,
                          "rest_median": rest, "metric": tag},
                confidence=0.6,
            )
    return None


def _step_changes(run: Run, lr: pd.Series) -> list[Finding]:
    values = lr.to_numpy()
    n = len(values)
    peak = float(values.max())
    prev, cur = values[:-1], values[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(prev > 0, cur / prev, np.inf)
    jumps = np.flatnonzero(((factor >= LR_JUMP_FACTOR) | (factor <= 1 / LR_JUMP_FACTOR))
                           & (np.maximum(prev, cur) >= WARMUP_FLOOR * peak) & (cur > LR_ZERO_FRACTION * peak)) + 1
    findings: list[Finding] = []
    window = max(3, int(n * INSTABILITY_WINDOW))
    for pos in jumps[:3]:
        step = int(lr.index[pos])
        unstable: list[tuple[str, float]] = []
        for concept in INSTABILITY_CONCEPTS:
            series = _common.prepared(run, concept)
            ratio = _ratio_around(series, step, max(3, int(len(series) * INSTABILITY_WINDOW))) if len(series) else None
            if ratio is not None and ratio >= INSTABILITY_FACTOR:
                unstable.append((Rule.tag(run, concept) or concept, ratio))
        before, after = float(values[pos - 1]), float(values[pos])
        text = (
            f"The learning rate ({Rule.tag(run, 'lr')}) changed {fmt_value(after / before if before else float('inf'), 2)}x "
            f"in one logging interval, from {fmt_value(before)} to {fmt_value(after)} at step {fmt_step(step)}"
        )
        if unstable:
            text += "; at the same time " + ", ".join(f"{t} jumped {fmt_value(r, 2)}x" for t, r in unstable) + "."
        else:
            text += "; no instability followed (intended schedule change?)."
        findings.append(
            RULE.finding(
                severity="warning" if unstable else "info",
                summary=text,
                onset_step=step,
                metrics=[Rule.tag(run, "lr")] + [t for t, _ in unstable],
                evidence={"lr_before": before, "lr_after": after, "instability": {t: r for t, r in unstable},
                          "window_points": window},
                confidence=0.7 if unstable else 0.3,
            )
        )
    return findings


def detect(run: Run) -> list[Finding]:
    lr = _common.prepared(run, "lr", how="last")
    if len(lr) < _common.MIN_POINTS or float(lr.max()) <= 0:
        return []  # an all-zero LR is a display artefact (verl console rounding), not a schedule
    findings = [f for f in (_early_zero(run, lr), _no_warmup(run, lr)) if f is not None]
    findings += _step_changes(run, lr)
    return findings


RULE = Rule(
    "LR001",
    "lr-schedule",
    "lr_schedule",
    needs=("lr",),
    preview=True,
    doc=__doc__,
    detect=detect,
)
