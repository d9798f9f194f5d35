"""The forecaster and its backtest on synthetic series whose truth is known."""

from __future__ import annotations

import numpy as np
import pytest

from agency.trends.backtest import backtest
from agency.trends.forecast import (
    Forecast,
    NotEnough,
    design,
    fit,
    forecast,
    needed_points,
    normal_equations,
    one_step,
)

WEEK = np.array([5.0, 8.0, 9.0, 9.0, 8.0, 2.0, 1.0])


def weekly(days: int, start: int = 0) -> np.ndarray:
    t = np.arange(start, start + days, dtype=np.float64)
    return 10 + 0.3 * t + WEEK[t.astype(int) % 7]


def test_a_linear_trend_with_a_weekly_pattern_is_forecast_within_the_interval() -> None:
    noise = np.random.default_rng(7).normal(0, 1, 56)
    done = forecast(weekly(56) + noise, period=7, horizon=7)
    assert isinstance(done, Forecast)
    truth = weekly(7, start=56)
    assert np.all(done.lower <= truth) and np.all(truth <= done.upper)
    # Close, not merely inside a wide band: the band is about +/- 2 sigma of noise 1.
    assert np.max(np.abs(done.mean - truth)) < 1.5
    assert np.all(done.upper - done.lower < 6)
    assert done.fitted_on == 56 and done.period == 7
    assert "day of the week" in done.method
    # It beats the seasonal-naive guess on a trending series.
    assert done.backtest.naive_mae is not None
    assert done.backtest.mae < done.backtest.naive_mae


def test_an_exact_series_is_forecast_exactly_with_a_zero_backtest_error() -> None:
    done = forecast(weekly(28), period=7, horizon=7)
    assert isinstance(done, Forecast)
    np.testing.assert_allclose(done.mean, weekly(7, start=28), atol=1e-9)
    assert done.backtest.mae == pytest.approx(0, abs=1e-9)
    assert done.backtest.points == 7


def test_noise_alone_gives_a_wide_band_around_its_mean() -> None:
    rng = np.random.default_rng(3)
    quiet = forecast(50 + rng.normal(0, 1, 42), period=7, horizon=7)
    loud = forecast(50 + rng.normal(0, 15, 42), period=7, horizon=7)
    assert isinstance(quiet, Forecast) and isinstance(loud, Forecast)
    width_quiet = float(np.mean(quiet.upper - quiet.lower))
    width_loud = float(np.mean(loud.upper - loud.lower))
    # The band scales with the noise (2 * 1.96 * sigma and more), not with the level.
    assert width_loud > 10 * width_quiet
    assert width_loud > 2 * 1.96 * 15 * 0.8
    assert np.all(loud.lower <= 50) and np.all(loud.upper >= 50)


def test_too_short_a_series_gets_no_forecast_and_says_why() -> None:
    done = forecast(weekly(20), period=7, horizon=7)
    assert isinstance(done, NotEnough)
    assert (done.points, done.needed) == (20, 21)
    assert done.reason.startswith("not enough data (20 points, 21 needed")
    assert needed_points(24) == 72


def test_buckets_without_a_value_do_not_count_as_points() -> None:
    y = weekly(28)
    y[::4] = np.nan  # 7 buckets without a value: 21 points left, just enough
    assert isinstance(forecast(y, period=7, horizon=7), Forecast)
    y[1] = np.nan
    done = forecast(y, period=7, horizon=7)
    assert isinstance(done, NotEnough) and done.points == 20


def test_counts_are_never_forecast_below_zero() -> None:
    t = np.arange(42, dtype=np.float64)
    done = forecast(np.maximum(0.0, 40 - t), period=7, horizon=7)
    assert isinstance(done, Forecast)
    assert np.all(done.mean >= 0) and np.all(done.lower >= 0)


def test_the_backtest_error_matches_a_hand_computed_example() -> None:
    # The last value as the forecast of the next: on the last 3 points of
    # [1, 2, 4, 7, 11, 0] it forecasts 4 for 7, 7 for 11 and 11 for 0.
    y = np.array([1.0, 2.0, 4.0, 7.0, 11.0, 0.0])
    scored = backtest(y, 3, lambda prefix: float(prefix[-1]), period=2)
    assert scored.points == 3
    assert scored.mae == pytest.approx((3 + 4 + 11) / 3)
    # MAPE leaves out the actual 0: (3/7 + 4/11) / 2.
    assert scored.mape == pytest.approx((3 / 7 + 4 / 11) / 2)
    # The seasonal-naive guess, 2 steps back: 2 for 7, 4 for 11, 7 for 0.
    assert scored.naive_mae == pytest.approx((5 + 7 + 7) / 3)


def test_the_method_one_step_ahead_is_the_fit_on_the_prefix() -> None:
    y = weekly(21) + np.random.default_rng(1).normal(0, 1, 21)
    model = fit(y[:14], 7)
    assert one_step(7)(y[:14]) == pytest.approx(float(model.mean(np.array([14.0]))[0]))
    scored = backtest(y, 7, one_step(7), period=7)
    by_hand = np.mean([abs(y[i] - one_step(7)(y[:i])) for i in range(14, 21)])
    assert scored.mae == pytest.approx(by_hand)


def test_a_fit_needs_two_seasons() -> None:
    with pytest.raises(ValueError, match="13 points, 14 needed"):
        fit(weekly(13), 7)


def test_the_normal_equations_from_sums_are_those_of_the_design_matrix() -> None:
    rng = np.random.default_rng(5)
    t = np.sort(rng.choice(np.arange(60, dtype=np.float64), 40, replace=False))
    v = rng.normal(10, 3, 40)
    xtx, xty = normal_equations(t, v, 7, float(t.mean()))
    x = design(t, 7, float(t.mean()))
    np.testing.assert_allclose(xtx, x.T @ x, atol=1e-9)
    np.testing.assert_allclose(xty, x.T @ v, atol=1e-9)
    # And the fit is ordinary least squares on that matrix.
    y = np.full(60, np.nan)
    y[t.astype(int)] = v
    expected, *_ = np.linalg.lstsq(x, v, rcond=None)
    np.testing.assert_allclose(fit(y, 7).beta, expected, atol=1e-9)
