"""Gradient norm spikes far above its recent level.

What it detects
---------------
The total gradient norm (`grad_norm`: HF/TRL `grad_norm`, verl `actor/grad_norm`, OpenRLHF
`actor_grad_norm`; and `critic.grad_norm`, verl `critic/grad_norm`) above 10x its trailing
rolling median. Isolated single spikes are info; repeated spikes (3 or more) or a sustained
excursion (3 or more logged steps in a row) are a warning, but only when the spikes also reach
the gradient-clipping threshold (`max_grad_norm` from the run's config when known, else the
trainer default: 1.0 for HF/TRL, verl `grad_clip` and OpenRLHF `max_norm`, 0.5 for SB3 and
CleanRL). A jump from 0.003 to 0.05 is 15x, but the update was applied as-is at a size the run's
own clip setting accepts: that is an info note, not an instability (it is typically the odd
batch that still carries a learning signal once gradients have collapsed; see SIG001). The
norm is the one computed *before* clipping (`clip_grad_norm_` returns it), so values far above
`max_grad_norm` are normal on their own; large norms at the very start (early critic norms in the
hundreds) are not compared with anything and do not fire. Non-finite norms are reported by NUM001.

Why it matters
--------------
A gradient-norm spike means one batch produced a gradient an order of magnitude larger than
usual: a reward or advantage outlier, a sample whose log-probability ratio exploded, or the loss
surface becoming sharp. Gradient clipping caps the step, but a clipped step is still a step in
that one batch's direction, and repeated spikes are how runs drift into a KL blow-up or a NaN.
Spikes that keep coming usually mean the learning rate is too high for the current phase or the
advantages have heavy tails.

What to try
-----------
- Keep gradient clipping on and tight: `max_grad_norm` (HF/TRL, SB3: default 0.5 in SB3, 1.0 in TRL), verl `actor_rollout_ref.actor.grad_clip`, OpenRLHF `--max_norm`.
- Lower `learning_rate` or add/lengthen warm-up (`warmup_steps`, `warmup_ratio`, verl `actor_rollout_ref.actor.optim.lr_warmup_steps`).
- Normalise and clip rewards and advantages (`scale_rewards`, `whiten_rewards`, SB3 `normalize_advantage`), and check the spike steps for reward outliers (see ADV001).
- If spikes are in the critic only, lower the critic learning rate or clip the value update (`cliprange_value`, `clip_range_vf`).

References
----------
- metrics.md P12 (Heuristic: norm > 10x its rolling median; PyTorch clip_grad_norm_ returns the pre-clip norm; verl quickstart critic norm 1023 at step 0)
- metrics.md §1.6 defaults: HF `max_grad_norm` 1.0, verl `grad_clip` 1.0, OpenRLHF `max_norm` 1.0, SB3/CleanRL `max_grad_norm` 0.5
- https://docs.pytorch.org/docs/stable/generated/torch.nn.utils.clip_grad_norm_.html
"""

from __future__ import annotations

import numpy as np

from ..findings import Finding
from ..model import Run
from . import _common, stats
from .base import Rule, fmt_step, fmt_value

SPIKE_FACTOR = 10.0  # [metrics.md P12] Heuristic: norm > 10x its rolling median
BASELINE_FRACTION = 0.05  # Heuristic: trailing median over 5 % of the run (10..200 points)
BASELINE_MIN_PERIODS = 5  # Heuristic: the first points have no baseline (early norms can be large)
REPEATED = 3  # Heuristic: 3 spikes, or 3 in a row, is a pattern rather than a blip
CONCEPTS = (("grad_norm", "gradient norm"), ("critic.grad_norm", "critic gradient norm"))
# A spike is a warning only when it reaches the clip threshold: clip_grad_norm_ rescales only norms
# above max_norm, so below it the step is the size the run's own configuration accepts.
CLIP_KEYS = ("max_grad_norm", "grad_clip", "max_norm", "clip_grad_norm")
DEFAULT_CLIP = 1.0  # [metrics.md §1.6] HF TrainingArguments max_grad_norm, verl grad_clip, OpenRLHF max_norm
CLASSIC_DEFAULT_CLIP = 0.5  # [metrics.md §1.6] SB3 PPO and CleanRL max_grad_norm


