"""Negative KL to the reference: an estimator, sampling or logging bug.

What it detects
---------------
Two things. (1) A k1 reference-KL estimate (`kl.ref`, e.g. TRL `objective/kl`) whose rolling
median stays below zero, beyond a floor (-1 nats per sequence, where TRL warns; -0.01 nats per
token), for a sustained stretch. Single negative points are expected noise: k1 = -log r is
negative for about half the samples and its batch mean can dip below zero. (2) Any clearly
negative value from a k2 or k3 key (`kl.ref` or `kl.step` bound with estimator k2/k3): those
estimators are non-negative by construction, so a negative value is a bug in the computation or
the logging. When the estimator comes from the alias table (not declared by the user) and the
dips are tiny next to the typical KL (under 5 %), the key may really be k1 (TRL RLOO logs k1 as
`kl`, GRPO logs k3 under the same name), so that case is info only.

Why it matters
--------------
The true KL divergence is never negative. A k1 estimate that stays negative means the sampled
tokens are systematically more likely under the reference than under the policy that produced
them, i.e. the samples did not come from the policy being scored. The usual cause is generation
that is not pure sampling (top-k, top-p, min_length, a temperature that differs between sampling
and scoring). Because the RLHF reward is score minus beta * KL, a negative KL *earns* reward, so
the policy learns to exploit the bug: the TRL maintainers call persistent negative KL "almost
always a precursor for failed training". A negative k2/k3 value cannot come from the estimator
itself and points at a sign, masking or aggregation bug.

What to try
-----------
- Sample purely when generating rollouts: `top_k=0`, `top_p=1.0`, `do_sample=True`, no `min_length` / `min_new_tokens` (TRL FAQ).
- Score log-probabilities with the same `temperature` used for sampling (TRL PPO divides both policy and reference logits by `temperature`).
- Switch to a non-negative estimator: TRL PPO `kl_estimator="k3"`, TRL-old `kl_penalty="abs"` or `"full"`, verl `kl_loss_type=low_var_kl`.
- For a negative k2/k3 value: check the sign convention, the padding mask and the aggregation of the KL term in your trainer (and that the logged KL is the one used in training, huggingface/trl#1161).

References
----------
- metrics.md P2 (TRL-old warning below -1; lvwerra in huggingface/trl#925 "shouldn't stay there for too long")
- http://joschu.net/blog/kl-approx.html (k1, k2, k3 estimators)
- huggingface/trl#235, #1857, #1161
"""

from __future__ import annotations

import numpy as np

from ..findings import Finding
from ..model import Run
from . import _common, _signals, stats
from .base import Rule, fmt_step, fmt_value

SEQUENCE_FLOOR = -1.0  # [TRL-old] L1311-1317 warns when objective/kl < -1 (nats per sequence)
TOKEN_FLOOR = -0.01  # Heuristic: a token-mean KL persistently below -0.01 nats is not noise
PERSIST_FRACTION = 0.05  # Heuristic: negative for 5 % of the run ...
PERSIST_MIN = 5  # ... and at least 5 consecutive logged points ("shouldn't stay there too long")
LONG_FRACTION = 0.25  # Heuristic: negative for a quarter of the run is critical
NONNEGATIVE_ESTIMATORS = frozenset({"k2", "k3", "abs", "full"})
# A k2/k3 value below this is not float round-off (Heuristic; float32 logits give ~1e-7 errors).
NONNEGATIVE_TOLERANCE = 1e-4
# Heuristic: a negative value beyond 5 % of the typical KL is not noise from a mislabelled k1 key.
MISLABEL_FRACTION = 0.05
# Heuristic: ... and more than 6 sigmas of the series' own point-to-point noise below its typical
# value: dips inside the noise band are what a k1 estimate logged under a k3 name looks like (TRL
# RLOO: `kl` is k1; healthy run: min -0.015, typical 0.009, noise 0.006, i.e. 4.2 sigmas).
MISLABEL_NOISE_SIGMAS = 6.0
MAX_SEGMENT_CHANGES = 4  # Heuristic: mean-shift segments searched to date where a KL stays negative


def _floor(run: Run) -> float:
    binding = run.metrics.get("kl.ref")
    unit = binding.unit if binding is not None else None
    if unit == "nats/token" or (unit is None and run.framework in _common.TOKEN_KL_FRAMEWORKS):
        return TOKEN_FLOOR
    return SEQUENCE_FLOOR


