"""The value function (critic) is not predicting returns.

What it detects
---------------
(1) Explained variance (`value.ev`: SB3 `train/explained_variance`, CleanRL
`losses/explained_variance`, TRL-old `ppo/val/var_explained`, verl `critic/vf_explained_var`)
at or below 0 for a sustained stretch (rolling median, at least a tenth of the run), either
never rising above 0 or collapsing after the critic had learned; the first 5 % of the run is a
grace period because EV starts near 0. NaN explained variance is ignored: SB3 and CleanRL return
NaN when every return in the rollout is equal (no reward variance), which is not a critic
failure. (2) A value-loss explosion (`value.loss`): the loss at more than 10x its trailing
rolling median for several consecutive updates, or a non-finite value loss.

Why it matters
--------------
The critic V(s) is the baseline in the advantage A = Q - V (or the GAE built from V): a good
baseline removes variance from the policy gradient without biasing it. Explained variance
1 - Var[R - V] / Var[R] says how much of the return variance the critic accounts for; at 0 it
is no better than predicting a constant, below 0 it is worse, so the "baseline" adds noise
instead of removing it and every advantage is dominated by critic error. The policy then learns
from noise, and an exploding value loss (which shares the optimiser, and in many LLM setups the
backbone, with the policy) can destabilise the whole run. The usual causes are a reward scale
that is too large, a critic learning rate that is too high, or bugs in return/GAE computation
around episode ends.

What to try
-----------
- Normalise rewards (SB3 `VecNormalize(norm_reward=True)`, TRL-old `use_score_scaling`/`use_score_norm`) and clip them; keep value targets roughly in [-10, 10].
- Lower the critic learning rate (verl `critic.optim.lr`, OpenRLHF `--critic_learning_rate`) or, in SB3, lower `learning_rate` / raise `vf_coef` only if the value loss is small.
- Clip the value update: TRL `cliprange_value`, SB3 `clip_range_vf`, verl `critic.cliprange_value`; keep `max_grad_norm` on.
- Warm up the critic before the actor (OpenRLHF `--critic.freezing_steps` / `freezing_actor_steps`; VC-PPO value pre-training).
- Unit-test returns and GAE around episode ends (`gamma`, `gae_lambda`, done vs truncated handling).

References
----------
- metrics.md P6 (SB3 explained_variance docstring; Jones: residual variance should start near 1 and fall; TRL docs "will spike / NaN when not going well")
- metrics.md §1.4 (NaN explained variance when returns are constant)
- https://andyljones.com/posts/rl-debugging.html
- Yuan et al., "What's Behind PPO's Collapse in Long-CoT? Value Optimization Holds the Secret" (VC-PPO), arXiv:2503.01491
"""

from __future__ import annotations

import numpy as np

from ..findings import Finding
from ..model import Run
from . import _common, stats
from .base import Rule, fmt_step, fmt_value

EV_FLOOR = 0.0  # [SB3] explained_variance docstring: ev <= 0 is no better than predicting zero
EV_CRITICAL = -1.0  # Heuristic: residual variance twice the return variance
EV_LEARNED = 0.3  # Heuristic: a critic that once reached EV 0.3 had learned something
GRACE_FRACTION = 0.05  # Heuristic: EV starts near 0 ([Jones] residual variance starts near 1)
EV_PERSIST_FRACTION = 0.1  # Heuristic: at or below 0 for a tenth of the run ...
EV_PERSIST_MIN = 5  # ... and at least 5 consecutive logged updates
LOSS_FACTOR = 10.0  # Heuristic (as metrics.md P12 for grad norms): 10x the rolling median
LOSS_CRITICAL_FACTOR = 100.0  # Heuristic: two orders of magnitude is an explosion
LOSS_PERSIST = 3  # Heuristic: 3 consecutive updates, not a single bad batch
BASELINE_FRACTION = 0.1  # Heuristic: trailing baseline over 10 % of the run
BASELINE_MIN_PERIODS = 3  # Heuristic: SB3 logs few updates; 3 earlier points make a baseline
LOSS_VANISHED_FRACTION = 0.01  # Heuristic: value loss at 1 % of its early level means the returns stopped varying
# Derived: a value loss (mean squared error) below 1e-7 of the squared return scale is an RMS error
# of 0.03 % of the return: the critic is exact and EV is a ratio of two vanishing variances
# (SB3 CartPole solved and pinned at 500: value loss 1e-3 -> 1e-6 while EV sits at -0.2).
LOSS_NEGLIGIBLE_RELATIVE = 1e-7
MIN_UPDATES = 10  # Heuristic: fewer logged updates cannot show a sustained pattern


