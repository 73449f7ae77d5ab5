"""Robust, vectorised statistics shared by the rules.

Everything here is O(n) or O(n log n) on plain numpy/pandas, and long series are reduced to at
most :data:`MAX_POINTS` (change points, rolling statistics) or :data:`TREND_MAX_POINTS` (trend
tests, Theil-Sen) points first, so the whole catalogue runs in well under a second on a
million-point run.

Conventions (stable API; other rule modules rely on it):

- Series in, series out where the step matters: :func:`finite` and :func:`reduce` take and return
  a ``pd.Series`` indexed by step. Functions that only need values take ``np.ndarray`` (or
  anything array-like) and return arrays or positions (``int`` indexes into the array);
  map a position back with ``series.index[pos]``.
- NaN/Inf are data, but only ``non_finite`` looks at them: every other rule starts from
  :func:`finite` (drops them).
- Scales are robust: :func:`robust_scale` is ``1.4826 * MAD`` (the standard deviation for
  Gaussian noise), with fallbacks so it is never 0 for a non-constant series.

Functions
---------
``finite(series)``                    drop NaN/Inf (None -> empty series)
``reduce(series, max_points, how)``   block-aggregate a long series (median/mean/max/min/last)
``robust_scale(values)``              1.4826*MAD, with fallbacks
``early_baseline(values, fraction)``  (median, robust scale) of the first part of a series
``rolling_median(values, window)``    centred or trailing rolling median
``rolling_mad(values, window)``       rolling 1.4826*MAD
``trailing_baseline(values, window)`` (median, scale) of the ``window`` points BEFORE each point
``ema(values, span)``                 exponential moving average
``theil_sen(series)``                 :class:`Slope` per step (scipy.stats.theilslopes)
``trend(series, method)``             :class:`Trend` (Mann-Kendall via Kendall's tau, or Spearman)
``mean_shift_point(values)``          best single mean-shift split (CUSUM / binary segmentation step)
``mean_shift_points(values, ...)``    binary segmentation: several mean shifts
``hinge_point(values)``               best "flat, then linear" break (onset of a ramp)
``excursion_start(values, pos, lvl)`` walk back from ``pos`` to where the series re-enters its band
``local_slope(values, half_window)``  centred rolling least-squares slope per point
``runs(mask)``                        [(start, end_exclusive)] of consecutive True
``persistent(mask, min_length)``      mask of True runs at least ``min_length`` long
``window_fraction(mask, window)``     rolling fraction of True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

# Work caps: enough resolution to date an onset within 0.1 % of a run, bounded cost.
MAX_POINTS = 10_000  # Heuristic: per-series cap for rolling statistics and change points
TREND_MAX_POINTS = 2_000  # Heuristic: Kendall/Spearman/Theil-Sen are O(n log n)/O(n^2) in scipy
MAD_TO_SIGMA = 1.4826  # Derived: MAD * 1.4826 = sigma for Gaussian noise
EARLY_FRACTION = 0.2  # Heuristic: the first fifth of a run is its "early baseline"
MIN_EARLY_POINTS = 5  # Heuristic: a baseline needs at least this many points
TINY = 1e-12


# ---------------------------------------------------------------------------- cleaning
def finite(series: pd.Series | None) -> pd.Series:
    """``series`` without NaN/Inf values, as float64 (an empty series for None)."""
    if series is None:
        return pd.Series(np.zeros(0), index=pd.Index(np.zeros(0, np.int64), name="step"), dtype=float)
    values = np.asarray(series.to_numpy(), dtype=np.float64)
    keep = np.isfinite(values)
    if keep.all():
        return series.astype(np.float64)
    return pd.Series(values[keep], index=series.index[keep], name=series.name)


def reduce(series: pd.Series, max_points: int = MAX_POINTS, how: str = "median") -> pd.Series:
    """``series`` reduced to at most ``max_points`` by aggregating consecutive blocks.

    Each block is indexed by its first step (so onsets are dated no later than they happened).
    ``how``: ``median`` (trends, levels), ``mean``, ``max`` / ``min`` (keep spikes), ``last``.
    """
    n = len(series)
    if n <= max_points:
        return series
    block = int(np.ceil(n / max_points))
    usable = (n // block) * block
    values = series.to_numpy(dtype=np.float64)
    head = values[:usable].reshape(-1, block)
    if how == "median":
        agg = np.median(head, axis=1)
    elif how == "mean":
        agg = head.mean(axis=1)
    elif how == "max":
        agg = head.max(axis=1)
    elif how == "min":
        agg = head.min(axis=1)
    elif how == "last":
        agg = head[:, -1]
    else:
        raise ValueError(f"unknown aggregation {how!r}")
    steps = series.index.to_numpy()[:usable:block]
    if usable < n:  # the tail block
        tail = values[usable:]
        tail_value = {"median": np.median, "mean": np.mean, "max": np.max, "min": np.min, "last": lambda v: v[-1]}[how](tail)
        agg = np.append(agg, tail_value)
        steps = np.append(steps, series.index.to_numpy()[usable])
    return pd.Series(agg, index=pd.Index(steps, name=series.index.name), name=series.name)


# ---------------------------------------------------------------------------- robust scale
def robust_scale(values: Any) -> float:
    """1.4826 * MAD of the finite values; falls back to IQR/1.349, then std, then 0."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return 0.0
    # Absurd values (~1e300) overflow the squares of the std fallback to inf: that is the
    # right answer (an unbounded scale), so the overflow is not worth a RuntimeWarning.
    with np.errstate(over="ignore", invalid="ignore"):
        med = np.median(v)
        mad = MAD_TO_SIGMA * float(np.median(np.abs(v - med)))
        if mad > TINY:
            return mad
        q75, q25 = np.percentile(v, [75, 25])
        iqr = float(q75 - q25) / 1.349
        if iqr > TINY:
            return iqr
        return float(np.std(v))


