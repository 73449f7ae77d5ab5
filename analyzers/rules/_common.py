"""Small helpers shared by several rule modules (not a rule: the registry skips ``_`` modules)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..model import Run
from . import stats

# Framework families: thresholds differ between classic control PPO and LLM RLHF.
CLASSIC_FRAMEWORKS = frozenset({"stable-baselines3", "cleanrl", "spinningup"})
LLM_FRAMEWORKS = frozenset({"trl-grpo", "trl-ppo", "trl-ppo-legacy", "verl", "openrlhf", "trlx", "deepspeed-chat"})
# Frameworks whose reference KL is summed over the response (nats per sequence), metrics.md §1.4.
SEQUENCE_KL_FRAMEWORKS = frozenset({"trl-ppo", "trl-ppo-legacy", "trlx", "deepspeed-chat"})
# Frameworks whose reference KL is a token mean, metrics.md §1.4.
TOKEN_KL_FRAMEWORKS = frozenset({"trl-grpo", "verl", "openrlhf"})

MIN_POINTS = 20  # Heuristic: fewer logged points than this cannot show a sustained pattern
SMOOTH_FRACTION = 0.02  # Heuristic: rolling-median window as a share of the run
SMOOTH_MIN, SMOOTH_MAX = 5, 101  # Heuristic: window bounds in logged points


def is_classic(run: Run) -> bool:
    return run.framework in CLASSIC_FRAMEWORKS


def is_llm(run: Run) -> bool:
    return run.framework in LLM_FRAMEWORKS


def prepared(run: Run, concept: str, how: str = "median") -> pd.Series:
    """The finite points of a concept's series, reduced to at most ``stats.MAX_POINTS``."""
    return stats.reduce(stats.finite(run.metric(concept)), stats.MAX_POINTS, how)


def smoothing_window(n: int) -> int:
    return stats.window_for(n, SMOOTH_FRACTION, SMOOTH_MIN, SMOOTH_MAX)


def smooth(values: np.ndarray, window: int | None = None) -> np.ndarray:
    """A centred rolling median: kills isolated spikes, keeps level shifts where they happen."""
    window = window or smoothing_window(len(values))
    return stats.rolling_median(values, window, center=True, min_periods=1)


def step_at(series: pd.Series, position: int | None) -> int | None:
    if position is None or len(series) == 0:
        return None
    position = int(min(max(position, 0), len(series) - 1))
    return int(series.index[position])


def level(values: np.ndarray, start: int, end: int) -> float:
    """Median of ``values[start:end]`` (NaN when empty)."""
    chunk = values[max(0, start): max(0, end)]
    return float(np.median(chunk)) if len(chunk) else float("nan")


