"""Advantage scale or reward spread jumps, or advantages leave their possible range.

What it detects
---------------
Three signs that the advantage estimates are out of shape. (1) Spikes: the advantage std, max
or |min| (`adv.std`, `adv.max`, `adv.min`; verl `critic/advantages/*`) or the batch spread of the
reward score (`reward.score_std`) jumps to more than 3x its trailing rolling median (and 6 robust
sigmas above it). Repeated or sustained spikes are a warning, isolated ones info. (2) Out of
range: |advantage| beyond the group-normalisation bound (G-1)/sqrt(G) when the GRPO group size G
is known (2.47 for G=8; Samuelson's inequality with a Bessel-corrected group std), else beyond
10 (Andy Jones: whitened advantages should lie in [-10, 10], ideally [-3, 3]). (3) A
persistently non-zero mean of advantages that should be whitened (`adv.mean`, e.g. TRL-old
`ppo/policy/advantages_mean` at +/-0.5 where it should be ~0): a one-signed rolling median beyond
0.2 advantage std (and 6 sigmas of its own noise) for a tenth of the run. Whitening over the
same batch makes the mean exactly 0; per-minibatch logging leaves noise of order 1/sqrt(batch),
hence the tolerance. verl GRPO logs a token-weighted mean of per-sequence normalised
advantages, which length differences move legitimately: there the tolerance is 1 std.

Why it matters
--------------
The advantage A(s, a) = Q(s, a) - V(s) subtracts a baseline from the return: the policy-gradient
estimate keeps its expectation but loses most of its variance, which is what makes PPO
trainable. When the advantage spread spikes, a handful of samples (usually reward outliers, an
unnormalised or heavy-tailed reward model, or a value function that broke) dominate the batch
gradient; the update becomes noisy, the clip saturates and the policy can jump. Advantages
beyond the group bound mean the normalisation is not what you think (batch-level scaling,
`scale_rewards="none"` / Dr. GRPO following the raw reward scale, or a bug), and a whitened
advantage whose mean is persistently non-zero means the advantage computation itself is off
("if they're persistently not then you've messed up your advantage calculations").

What to try
-----------
- Normalise and clip rewards: TRL-old `use_score_scaling` / `use_score_norm` / `score_clip`, SB3 `VecNormalize(norm_reward=True)`, PPO-max `reward_clip` 10.
- Whiten and clip advantages: SB3 `normalize_advantage=True`, CleanRL `norm_adv`, TRL `whiten_rewards` for the rewards; PPO-max `advantage_clip`.
- For GRPO, check `scale_rewards` (TRL: "group", "batch" or "none") and `num_generations`; verl `algorithm.norm_adv_by_std_in_grpo`.
- Inspect the samples at the spike steps for reward outliers, and the reward function or model for unbounded scores.
- If the value loss spiked at the same step, the value function is the cause: see VAL001.

References
----------
- metrics.md P5 (Jones [-10, 10]; derived GRPO bound (G-1)/sqrt(G); PPO-max reward/advantage clipping)
- https://andyljones.com/posts/rl-debugging.html
- Zheng et al., "Secrets of RLHF in Large Language Models Part I: PPO", arXiv:2307.04964
"""

from __future__ import annotations

import math

import numpy as np

from ..findings import Finding
from ..model import Run
from . import _common, _signals, stats
from .base import Rule, fmt_step, fmt_value

SPIKE_FACTOR = 3.0  # Heuristic (as metrics.md P4): a value 3x its trailing rolling median is a jump
SPIKE_SIGMAS = 6.0  # Heuristic: ... and 6 robust sigmas above it (noise cannot do that)
BASELINE_FRACTION = 0.1  # Heuristic: trailing baseline over 10 % of the run
REPEATED_SPIKES = 3  # Heuristic: 3 or more spikes (or 3 in a row) is a pattern, not a blip
JONES_BOUND = 10.0  # [Jones] advantages should lie in [-10, 10]
BOUND_SLACK = 1.02  # Derived: the GRPO bound holds exactly, plus the epsilon in the std
BOUND_MIN_POINTS = 2  # Heuristic: two logged violations rule out a single corrupted row
MEAN_TOLERANCE = 0.2  # Derived: a whitened batch has mean exactly 0; per-minibatch means of >= 25 samples stay within 1/sqrt(25)
GROUP_MEAN_TOLERANCE = 1.0  # Heuristic: a token-weighted mean of per-sequence normalised advantages moves with the length CV
MEAN_NOISE_SIGMAS = 6.0  # Heuristic: ... and beyond 6 robust sigmas of the series' own point-to-point noise
MEAN_PERSIST_FRACTION = 0.1  # Heuristic: "persistently" [Jones]: for a tenth of the run ...
MEAN_ONSET_FRACTION = 0.25  # Heuristic: the excursion starts where the mean leaves a quarter of the tolerance
CRITIC_CONCEPTS = ("value.loss", "value.ev", "critic.grad_norm", "value.mean")  # a critic => GAE, whitened over the batch
GROUP_SIZE_KEYS = ("num_generations", "group_size", "n_samples_per_prompt", "rollout_n", "n")