def _impossible_negative(run: Run, concept: str) -> Finding | None:
    """Any clearly negative value from a key whose estimator cannot be negative."""
    binding = run.metrics.get(concept)
    if binding is None or binding.estimator not in NONNEGATIVE_ESTIMATORS:
        return None
    series = _common.prepared(run, concept, "min")
    if len(series) == 0:
        return None
    values = series.to_numpy()
    scale = max(float(np.median(np.abs(values))), 1.0) * NONNEGATIVE_TOLERANCE
    negative = values < -scale
    if not negative.any():
        return None
    first = int(np.argmax(negative))
    low = int(np.argmin(values))
    count = int(negative.sum())
    what = "KL to the reference" if concept == "kl.ref" else "per-update approx KL"
    positive = values[values > 0]
    typical = float(np.median(positive)) if len(positive) else 0.0
    # Tiny negatives next to a much larger typical KL look like k1 noise: the estimator we were
    # told may be wrong (TRL GRPO logs k3 as `kl`, TRL RLOO logs k1 under the same name), so
    # unless the user declared the estimator, only a clearly negative value is called a bug.
    declared = binding.source == "user"
    noise = _signals.noise_scale(values)
    clearly = typical == 0.0 or (
        -values[low] >= MISLABEL_FRACTION * typical and typical - values[low] > MISLABEL_NOISE_SIGMAS * noise
    )
    severity = "critical" if (clearly or declared) else "info"
    verdict = (
        "is non-negative by construction, so this is a computation or logging bug."
        if severity == "critical"
        else "is non-negative by construction; these dips are tiny next to the typical value "
        f"({fmt_value(typical)}), so the key may in fact be a k1 estimate (check the trainer) or a small bug."
    )
    return RULE.finding(
        severity=severity,
        title=f"Negative {binding.estimator} KL: impossible for this estimator",
        summary=(
            f"The {what} ({binding.tag}, estimator {binding.estimator}) went negative: "
            f"{fmt_value(values[low])} at step {fmt_step(series.index[low])}, {count} negative point(s) "
            f"from step {fmt_step(series.index[first])}. A {binding.estimator} estimate {verdict}"
        ),
        onset_step=series.index[first],
        peak_step=series.index[low],
        end_step=None,
        metrics=[binding.tag],
        evidence={
            "estimator": binding.estimator,
            "estimator_source": binding.source,
            "min_value": float(values[low]),
            "typical_positive_value": typical,
            "negative_points": count,
            "points": len(values),
        },
        confidence=0.9 if severity == "critical" else 0.4,
    )


def _stays_negative_from(values: np.ndarray, floor: float) -> int | None:
    """Where the KL goes negative and stays there: the first mean-shift boundary after which
    every segment's mean is below ``floor`` (None if the last segment's is not)."""
    bounds = [0, *stats.mean_shift_points(values, max_changes=MAX_SEGMENT_CHANGES), len(values)]
    onset = None
    for start, end in reversed(list(zip(bounds[:-1], bounds[1:]))):
        if np.nanmean(values[start:end]) >= floor:
            break
        onset = start
    return onset


def _persistent_negative_k1(run: Run, assume_k1: bool = False) -> Finding | None:
    binding = run.metrics.get("kl.ref")
    if binding is None or (binding.estimator in NONNEGATIVE_ESTIMATORS and not assume_k1):
        return None
    kl = _common.prepared(run, "kl.ref")
    n = len(kl)
    if n < _common.MIN_POINTS:
        return None
    floor = _floor(run)
    smoothed = _common.smooth(kl.to_numpy())
    persist = max(PERSIST_MIN, int(n * PERSIST_FRACTION))
    sustained = stats.persistent(smoothed < floor, persist)
    if not sustained.any():
        return None
    stretches = [(s, e) for s, e in stats.runs(sustained)]
    first_start, _ = stretches[0]
    # Date it where the smoothed KL crossed zero on its way down, not where it crossed the floor.
    onset = stats.excursion_start(smoothed, first_start, 0.0, direction=-1)
    negative_points = int(sustained.sum())
    low = int(np.argmin(smoothed))
    last_end = stretches[-1][1]
    ongoing = last_end >= n
    earlier_dips = 0
    if ongoing:
        # A KL that goes and stays negative is dated where that regime begins (a mean-shift
        # change point), not at an earlier transient dip inside the noise of a k1 estimate.
        stays = _stays_negative_from(kl.to_numpy(), floor)
        if stays is not None and stays > onset:
            earlier_dips = sum(1 for start, _ in stretches if start < stays)
            onset = stays
    end_step = None if ongoing else _common.step_at(kl, last_end - 1)
    severity = "critical" if negative_points >= LONG_FRACTION * n else "warning"
    estimator_note = (
        f" ({binding.tag} is read as {binding.estimator} from the alias table, but TRL RLOO logs k1 under the same "
        "name; either way a KL that stays negative is a bug sign)"
        if assume_k1 else ""
    )
    return RULE.finding(
        severity=severity,
        summary=(
            f"The k1 KL to the reference ({binding.tag}) stayed negative from step {fmt_step(kl.index[onset])}{estimator_note}: "
            f"its rolling median reached {fmt_value(smoothed[low])} at step {fmt_step(kl.index[low])} and was below "
            f"{fmt_value(floor)} for {negative_points} of {n} logged points "
            f"({'still negative at the last step' if ongoing else 'recovered after step ' + fmt_step(end_step)})."
        ),
        onset_step=kl.index[onset],
        peak_step=kl.index[low],
        end_step=end_step,
        metrics=[binding.tag],
        evidence={
            "estimator": binding.estimator or "k1 (assumed)",
            "floor": floor,
            "min_rolling_median": float(smoothed[low]),
            "points_below_floor": negative_points,
            "points": n,
            "earlier_transient_dips": earlier_dips,
        },
        confidence=0.8 if binding.estimator == "k1" else 0.65,
    )


def detect(run: Run) -> list[Finding]:
    ref = run.metrics.get("kl.ref")
    inferred_nonnegative = ref is not None and ref.estimator in NONNEGATIVE_ESTIMATORS and ref.source != "user"
    # An estimator taken from the alias table may be wrong (TRL GRPO and RLOO share `kl`, k3 vs
    # k1): a KL that stays negative is judged as k1 first, an isolated negative as impossible.
    ref_finding = _persistent_negative_k1(run, assume_k1=True) if inferred_nonnegative else None
    if ref_finding is None:
        ref_finding = _impossible_negative(run, "kl.ref")
    found = [ref_finding, _impossible_negative(run, "kl.step")]
    if ref_finding is None:
        found.append(_persistent_negative_k1(run))
    return [f for f in found if f is not None]


RULE = Rule("KL002", "negative-kl", "negative_kl", needs_any=("kl.ref", "kl.step"), doc=__doc__, detect=detect)