def early_baseline(values: Any, fraction: float = EARLY_FRACTION, min_points: int = MIN_EARLY_POINTS) -> tuple[float, float]:
    """(median, robust scale) of the first ``fraction`` of ``values`` (at least ``min_points``)."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        return float("nan"), 0.0
    k = min(len(v), max(min_points, int(len(v) * fraction)))
    head = v[:k]
    return float(np.median(head)), robust_scale(head)


# ---------------------------------------------------------------------------- rolling
def rolling_median(values: Any, window: int, *, center: bool = False, min_periods: int = 1) -> np.ndarray:
    """Rolling median (trailing by default, i.e. over the ``window`` points ending at each point)."""
    s = pd.Series(np.asarray(values, dtype=np.float64))
    window = max(1, int(window))
    return s.rolling(window, center=center, min_periods=min(min_periods, window)).median().to_numpy()


def rolling_mad(values: Any, window: int, *, center: bool = False, min_periods: int = 1) -> np.ndarray:
    """Rolling 1.4826 * median absolute deviation around the rolling median.

    Computed as the rolling median of |x - rolling median| (a close, O(n log w) approximation of
    the exact per-window MAD).
    """
    v = np.asarray(values, dtype=np.float64)
    med = rolling_median(v, window, center=center, min_periods=min_periods)
    dev = np.abs(v - med)
    return MAD_TO_SIGMA * rolling_median(dev, window, center=center, min_periods=min_periods)


def trailing_baseline(values: Any, window: int, min_periods: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(median, robust scale) of the ``window`` points strictly before each point (NaN at the start).

    Use it to compare a point with its recent past without the point itself diluting the baseline
    (spike detection).
    """
    v = np.asarray(values, dtype=np.float64)
    s = pd.Series(v).shift(1)
    window = max(1, int(window))
    mp = min(min_periods, window)
    med = s.rolling(window, min_periods=mp).median()
    mad = (s - med).abs().rolling(window, min_periods=mp).median() * MAD_TO_SIGMA
    return med.to_numpy(), mad.to_numpy()


def ema(values: Any, span: float) -> np.ndarray:
    """Exponential moving average with the pandas ``span`` convention (alpha = 2 / (span + 1))."""
    return pd.Series(np.asarray(values, dtype=np.float64)).ewm(span=max(1.0, float(span)), adjust=True).mean().to_numpy()


# ---------------------------------------------------------------------------- trends
@dataclass(frozen=True)
class Slope:
    """Theil-Sen slope (value per step) with its 95 % confidence bounds."""

    slope: float
    intercept: float
    low: float
    high: float


@dataclass(frozen=True)
class Trend:
    """A monotonic-trend test: statistic in [-1, 1], two-sided p-value, direction (+1, -1 or 0)."""

    statistic: float
    p_value: float
    direction: int


def _subsample(series: pd.Series, max_points: int) -> pd.Series:
    s = finite(series)
    if len(s) > max_points:
        s = reduce(s, max_points, "median")
    return s