def _returns_stopped_varying(run: Run, ev) -> np.ndarray:
    """Mask of EV points where the value loss has all but vanished (1 % of its early level).

    EV = 1 - Var[R - V] / Var[R] is a ratio of two variances; when the returns stop varying
    (CartPole solved: every episode hits the 500-step cap) both go to ~0 and EV hovers around 0
    while the critic is in fact accurate. Same cause as the NaN EV of metrics.md §1.4, one
    step earlier.
    """
    loss = stats.finite(run.metric("value.loss"))
    if len(loss) < MIN_UPDATES:
        return np.zeros(len(ev), dtype=bool)
    early, _ = stats.early_baseline(loss.to_numpy(), 0.25)
    if not early > 0:
        return np.zeros(len(ev), dtype=bool)
    # Value loss aligned to the EV steps (the last value logged at or before each EV step).
    aligned = loss.reindex(loss.index.union(ev.index)).ffill().reindex(ev.index).to_numpy()
    smoothed = _common.smooth(np.nan_to_num(aligned, nan=early))
    vanished = smoothed <= LOSS_VANISHED_FRACTION * early
    returns = stats.finite(run.metric("rl.ep_return"))
    if len(returns):
        scale = float(np.median(np.abs(returns.to_numpy())))
        if scale > 0:
            vanished |= smoothed <= LOSS_NEGLIGIBLE_RELATIVE * scale * scale
    return vanished


def _ev_finding(run: Run) -> Finding | None:
    ev = _common.prepared(run, "value.ev")  # NaN (constant returns) dropped on purpose
    n = len(ev)
    if n < MIN_UPDATES:
        return None
    values = ev.to_numpy()
    smoothed = _common.smooth(values)
    grace = int(n * GRACE_FRACTION)
    failing = smoothed <= EV_FLOOR
    failing[:grace] = False
    failing &= ~_returns_stopped_varying(run, ev)
    sustained = stats.persistent(failing, max(EV_PERSIST_MIN, int(n * EV_PERSIST_FRACTION)))
    if not sustained.any():
        return None
    first = int(np.argmax(sustained))
    best_before = float(np.max(smoothed[: first + 1])) if first > 0 else float(smoothed[0])
    collapsed = best_before >= EV_LEARNED
    onset = _common.ramp_onset(smoothed, first, direction=-1) if collapsed else 0
    low = int(np.argmin(np.where(sustained, smoothed, np.inf)))
    last = stats.runs(sustained)[-1][1]
    ongoing = last >= n
    share = float(sustained.mean())
    severity = "critical" if smoothed[low] <= EV_CRITICAL else "warning"
    tag = Rule.tag(run, "value.ev")
    if collapsed:
        what = (
            f"Explained variance ({tag}) fell from {fmt_value(best_before)} to {fmt_value(smoothed[low])} "
            f"(rolling median) at step {fmt_step(ev.index[low])}"
        )
    else:
        what = f"Explained variance ({tag}) never rose above 0 for long: rolling median {fmt_value(smoothed[low])} at step {fmt_step(ev.index[low])}"
    return RULE.finding(
        severity=severity,
        title="Critic explains none of the return variance",
        summary=f"{what}; at or below 0 for {share:.0%} of the logged updates from step {fmt_step(ev.index[first])}"
        + (" and still there at the last step." if ongoing else "."),
        onset_step=ev.index[onset],
        peak_step=ev.index[low],
        end_step=None if ongoing else _common.step_at(ev, last - 1),
        metrics=[tag],
        evidence={
            "best_ev_before": best_before,
            "lowest_rolling_median": float(smoothed[low]),
            "share_at_or_below_zero": share,
            "collapsed_after_learning": collapsed,
            "nan_points_ignored": int(np.sum(~np.isfinite(run.metric("value.ev").to_numpy()))),
        },
        confidence=0.75 if collapsed or severity == "critical" else 0.65,
    )


