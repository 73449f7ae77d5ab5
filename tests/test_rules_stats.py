"""Specification of the shared rule statistics (analyzers/rules/stats.py)."""

import numpy as np
import pandas as pd
import pytest

from analyzers.rules import stats


def _noise(n, seed=0, scale=0.1):
    return scale * np.random.default_rng(seed).standard_normal(n)


def test_finite_drops_nan_and_inf_and_keeps_steps():
    s = pd.Series([1.0, np.nan, 2.0, np.inf, -np.inf, 3.0], index=[0, 10, 20, 30, 40, 50])
    out = stats.finite(s)
    assert out.tolist() == [1.0, 2.0, 3.0]
    assert out.index.tolist() == [0, 20, 50]


def test_finite_of_none_is_empty():
    assert len(stats.finite(None)) == 0


def test_reduce_caps_points_and_keeps_spikes_with_max():
    values = np.zeros(100_000)
    values[77_777] = 50.0
    s = pd.Series(values, index=np.arange(100_000) * 2)
    out = stats.reduce(s, 1_000, "max")
    assert len(out) <= 1_001
    assert out.max() == 50.0
    assert out.index.is_monotonic_increasing


def test_reduce_leaves_short_series_alone():
    s = pd.Series([1.0, 2.0, 3.0])
    assert stats.reduce(s, 10) is s


def test_robust_scale_matches_sigma_for_gaussian_noise():
    assert stats.robust_scale(_noise(20_000, scale=2.0)) == pytest.approx(2.0, rel=0.05)


def test_robust_scale_ignores_a_few_outliers():
    v = _noise(1_000, scale=1.0)
    v[:10] = 1e6
    assert stats.robust_scale(v) < 1.5


def test_robust_scale_is_not_zero_for_a_mostly_constant_series():
    v = np.zeros(100)
    v[-10:] = 1.0
    assert stats.robust_scale(v) > 0


def test_trailing_baseline_excludes_the_point_itself():
    v = np.ones(50)
    v[40] = 100.0
    med, _ = stats.trailing_baseline(v, 10)
    assert med[40] == 1.0
    assert np.isnan(med[0])


def test_ema_follows_a_constant():
    assert np.allclose(stats.ema(np.full(20, 3.0), 5), 3.0)


def test_theil_sen_recovers_the_slope_per_step_despite_outliers():
    steps = np.arange(5_000) * 10
    values = 0.002 * steps + _noise(5_000)
    values[::97] += 50
    slope = stats.theil_sen(pd.Series(values, index=steps))
    assert slope.slope == pytest.approx(0.002, rel=0.02)
    assert slope.low <= slope.slope <= slope.high


def test_trend_detects_a_rise_and_not_noise():
    steps = np.arange(3_000)
    rising = pd.Series(0.001 * steps + _noise(3_000), index=steps)
    flat = pd.Series(_noise(3_000, seed=1), index=steps)
    assert stats.trend(rising).direction == 1
    assert stats.trend(flat).direction == 0
    assert stats.trend(-rising, method="spearman").direction == -1


def test_mean_shift_point_finds_a_step_change():
    v = np.r_[np.zeros(1_000), np.ones(2_000)] + _noise(3_000, scale=0.3)
    pos, gain = stats.mean_shift_point(v)
    assert abs(pos - 1_000) <= 5
    assert gain > 0.5


def test_mean_shift_point_of_a_constant_is_none():
    assert stats.mean_shift_point(np.ones(100)) == (None, 0.0)


def test_mean_shift_points_finds_two_shifts():
    v = np.r_[np.zeros(500), 3 * np.ones(500), np.zeros(500)] + _noise(1_500, scale=0.3)
    found = stats.mean_shift_points(v, max_changes=2)
    assert len(found) == 2
    assert abs(found[0] - 500) <= 5 and abs(found[1] - 1_000) <= 5


def test_hinge_point_dates_the_start_of_a_ramp():
    v = 1.0 + _noise(4_000)
    v[2_600:] += 0.01 * np.arange(1_400)
    pos, gain = stats.hinge_point(v)
    assert abs(pos - 2_600) <= 40
    assert gain > 0.9


def test_excursion_start_walks_back_to_the_band():
    v = np.r_[np.zeros(10), np.arange(1, 11, dtype=float)]
    assert stats.excursion_start(v, 19, level=0.5) == 10
    assert stats.excursion_start(v, 5, level=0.5) == 5
    assert stats.excursion_start(-v, 19, level=-0.5, direction=-1) == 10


def test_runs_and_persistence():
    mask = [0, 1, 1, 1, 0, 1, 0, 1, 1]
    assert stats.runs(mask) == [(1, 4), (5, 6), (7, 9)]
    assert stats.persistent(mask, 2).tolist() == [False, True, True, True, False, False, False, True, True]
    assert stats.longest_run(mask) == (1, 4)
    assert stats.longest_run([0, 0]) is None


def test_window_fraction_is_a_trailing_share():
    frac = stats.window_fraction([1, 0, 1, 1], 2)
    assert frac.tolist() == [1.0, 0.5, 0.5, 1.0]


def test_early_baseline_uses_the_first_fifth():
    v = np.r_[np.full(200, 2.0), np.full(800, 9.0)]
    med, scale = stats.early_baseline(v)
    assert med == 2.0 and scale == 0.0


def test_robust_scale_of_absurd_values_is_infinite_without_a_warning():
    import warnings

    values = np.array([0.0] * 10 + [1e300] * 3 + [-1e300] * 3 + [0.0] * 10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert stats.robust_scale(values) == float("inf")