def theil_sen(series: pd.Series, max_points: int = TREND_MAX_POINTS) -> Slope:
    """Theil-Sen slope of ``series`` against its steps (on a bounded median-block subsample)."""
    s = _subsample(series, max_points)
    if len(s) < 3:
        return Slope(0.0, float(s.iloc[0]) if len(s) else float("nan"), 0.0, 0.0)
    x = s.index.to_numpy(dtype=np.float64)
    y = s.to_numpy(dtype=np.float64)
    result = scipy_stats.theilslopes(y, x)
    return Slope(float(result[0]), float(result[1]), float(result[2]), float(result[3]))


def trend(series: pd.Series, method: str = "kendall", alpha: float = 0.01, max_points: int = TREND_MAX_POINTS) -> Trend:
    """Monotonic trend test of ``series`` against time.

    ``kendall`` is the Mann-Kendall test (Kendall's tau between value and step); ``spearman``
    uses Spearman's rho. ``direction`` is 0 unless ``p_value < alpha``.
    """
    s = _subsample(series, max_points)
    if len(s) < 4 or np.ptp(s.to_numpy()) == 0:
        return Trend(0.0, 1.0, 0)
    x = np.arange(len(s), dtype=np.float64)
    y = s.to_numpy(dtype=np.float64)
    if method == "kendall":
        res = scipy_stats.kendalltau(x, y)
    elif method == "spearman":
        res = scipy_stats.spearmanr(x, y)
    else:
        raise ValueError(f"unknown trend method {method!r}")
    stat, p = float(res.statistic), float(res.pvalue)
    if not np.isfinite(stat) or not np.isfinite(p):
        return Trend(0.0, 1.0, 0)
    direction = int(np.sign(stat)) if p < alpha else 0
    return Trend(stat, p, direction)


# ---------------------------------------------------------------------------- change points
def mean_shift_point(values: Any, min_size: int = 2) -> tuple[int | None, float]:
    """Best single mean-shift split of ``values``: (position of the first point after the shift, gain).

    The split maximises the between-segment sum of squares ``k (n-k) / n * (mean1 - mean2)^2``
    (the likelihood-ratio CUSUM statistic for one Gaussian mean change). ``gain`` is that sum of
    squares divided by the total sum of squares (0..1: the share of variance the split explains).
    """
    v = np.asarray(values, dtype=np.float64)
    n = len(v)
    if n < 2 * min_size:
        return None, 0.0
    with np.errstate(all="ignore"):  # overflow on absurd values just means "no usable split"
        total_ss = float(np.sum((v - v.mean()) ** 2))
        if not np.isfinite(total_ss) or total_ss <= TINY:
            return None, 0.0
        csum = np.cumsum(v)
        k = np.arange(min_size, n - min_size + 1)
        left_mean = csum[k - 1] / k
        right_mean = (csum[-1] - csum[k - 1]) / (n - k)
        between = k * (n - k) / n * (left_mean - right_mean) ** 2
        between = np.where(np.isfinite(between), between, 0.0)
    best = int(np.argmax(between))
    return int(k[best]), float(between[best] / total_ss)


def mean_shift_points(values: Any, max_changes: int = 3, min_size: int = 5, min_gain: float = 0.1) -> list[int]:
    """Binary segmentation: up to ``max_changes`` mean-shift positions, sorted.

    A segment is split again when its best split explains at least ``min_gain`` of the
    segment's variance.
    """
    v = np.asarray(values, dtype=np.float64)
    found: list[int] = []
    segments = [(0, len(v))]
    while segments and len(found) < max_changes:
        start, end = segments.pop(0)
        pos, gain = mean_shift_point(v[start:end], min_size)
        if pos is None or gain < min_gain:
            continue
        found.append(start + pos)
        segments += [(start, start + pos), (start + pos, end)]
        segments.sort(key=lambda se: se[0] - se[1])  # longest segment first
    return sorted(found)


def hinge_point(values: Any, min_size: int = 3, rising_only: bool = False) -> tuple[int | None, float]:
    """Best continuous "flat, then linear" fit: (position where the ramp starts, gain).

    Fits ``y = c + b * max(0, i - k)`` for every break ``k`` in O(n) with suffix sums and returns
    the ``k`` with the least squared error. ``gain`` is the share of the total variance the fit
    explains (0..1). With ``rising_only`` only breaks followed by a rising ramp (b > 0) count
    (None when there is none). This dates the start of a ramp (a runaway KL, a collapsing entropy) at the
    change point rather than where the ramp crosses an alarm threshold.
    """
    y = np.asarray(values, dtype=np.float64)
    n = len(y)
    if n < 2 * min_size:
        return None, 0.0
    with np.errstate(all="ignore"):  # overflow on absurd values just means "no usable fit"
        return _hinge_point(y, n, min_size, rising_only)