def ramp_onset(smoothed: np.ndarray, first_alarm: int, direction: int = 1) -> int:
    """Date the start of the excursion that reaches ``first_alarm``: the change point, not the alarm.

    The change point is the best "flat, then ramp" break (:func:`stats.hinge_point`) on the
    series up to the alarm. The onset is then checked against the series' own local baseline
    (a straight line fitted to the points before the break, extrapolated): walking back from the
    alarm to where the series last sat inside that baseline's 3-sigma band dates exponential
    take-offs that a straight ramp fits late, and, when the baseline itself drifts (a healthy
    slow decline before a collapse), replaces the break, which assumes a flat start.
    """
    head = smoothed[: first_alarm + 1] * direction
    if len(head) < 8:
        return max(0, first_alarm - 1) if first_alarm > 0 else 0
    hinge, _ = stats.hinge_point(head, rising_only=True)
    hinge = first_alarm if hinge is None else min(hinge, first_alarm)
    # The baseline window stops short of the break: a ramp fitted late (exponential take-off)
    # already has its first part just before the break.
    lookback = max(10, len(smoothed) // 10)
    lo, hi = max(0, hinge - 2 * lookback), max(0, hinge - lookback // 2)
    if hi - lo < 5:
        lo, hi = 0, hinge
    local = head[lo:hi]
    if len(local) < 5:
        return hinge
    x = np.arange(lo, hi, dtype=np.float64)
    slope, intercept = np.polyfit(x, local, 1)
    residual_scale = stats.robust_scale(local - (slope * x + intercept))
    band = slope * np.arange(len(head)) + intercept + 3 * residual_scale + 1e-12
    inside = np.flatnonzero(head <= band)
    walked = int(inside[-1] + 1) if len(inside) else 0
    walked = min(walked, first_alarm)
    drifting = abs(slope) * len(local) > 3 * residual_scale
    return walked if drifting else int(min(walked, hinge))


GROWTH_RATE_FRACTION = 0.35  # Heuristic: an excursion starts where its log-rate drops below 35 % of the mid-excursion rate
CALM_POINTS = 3  # Heuristic: ... for 3 consecutive points (one slow point inside a staircase is not the start)


def growth_onset(log_values: np.ndarray, reference: int, extreme: int, calm_points: int = CALM_POINTS) -> int:
    """Where a multiplicative excursion that passes ``reference`` on its way to ``extreme`` began.

    ``log_values`` is the log of a smoothed positive series, oriented so the excursion rises
    (pass ``-log(entropy)`` for a collapse). Runaways and collapses are multiplicative, so their
    onset is a change in the slope of the log series. The excursion's rate is the local
    least-squares slope (:func:`stats.local_slope`) around ``reference`` (or its median from
    ``reference`` to ``extreme`` when larger); walking back from ``reference``, the onset is the
    first point of the stretch whose slope stays above :data:`GROWTH_RATE_FRACTION` of that rate,
    tolerating fewer than ``calm_points`` (default :data:`CALM_POINTS`) slower points in a row. A series that had been
    moving slowly the same way since the start (a healthy KL rise, a healthy entropy decline)
    is the earlier trend, not the excursion.
    """
    n = len(log_values)
    half_window = max(2, smoothing_window(n) // 2)
    slope = stats.local_slope(log_values, half_window)
    rate = float(np.median(slope[max(0, reference - half_window): reference + half_window + 1]))
    if extreme > reference:
        rate = max(rate, float(np.median(slope[reference: extreme + 1])))
    if rate <= 0:
        return reference
    still_moving = slope > GROWTH_RATE_FRACTION * rate
    onset, calm = reference, 0
    for position in range(reference - 1, -1, -1):
        if still_moving[position]:
            onset, calm = position, 0
        else:
            calm += 1
            if calm >= max(1, calm_points):
                break
    return onset


# Tags that only exist for continuous (Gaussian) action spaces: SB3 logs the mean action std.
CONTINUOUS_ACTION_TAGS = ("train/std",)
ENTROPY_EARLY_FRACTION = 0.05  # Heuristic: the entropy's starting level is the median of the first 5 %
ENTROPY_EARLY_MIN = 5  # Heuristic: ... and at least 5 logged points


def entropy_profile(run: Run) -> tuple[pd.Series, np.ndarray, float, bool] | None:
    """(entropy series, smoothed values, starting level, continuous?) or None when too short.

    "Continuous" means differential entropy of a continuous action distribution: it can be
    negative (metrics.md §1.4), so its sign and its ratio to the start mean nothing; rules judge
    it by the change in nats instead. It is recognised by a negative value or by a tag only
    continuous policies log (SB3 ``train/std``).
    """
    entropy = prepared(run, "entropy")
    n = len(entropy)
    if n < MIN_POINTS // 2:
        return None
    values = entropy.to_numpy()
    smoothed = smooth(values)
    k = max(ENTROPY_EARLY_MIN, int(n * ENTROPY_EARLY_FRACTION))
    # The first logged value is the initial policy's entropy; when a run collapses between its
    # first logs (SB3 lr 0.03: 0.63 -> 0.04 in two dumps) the early median is already collapsed.
    start = max(float(np.median(values[:k])), float(values[0]))
    continuous = bool(np.any(smoothed < 0)) or any(run.has(tag) for tag in CONTINUOUS_ACTION_TAGS)
    return entropy, smoothed, start, continuous