def clip_threshold(run: Run) -> tuple[float, str]:
    """The gradient-clipping threshold of the run and where it comes from."""
    for key in CLIP_KEYS:
        try:
            value = float(run.metadata.get(key))
        except (TypeError, ValueError):
            continue
        if value > 0 and np.isfinite(value):
            return value, f"{key}={fmt_value(value)} from the run's config"
    if _common.is_classic(run):
        return CLASSIC_DEFAULT_CLIP, f"the {run.framework} default max_grad_norm {CLASSIC_DEFAULT_CLIP}"
    return DEFAULT_CLIP, f"the usual default clip of {DEFAULT_CLIP} (max_grad_norm / grad_clip / max_norm)"


def _finding(run: Run, concept: str, label: str) -> Finding | None:
    series = _common.prepared(run, concept, "max")
    n = len(series)
    if n < _common.MIN_POINTS:
        return None
    values = series.to_numpy()
    med, _ = stats.trailing_baseline(values, stats.window_for(n, BASELINE_FRACTION, 10, 200), BASELINE_MIN_PERIODS)
    with np.errstate(invalid="ignore", divide="ignore"):
        spike = (med > 0) & (values > SPIKE_FACTOR * med)
    positions = np.flatnonzero(spike)
    if len(positions) == 0:
        return None
    longest = max(e - s for s, e in stats.runs(spike))
    repeated = len(positions) >= REPEATED or longest >= REPEATED
    factors = values[positions] / med[positions]
    top = int(positions[np.argmax(factors)])
    clip, clip_source = clip_threshold(run)
    above_clip = int(np.sum(values[positions] >= clip))
    tag = Rule.tag(run, concept)
    severity = "warning" if repeated and above_clip > 0 else "info"
    shape = f"{len(positions)} spikes" if len(positions) > 1 else "one isolated spike"
    if longest >= REPEATED:
        shape += f", up to {longest} logged steps in a row"
    summary = (
        f"The {label} ({tag}) reached {fmt_value(values[top])} at step {fmt_step(series.index[top])}, "
        f"{values[top] / med[top]:.0f}x its rolling median of {fmt_value(med[top])}; {shape} above "
        f"{SPIKE_FACTOR:.0f}x between steps {fmt_step(series.index[positions[0]])} and {fmt_step(series.index[positions[-1]])}"
    )
    if above_clip:
        summary += f"; {above_clip} of them at or above the clip threshold {fmt_value(clip)} ({clip_source})."
    else:
        summary += (
            f". None reached the clip threshold {fmt_value(clip)} ({clip_source}): the jumps are relative to a very "
            "small norm, and those updates were applied at a size the run's clip setting accepts."
        )
    return RULE.finding(
        severity=severity,
        title=f"{label.capitalize()} spikes" if repeated else f"Isolated {label} spike",
        summary=summary,
        onset_step=series.index[positions[0]],
        peak_step=series.index[top],
        end_step=None if spike[-1] else series.index[positions[-1]],
        metrics=[tag],
        evidence={
            "spikes": len(positions),
            "longest_consecutive": longest,
            "max_factor": float(factors.max()),
            "peak": float(values[top]),
            "median_at_peak": float(med[top]),
            "clip_threshold": clip,
            "clip_threshold_source": clip_source,
            "spikes_above_clip": above_clip,
            "spike_steps": [int(series.index[p]) for p in positions[:20]],
        },
        confidence=0.7 if repeated else 0.5,
    )


def detect(run: Run) -> list[Finding]:
    found = [_finding(run, concept, label) for concept, label in CONCEPTS if run.metric(concept) is not None]
    return [f for f in found if f is not None]


RULE = Rule("GRD001", "gradient-spike", "gradient_spike", needs_any=("grad_norm", "critic.grad_norm"), doc=__doc__, detect=detect)