SPIKE_SIGNALS = (
    ("adv.std", "advantage std", 1),
    ("adv.max", "advantage max", 1),
    ("adv.min", "advantage min", -1),
    ("reward.score_std", "reward-score std", 1),
)


def group_bound(run: Run) -> tuple[float, str]:
    """The |advantage| bound and where it comes from."""
    for key in GROUP_SIZE_KEYS:
        value = run.metadata.get(key)
        try:
            g = int(value)
        except (TypeError, ValueError):
            continue
        if g >= 2:
            return (g - 1) / math.sqrt(g), f"(G-1)/sqrt(G) with G={g}"
    return JONES_BOUND, "Jones' [-10, 10] range (group size unknown)"


def _spikes(run: Run) -> list[dict]:
    found = []
    for concept, label, sign in SPIKE_SIGNALS:
        series = _common.prepared(run, concept, "max" if sign > 0 else "min")
        n = len(series)
        if n < _common.MIN_POINTS:
            continue
        values = sign * series.to_numpy()
        med, mad = stats.trailing_baseline(values, stats.window_for(n, BASELINE_FRACTION, 10, 500))
        with np.errstate(invalid="ignore"):
            spike = (med > 0) & (values > SPIKE_FACTOR * med) & (values - med > SPIKE_SIGMAS * np.maximum(mad, 1e-12))
        positions = np.flatnonzero(spike)
        if len(positions) == 0:
            continue
        top = int(positions[np.argmax(values[positions] / med[positions])])
        found.append(
            {
                "concept": concept,
                "label": label,
                "series": series,
                "positions": positions,
                "longest": max(e - s for s, e in stats.runs(spike)),
                "peak": top,
                "peak_value": float(sign * values[top]),
                "baseline": float(sign * med[top]),
            }
        )
    return found


def _spike_finding(run: Run) -> Finding | None:
    found = _spikes(run)
    if not found:
        return None
    repeated = any(len(f["positions"]) >= REPEATED_SPIKES or f["longest"] >= REPEATED_SPIKES for f in found)
    several = len(found) >= 2
    severity = "warning" if repeated or several else "info"
    first = min(found, key=lambda f: f["series"].index[f["positions"][0]])
    worst = max(found, key=lambda f: abs(f["peak_value"]) / max(abs(f["baseline"]), 1e-12))
    onset_step = first["series"].index[first["positions"][0]]
    last_step = max(f["series"].index[f["positions"][-1]] for f in found)
    count = sum(len(f["positions"]) for f in found)
    parts = ", ".join(f"{f['label']} {len(f['positions'])}x" for f in found)
    return RULE.finding(
        severity=severity,
        summary=(
            f"The {worst['label']} ({Rule.tag(run, worst['concept'])}) jumped to {fmt_value(worst['peak_value'])} at step "
            f"{fmt_step(worst['series'].index[worst['peak']])}, {abs(worst['peak_value']) / max(abs(worst['baseline']), 1e-12):.0f}x "
            f"its recent median of {fmt_value(worst['baseline'])}; spikes from step {fmt_step(onset_step)} "
            f"to {fmt_step(last_step)} ({parts})."
        ),
        onset_step=onset_step,
        peak_step=worst["series"].index[worst["peak"]],
        end_step=last_step,
        metrics=[Rule.tag(run, f["concept"]) for f in found],
        evidence={
            "spikes": {f["concept"]: {"count": len(f["positions"]), "peak": f["peak_value"], "baseline": f["baseline"]} for f in found},
            "spike_factor": SPIKE_FACTOR,
            "total_spikes": count,
        },
        confidence=0.75 if severity == "warning" else 0.5,
    )


