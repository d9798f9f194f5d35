"""The forecaster: a linear trend plus seasonal effects, one least-squares fit, in numpy.

Why this method: it is small enough to check by hand, it says what it assumes (a steady
trend and a repeating weekly, or daily, pattern), and its interval comes from ordinary
regression theory on its own residuals. Holt-Winters would follow a changing level
better, but needs more points to settle and its interval is harder to state honestly.

1. Regress y on [1, t, one indicator per position in the season but the first]
   (day of the week for daily buckets, hour of the day for hourly ones), on the buckets
   that have a value. Trend and pattern are fitted together: fitting the line first and
   averaging its residuals per position would tilt the line by the pattern's phase.
2. Forecast x(t)·beta for the next buckets.
3. The interval is +/- z * sigma * sqrt(1 + x(t)' (X'X)^-1 x(t)): sigma from the
   residuals (degrees of freedom: points - parameters), widened by the uncertainty of
   the fitted trend and pattern, more so the further ahead. A normal approximation:
   about 95 % when the residuals are roughly normal and independent.
4. Counts and durations are never negative: the forecast and its band are clipped at 0.

It needs two full seasons to see every position twice with the line beside it, and one
season more to backtest (agency.trends.backtest) on points the fit has not seen:
`needed_points(period)`.
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
    return f"linear trend + {season} effects, one least-squares fit"


def fit_points(period: int) -> int:
    """The fewest points one fit needs: every position of the season seen twice."""
    return SEASONS_TO_FIT * period


def needed_points(period: int) -> int:
    """The fewest points a forecast is given for: a fit, then a season to backtest."""
    return (SEASONS_TO_FIT + SEASONS_TO_BACKTEST) * period


def design(t: Series, period: int, t0: float = 0.0) -> Series:
    """Rows [1, t - t0, indicator of positions 1..period-1] (position 0 is the baseline;
    t0 centres time so the normal equations stay well conditioned)."""
    positions = np.mod(t, period).astype(int)
    seasonal = (positions[:, None] == np.arange(1, period)[None, :]).astype(np.float64)
    return np.column_stack([np.ones_like(t), t - t0, seasonal])


def normal_equations(t: Series, v: Series, period: int, t0: float) -> tuple[Series, Series]:
    """X'X and X'y of `design`, from per-position sums: O(points), where forming X and
    multiplying it out costs O(points * period^2) (a year of hours: 25 fits of 8760 x 25
    each in the backtest)."""
    positions = np.mod(t, period).astype(int)
    tc = t - t0
    counts = np.bincount(positions, minlength=period).astype(np.float64)
    t_sums = np.bincount(positions, weights=tc, minlength=period)
    v_sums = np.bincount(positions, weights=v, minlength=period)
    xtx = np.zeros((period + 1, period + 1))
    xtx[0, 0], xtx[0, 1], xtx[1, 1] = len(v), tc.sum(), (tc**2).sum()
    xtx[0, 2:], xtx[1, 2:] = counts[1:], t_sums[1:]
    xtx[2:, 2:] = np.diag(counts[1:])
    xtx = np.triu(xtx) + np.triu(xtx, 1).T
    xty = np.concatenate([[v.sum(), (tc * v).sum()], v_sums[1:]])
    return xtx, xty


@dataclass(frozen=True)
class Fit:
    beta: Series  # intercept (at t0), slope, effects of positions 1..period-1
    unscaled_cov: Series  # (X'X)^-1, a pseudo-inverse when a position had no points
    sigma: float  # residual standard deviation
    n: int
    period: int
    t0: float

    def mean(self, t: Series) -> Series:
        return np.asarray(design(t, self.period, self.t0) @ self.beta, dtype=np.float64)

    def half_width(self, t: Series, z: float = Z_95) -> Series:
        x = design(t, self.period, self.t0)
        leverage = np.einsum("ij,jk,ik->i", x, self.unscaled_cov, x)
        return np.asarray(z * self.sigma * np.sqrt(1 + leverage), dtype=np.float64)


def fit(y: Series, period: int) -> Fit:
    """Fit the model on `y` (NaN: a bucket without a value, left out of the fit)."""
    t_all = np.arange(len(y), dtype=np.float64)
    known = np.isfinite(y)
    t, v = t_all[known], y[known]
    n = len(v)
    if n < fit_points(period):
        raise ValueError(f"{n} points, {fit_points(period)} needed to fit")
    t0 = float(t.mean())
    xtx, xty = normal_equations(t, v, period, t0)
    # A pseudo-inverse: a position without any point has no effect to estimate (0).
    cov = np.linalg.pinv(xtx)
    beta = cov @ xty
    effects = np.concatenate([[0.0], beta[2:]])
    errors = v - (beta[0] + beta[1] * (t - t0) + effects[np.mod(t, period).astype(int)])
    dof = max(1, n - int(np.linalg.matrix_rank(xtx)))
    sigma = math.sqrt(float((errors**2).sum()) / dof)
    return Fit(beta, cov, sigma, n, period, t0)


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
