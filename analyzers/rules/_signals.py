"""Signals shared by the reward/length/schedule rules (not a rule: the registry skips ``_`` modules).

Built on :mod:`analyzers.rules.stats` and :mod:`analyzers.rules._common`; adds what those lack:
the optimised-reward and behaviour series of a run, the point-to-point noise of a series, a
"level shift with onset" summary, and a rank correlation between two series on common steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from ..model import MetricBinding, Run
from . import _common, stats

# The optimised reward, in order of preference: the RM/verifier score, the KL-penalised total,
# the classic-RL episodic return (metrics.md §1.1).
REWARD_CONCEPTS = ("reward.score", "reward.total", "rl.ep_return")


def reward_series(run: Run) -> tuple[str | None, pd.Series]:
    """(concept, finite series) of the reward the run optimises, or (None, empty)."""
    for concept in REWARD_CONCEPTS:
        series = _common.prepared(run, concept)
        if len(series):
            return concept, series
    return None, stats.finite(None)


def behaviour_series(run: Run) -> list[tuple[MetricBinding, pd.Series]]:
    """Every behaviour/eval metric of the run, transformed so that higher is better."""
    out: list[tuple[MetricBinding, pd.Series]] = []
    seen: set[str] = set()
    bindings = list(run.behaviour)
    if "eval.reward" in run.metrics:
        bindings.append(run.metrics["eval.reward"])
    for binding in bindings:
        if binding.tag in seen or not run.has(binding.tag):
            continue
        seen.add(binding.tag)
        series = stats.finite(run.series(binding.tag))
        if binding.transform == "negate":
            series = -series
        out.append((binding, series))
    return out


def noise_scale(values: np.ndarray) -> float:
    """Point-to-point noise of a series: robust scale of its second differences / sqrt(6).

    Second differences cancel any locally linear trend, so a rising or falling curve does not
    inflate its own noise estimate (for white noise of sd s, Var[x[i+1] - 2x[i] + x[i-1]] = 6 s^2).
    """
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 4:
        return stats.robust_scale(np.diff(v)) / np.sqrt(2.0) if len(v) >= 2 else 0.0
    return stats.robust_scale(np.diff(v, 2)) / np.sqrt(6.0)


@dataclass(frozen=True)
class Shift:
    """A sustained level change: where it began and the levels before and after."""

    onset: int  # position of the change point (start of the ramp)
    before: float  # median level over the window before the onset
    after: float  # median level over the last part of the run
    peak: int  # position of the extreme of the smoothed series after the onset

    @property
    def ratio(self) -> float:
        return self.after / self.before if self.before > 0 else float("inf") if self.after > 0 else 1.0


LATE_FRACTION = 0.1  # Heuristic: the "late level" is the median of the last 10 % of the run
BEFORE_FRACTION = 0.15  # Heuristic: the "before level" is the median of 15 % of the run before the onset


def level_shift(values: np.ndarray, direction: int = 1) -> Shift | None:
    """The main sustained rise (``direction=+1``) or fall (``-1``) of ``values``, dated by change point.

    The onset is the change point of a "flat, then ramp" fit on the smoothed series, walked back
    to where the series left its earlier band (``_common.ramp_onset``), evaluated up to the point
    where the smoothed series has covered half of its move from the before-level to the late level.
    """
    v = np.asarray(values, dtype=np.float64)
    n = len(v)
    if n < _common.MIN_POINTS:
        return None
    smoothed = _common.smooth(v)
    late = float(np.median(smoothed[-max(3, int(n * LATE_FRACTION)):]))
    hinge, _ = stats.hinge_point(smoothed * direction)
    if hinge is None:
        return None
    window = max(5, int(n * BEFORE_FRACTION))
    before = float(np.median(smoothed[max(0, hinge - window): hinge + 1]))
    halfway = before + 0.5 * (late - before)
    crossed = np.flatnonzero((smoothed - halfway) * direction >= 0)
    crossed = crossed[crossed >= hinge]
    if len(crossed) == 0 or (late - before) * direction <= 0:
        return Shift(hinge, before, late, hinge)
    onset = _common.ramp_onset(smoothed, int(crossed[0]), direction=direction)
    onset = max(onset, _acceleration_point(smoothed, before, late, direction) or 0)
    before = float(np.median(smoothed[max(0, onset - window): onset + 1]))
    tail = smoothed[onset:] * direction
    peak = onset + int(np.argmax(tail))
    return Shift(onset, before, late, peak)


ACCELERATION = 3.0  # Heuristic: a take-off is a slope at least 3x the slope of the drift before it
ACCELERATION_SPAN = 0.75  # Heuristic: fit the two slopes up to where 75 % of the move is covered
DRIFT_MIN_POINTS = 6  # Heuristic: the slow drift before a take-off is seen on at least 6 logged points
DRIFT_MAX_SHARE = 1 / 3  # Heuristic: ... and covers less than a third of the whole move (most of it follows the take-off)


def _acceleration_point(smoothed: np.ndarray, before: float, late: float, direction: int) -> int | None:
    """Position where a slow drift turns into a fast ramp (:func:`take_off`), or None."""
    brk = take_off(np.arange(len(smoothed), dtype=np.float64), smoothed, before, late, direction)
    return None if brk is None else int(np.ceil(brk))


def take_off(steps: np.ndarray, values: np.ndarray, start: float, end: float, direction: int) -> float | None:
    """Step where a slow drift from ``start`` towards ``end`` turns into a fast move, or None.

    The "flat, then ramp" change point assumes a flat start; a series that drifts slowly the same
    way and then takes off (a response length creeping up before racing to the cap, an eval score
    sagging before it crashes) fits that model best with a break at the very start. A continuous
    two-slope fit (:func:`broken_line_break`) over the move up to :data:`ACCELERATION_SPAN` of its
    size finds the take-off instead. It counts only when the drift before it went the same way
    (a flat start is the hinge's job), was seen on :data:`DRIFT_MIN_POINTS` points and covered
    less than :data:`DRIFT_MAX_SHARE` of the move, and the move after it is at least
    :data:`ACCELERATION` times steeper.
    """
    x = np.asarray(steps, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64) * direction
    target = (start + ACCELERATION_SPAN * (end - start)) * direction
    reached = np.flatnonzero(y >= target)
    if len(reached) == 0 or reached[0] < 5:
        return None
    stop = int(reached[0]) + 1
    brk, slope_before, slope_after = broken_line_break(x[:stop], y[:stop])
    if brk is None or slope_before <= 0 or slope_after < ACCELERATION * slope_before:
        return None
    if int(np.sum(x[:stop] < brk)) < DRIFT_MIN_POINTS:
        return None  # a "drift" seen on a handful of points is a rounded peak, not a drift
    move = (end - start) * direction
    if move <= 0 or (float(np.interp(brk, x, y)) - start * direction) > DRIFT_MAX_SHARE * move:
        return None  # most of the move happened before the "take-off": it is one gradual move
    return brk


def rank_correlation(a: pd.Series, b: pd.Series, start_step: int | None = None) -> tuple[float, float, int]:
    """Spearman correlation of two series on their common steps (from ``start_step``): (rho, p, n)."""
    joined = pd.concat([a.rename("a"), b.rename("b")], axis=1, join="inner").dropna()
    if start_step is not None:
        joined = joined[joined.index >= start_step]
    if len(joined) < 5 or joined["a"].nunique() < 2 or joined["b"].nunique() < 2:
        return 0.0, 1.0, len(joined)
    res = scipy_stats.spearmanr(joined["a"].to_numpy(), joined["b"].to_numpy())
    rho, p = float(res.statistic), float(res.pvalue)
    if not np.isfinite(rho):
        return 0.0, 1.0, len(joined)
    return rho, p, len(joined)


def position_of(series: pd.Series, step: int) -> int:
    """Position of the first point of ``series`` at or after ``step`` (clamped)."""
    pos = int(np.searchsorted(series.index.to_numpy(), step, side="left"))
    return min(max(pos, 0), max(0, len(series) - 1))


def persist_length(n: int, fraction: float = 0.03, minimum: int = 5) -> int:
    """Consecutive points a condition must hold: ``fraction`` of the run, at least ``minimum``."""
    return max(minimum, int(n * fraction))


def broken_line_break(steps: np.ndarray, values: np.ndarray, candidates: int = 200) -> tuple[float | None, float, float]:
    """Best continuous two-segment linear fit of ``values`` over ``steps``: (break step, slope before, slope after).

    The break is searched on a grid of ``candidates`` steps strictly inside the range, so it can
    fall between two logged points: with sparse evaluations this dates a peak more finely than
    the evaluation interval. Returns (None, 0, 0) when there are fewer than 5 points.
    """
    x = np.asarray(steps, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if len(x) < 5:
        return None, 0.0, 0.0
    grid = np.linspace(x[1], x[-2], candidates)
    best: tuple[float, float, float, float] | None = None
    for b in grid:
        design = np.column_stack([np.ones_like(x), np.minimum(x - b, 0.0), np.maximum(x - b, 0.0)])
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        sse = float(np.sum((design @ coef - y) ** 2))
        if best is None or sse < best[0]:
            best = (sse, float(b), float(coef[1]), float(coef[2]))
    assert best is not None
    return best[1], best[2], best[3]