def _bound_finding(run: Run) -> Finding | None:
    bound, source = group_bound(run)
    limit = bound * BOUND_SLACK
    hits: list[tuple[int, float, str]] = []  # (step, value, tag)
    for concept, sign in (("adv.max", 1), ("adv.min", -1)):
        series = _common.prepared(run, concept, "max" if sign > 0 else "min")
        if len(series) == 0:
            continue
        beyond = np.flatnonzero(sign * series.to_numpy() > limit)
        hits += [(int(series.index[i]), float(series.iloc[i]), Rule.tag(run, concept)) for i in beyond]
    if len(hits) < BOUND_MIN_POINTS:
        return None
    hits.sort()
    extreme = max(hits, key=lambda h: abs(h[1]))
    return RULE.finding(
        severity="warning",
        title="Advantages beyond their possible range",
        summary=(
            f"{len(hits)} logged advantage extremes lie beyond +/-{fmt_value(bound)} ({source}), the first at step "
            f"{fmt_step(hits[0][0])}; the most extreme is {fmt_value(extreme[1])} at step {fmt_step(extreme[0])}."
        ),
        onset_step=hits[0][0],
        peak_step=extreme[0],
        end_step=hits[-1][0],
        metrics=sorted({h[2] for h in hits if h[2]}),
        evidence={"bound": bound, "bound_source": source, "points_beyond": len(hits), "most_extreme": extreme[1]},
        confidence=0.8 if "G=" in source else 0.65,
    )


def _mean_tolerance(run: Run, scale: float) -> tuple[float, str]:
    """How far from 0 the logged advantage mean may sit, and why."""
    group_normalised = run.framework == "verl" and not any(run.metric(c) is not None for c in CRITIC_CONCEPTS)
    if group_normalised:
        # verl GRPO normalises per group of sequences but logs a token-weighted mean: length
        # differences alone move it by up to the coefficient of variation of the lengths.
        return GROUP_MEAN_TOLERANCE * scale, "token-weighted mean of group-normalised advantages"
    return MEAN_TOLERANCE * scale, "whitened advantages"


def _mean_finding(run: Run) -> Finding | None:
    mean = _common.prepared(run, "adv.mean")
    n = len(mean)
    if n < _common.MIN_POINTS:
        return None
    std = _common.prepared(run, "adv.std")
    scale = float(np.median(std.to_numpy())) if len(std) else 1.0  # whitened advantages have std 1
    if not scale > 0:
        return None
    values = mean.to_numpy()
    noise = _signals.noise_scale(values)
    tolerance, basis = _mean_tolerance(run, scale)
    # A noisy logger (per-minibatch means) must leave its own noise band too.
    tolerance = max(tolerance, MEAN_NOISE_SIGMAS * noise)
    smoothed = _common.smooth(values)
    persist = max(5, int(n * MEAN_PERSIST_FRACTION))
    best: tuple[int, int, np.ndarray] | None = None  # (sign, first position, sustained mask)
    for sign in (1, -1):
        sustained = stats.persistent(sign * smoothed > tolerance, persist)
        if sustained.any() and (best is None or int(np.argmax(sustained)) < best[1]):
            best = (sign, int(np.argmax(sustained)), sustained)
    if best is None:
        return None
    sign, first, sustained = best
    # Date the start of the excursion where the mean left the band around 0, not where it
    # crossed the tolerance.
    onset = stats.excursion_start(sign * smoothed, first, max(MEAN_ONSET_FRACTION * tolerance, 3 * noise))
    peak = int(np.argmax(sign * smoothed))
    tag = Rule.tag(run, "adv.mean")
    level = float(np.median(values[first:][sustained[first:]]))
    return RULE.finding(
        severity="warning",
        title="Whitened advantages have a non-zero mean",
        summary=(
            f"The advantage mean ({tag}) left 0 at step {fmt_step(mean.index[onset])} and stayed near {fmt_value(level)} "
            f"for {int(sustained.sum())} of {n} logged points (tolerance +/-{fmt_value(tolerance)} for {basis}, "
            f"advantage scale {fmt_value(scale)}); after whitening it should be ~0 at every step."
        ),
        onset_step=mean.index[onset],
        peak_step=mean.index[peak],
        end_step=None if sustained[-1] else mean.index[int(np.flatnonzero(sustained)[-1])],
        metrics=[tag, Rule.tag(run, "adv.std")],
        evidence={
            "level": level,
            "peak_rolling_mean": float(smoothed[peak]),
            "advantage_scale": scale,
            "tolerance": tolerance,
            "tolerance_basis": basis,
            "points_beyond": int(sustained.sum()),
        },
        confidence=0.7,
    )


def detect(run: Run) -> list[Finding]:
    return [f for f in (_spike_finding(run), _bound_finding(run), _mean_finding(run)) if f is not None]


RULE = Rule(
    "ADV001",
    "advantage-variance-spike",
    "advantage_variance_spike",
    needs_any=("adv.std", "adv.max", "adv.min", "adv.mean", "reward.score_std"),
    doc=__doc__,
    detect=detect,
)
