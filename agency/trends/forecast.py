"""The forecaster: a least-squares linear trend plus a seasonal profile, in plain numpy.

Why this method: it is small enough to check by hand, it says what it assumes (a steady
trend and a repeating weekly, or daily, pattern), and its interval comes from its own
residuals. Holt-Winters would follow a changing level better, but needs more points to
settle and its interval is harder to state honestly.

1. Fit y = a + b·t by least squares on the buckets that have a value.
2. The seasonal profile: the mean residual of each position in the season (day of the
   week for daily buckets, hour of the day for hourly ones).
3. Forecast a + b*t + profile[t mod period]; the interval is +/- z * sigma *
   sqrt(1 + 1/n + (t - t_mean)^2/Sxx + 1/n_slot): sigma from the residuals of the fit
   (degrees of freedom: n - 2 - (period - 1)), widened for the uncertainty of the line
   and of the slot's mean.
   It is a normal approximation: about 95 % when the residuals are roughly normal.
4. Counts and durations are never negative: the forecast and its band are clipped at 0.

It needs two full seasons to estimate each slot of the profile twice and the line
beside it, and one season more to backtest (agency.trends.backtest) on points the fit
has not seen: `needed_points(period)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from agency.trends.backtest import BacktestResult, OneStep, Series, backtest

Z_95 = 1.959964
SEASONS_TO_FIT = 2
SEASONS_TO_BACKTEST = 1


def method_name(period: int) -> str:
    season = {7: "day of the week", 24: "hour of the day"}.get(period, f"period {period}")
    return f"linear trend + seasonal means of residuals ({season}), least squares"


def fit_points(period: int) -> int:
    """The fewest points one fit needs: every slot of the profile seen twice."""
    return SEASONS_TO_FIT * period


def needed_points(period: int) -> int:
    """The fewest points a forecast is given for: a fit, then a season to backtest."""
    return (SEASONS_TO_FIT + SEASONS_TO_BACKTEST) * period


@dataclass(frozen=True)
class Fit:
    intercept: float
    slope: float
    profile: Series  # one mean residual per slot (0 for a slot without points)
    slot_counts: Series  # how many points each slot's mean had
    sigma: float  # residual standard deviation of the whole model
    n: int
    t_mean: float
    sxx: float
    period: int

    def mean(self, t: Series) -> Series:
        slots = np.mod(t, self.period).astype(int)
        return self.intercept + self.slope * t + self.profile[slots]

    def half_width(self, t: Series, z: float = Z_95) -> Series:
        slots = np.mod(t, self.period).astype(int)
        counts = np.maximum(self.slot_counts[slots], 1.0)
        spread = 1 + 1 / self.n + (t - self.t_mean) ** 2 / self.sxx + 1 / counts
        return np.asarray(z * self.sigma * np.sqrt(spread), dtype=np.float64)


def fit(y: Series, period: int) -> Fit:
    """Fit the model on `y` (NaN: a bucket without a value, left out of the fit)."""
    t_all = np.arange(len(y), dtype=np.float64)
    known = np.isfinite(y)
    t, v = t_all[known], y[known]
    n = len(v)
    if n < fit_points(period):
        raise ValueError(f"{n} points, {fit_points(period)} needed to fit")
    t_mean = float(t.mean())
    sxx = float(((t - t_mean) ** 2).sum())
    slope = float(((t - t_mean) * (v - v.mean())).sum() / sxx)
    intercept = float(v.mean() - slope * t_mean)
    residuals = v - (intercept + slope * t)
    slots = np.mod(t, period).astype(int)
    counts = np.bincount(slots, minlength=period).astype(np.float64)
    sums = np.bincount(slots, weights=residuals, minlength=period)
    profile = np.divide(sums, counts, out=np.zeros(period), where=counts > 0)
    # Not centred by hand: least-squares residuals sum to 0, so the profile's mean over
    # the points is already 0 and the line keeps the series' level.
    errors = v - (intercept + slope * t + profile[slots])
    dof = max(1, n - 2 - (period - 1))
    sigma = math.sqrt(float((errors**2).sum()) / dof)
    return Fit(intercept, slope, profile, counts, sigma, n, t_mean, sxx, period)


@dataclass(frozen=True)
class Forecast:
    method: str
    period: int
    fitted_on: int  # points (buckets with a value) the final fit used
    mean: Series  # one value per future bucket
    lower: Series
    upper: Series
    backtest: BacktestResult
    interval: float = 0.95


@dataclass(frozen=True)
class NotEnough:
    points: int
    needed: int
    period: int

    @property
    def reason(self) -> str:
        return (
            f"not enough data ({self.points} points, {self.needed} needed: "
            f"{SEASONS_TO_FIT} seasons of {self.period} buckets to fit the trend and the "
            f"seasonal pattern, {SEASONS_TO_BACKTEST} more to backtest it)"
        )


def one_step(period: int) -> OneStep:
    """The method as a backtest runs it: fit on a prefix, forecast the next point."""

    def predict(prefix: Series) -> float:
        model = fit(prefix, period)
        return float(model.mean(np.array([float(len(prefix))]))[0])

    return predict


def forecast(
    y: Series, period: int, horizon: int, *, non_negative: bool = True
) -> Forecast | NotEnough:
    """The next `horizon` buckets after `y`, or why not: too few points with a value."""
    points = int(np.isfinite(y).sum())
    if points < needed_points(period):
        return NotEnough(points, needed_points(period), period)
    scored = backtest(y, SEASONS_TO_BACKTEST * period, one_step(period), period)
    model = fit(y, period)
    t = np.arange(len(y), len(y) + horizon, dtype=np.float64)
    mean, half = model.mean(t), model.half_width(t)
    lower, upper = mean - half, mean + half
    if non_negative:
        mean, lower, upper = (np.maximum(a, 0.0) for a in (mean, lower, upper))
    return Forecast(method_name(period), period, model.n, mean, lower, upper, scored)