def _hinge_point(y: np.ndarray, n: int, min_size: int, rising_only: bool) -> tuple[int | None, float]:
    t = np.arange(n, dtype=np.float64)
    sy, syy = y.sum(), float(np.sum(y * y))
    total_ss = syy - sy * sy / n
    if not np.isfinite(total_ss) or total_ss <= TINY:
        return None, 0.0
    # Suffix sums over i >= k.
    s1 = np.cumsum(t[::-1])[::-1]
    s2 = np.cumsum((t * t)[::-1])[::-1]
    sy_suffix = np.cumsum(y[::-1])[::-1]
    sty = np.cumsum((t * y)[::-1])[::-1]
    k = np.arange(0, n - min_size)
    m = n - k
    tk = t[k]
    sx = s1[k] - m * tk
    sxx = s2[k] - 2 * tk * s1[k] + m * tk * tk
    sxy = sty[k] - tk * sy_suffix[k]
    var_x = sxx - sx * sx / n
    cov_xy = sxy - sx * sy / n
    with np.errstate(divide="ignore", invalid="ignore"):
        explained = np.where(var_x > TINY, cov_xy * cov_xy / var_x, 0.0)
    explained = np.where(np.isfinite(explained), explained, 0.0)
    if rising_only:
        explained = np.where(cov_xy > 0, explained, -1.0)
        if not (explained >= 0).any():
            return None, 0.0
    best = int(np.argmax(explained))
    return int(k[best]), float(explained[best] / total_ss)


def excursion_start(values: Any, position: int, level: float, direction: int = 1) -> int:
    """Walk back from ``position`` to the first point of the excursion containing it.

    Returns the smallest ``i <= position`` such that every point from ``i`` to ``position`` is
    beyond ``level`` (above it for ``direction=+1``, below for ``-1``). When ``values[position]``
    itself is not beyond ``level``, returns ``position``.
    """
    v = np.asarray(values, dtype=np.float64)
    position = int(min(max(position, 0), len(v) - 1))
    beyond = v > level if direction > 0 else v < level
    if not beyond[position]:
        return position
    inside = np.flatnonzero(~beyond[: position + 1])
    return int(inside[-1] + 1) if len(inside) else 0


def local_slope(values: Any, half_window: int) -> np.ndarray:
    """Least-squares slope (value per point) over the ``2 * half_window + 1`` points centred on each point.

    Shorter windows at the ends (at least 3 points). Applied to a log series it is the local
    growth rate; a regression slope is less jumpy than an end-point difference on a
    rolling-median (staircase) series.
    """
    v = pd.Series(np.asarray(values, dtype=np.float64))
    x = pd.Series(np.arange(len(v), dtype=np.float64))
    width = 2 * max(1, int(half_window)) + 1
    with np.errstate(all="ignore"):
        cov = x.rolling(width, center=True, min_periods=3).cov(v)
        var = x.rolling(width, center=True, min_periods=3).var()
        slope = (cov / var).to_numpy()
    return np.where(np.isfinite(slope), slope, 0.0)


# ---------------------------------------------------------------------------- persistence
def runs(mask: Any) -> list[tuple[int, int]]:
    """Runs of consecutive True values as (start, end_exclusive) positions."""
    m = np.asarray(mask, dtype=bool)
    if len(m) == 0:
        return []
    padded = np.concatenate(([False], m, [False]))
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(s), int(e)) for s, e in zip(edges[::2], edges[1::2])]


def persistent(mask: Any, min_length: int) -> np.ndarray:
    """``mask`` keeping only True runs of at least ``min_length`` consecutive points."""
    m = np.asarray(mask, dtype=bool)
    out = np.zeros(len(m), dtype=bool)
    for start, end in runs(m):
        if end - start >= min_length:
            out[start:end] = True
    return out


def longest_run(mask: Any) -> tuple[int, int] | None:
    """The longest run of True as (start, end_exclusive), or None."""
    all_runs = runs(mask)
    if not all_runs:
        return None
    return max(all_runs, key=lambda se: se[1] - se[0])


def window_fraction(mask: Any, window: int) -> np.ndarray:
    """Fraction of True over the trailing ``window`` points ending at each point."""
    m = np.asarray(mask, dtype=np.float64)
    return pd.Series(m).rolling(max(1, int(window)), min_periods=1).mean().to_numpy()


def window_for(n: int, fraction: float, lo: int, hi: int) -> int:
    """A window of ``fraction`` of ``n`` points, clamped to [lo, hi] (and to n)."""
    return int(max(1, min(n, max(lo, min(hi, round(n * fraction))))))