def _loss_finding(run: Run) -> Finding | None:
    raw = run.metric("value.loss")
    tag = Rule.tag(run, "value.loss")
    bad = np.flatnonzero(~np.isfinite(raw.to_numpy()))
    if len(bad):
        step = int(raw.index[bad[0]])
        return RULE.finding(
            severity="critical",
            title="Value loss became non-finite",
            summary=f"The value loss ({tag}) became {fmt_value(raw.iloc[bad[0]])} at step {fmt_step(step)} ({len(bad)} non-finite points).",
            onset_step=step,
            peak_step=step,
            end_step=None,
            metrics=[tag],
            evidence={"non_finite_points": len(bad), "first_non_finite_step": step},
            confidence=0.9,
        )
    loss = _common.prepared(run, "value.loss", "max")
    n = len(loss)
    if n < MIN_UPDATES:
        return None
    values = loss.to_numpy()
    med, _ = stats.trailing_baseline(values, stats.window_for(n, BASELINE_FRACTION, 10, 500), BASELINE_MIN_PERIODS)
    with np.errstate(invalid="ignore"):
        exploded = (med > 0) & (values > LOSS_FACTOR * med)
    sustained = stats.persistent(exploded, LOSS_PERSIST)
    if not sustained.any():
        return None
    first = int(np.argmax(sustained))
    # Date a gradual take-off at its change point (on a log scale: losses grow multiplicatively).
    onset = _common.ramp_onset(_common.smooth(np.log(np.maximum(values, 1e-30))), first)
    peak = int(np.argmax(values))
    ratio = float(values[peak] / med[first]) if med[first] > 0 else float("inf")
    severity = "critical" if ratio >= LOSS_CRITICAL_FACTOR else "warning"
    # It is over when the loss is back within 10x of its level before the explosion (the
    # trailing median itself adapts to the new level, so it cannot say that).
    elevated = np.flatnonzero(values > LOSS_FACTOR * med[first])
    last_elevated = int(elevated[-1])
    return RULE.finding(
        severity=severity,
        title="Value loss exploded",
        summary=(
            f"The value loss ({tag}) jumped from a rolling median of {fmt_value(med[first])} to {fmt_value(values[first])} "
            f"at step {fmt_step(loss.index[first])} and peaked at {fmt_value(values[peak])} at step {fmt_step(loss.index[peak])} "
            f"({ratio:.0f}x)."
        ),
        onset_step=loss.index[onset],
        peak_step=loss.index[peak],
        end_step=None if last_elevated >= n - 1 else _common.step_at(loss, last_elevated),
        metrics=[tag],
        evidence={"baseline_median": float(med[first]), "peak": float(values[peak]), "factor": ratio, "loss_factor_threshold": LOSS_FACTOR},
        confidence=0.75,
    )


def detect(run: Run) -> list[Finding]:
    found = []
    if run.metric("value.ev") is not None:
        found.append(_ev_finding(run))
    if run.metric("value.loss") is not None:
        found.append(_loss_finding(run))
    return [f for f in found if f is not None]


RULE = Rule("VAL001", "value-failure", "value_failure", needs_any=("value.ev", "value.loss"), doc=__doc__, detect=detect)
