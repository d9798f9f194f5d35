"""Rolling-origin one-step backtests: how wrong the method was on points it had not seen.

For each of the last `k` points, the method is fitted on every point before it and
asked for that one point; the errors of those `k` one-step forecasts are summarised.
A seasonal-naive baseline (the value one season earlier) is scored on the same points,
so a reader can tell whether the method beats the simplest guess.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Series = NDArray[np.float64]
# Fitted on the points before an origin, the forecast of the point at that origin.
OneStep = Callable[[Series], float]


@dataclass(frozen=True)
class BacktestResult:
    points: int
    mae: float
    # Mean absolute percentage error over the points whose actual value is not 0 (a
    # percentage of 0 is undefined); None when every actual was 0.
    mape: float | None
    naive_mae: float | None


def backtest(y: Series, k: int, one_step: OneStep, period: int | None = None) -> BacktestResult:
    """Score `one_step` on the last `k` finite points of `y` (NaN: no value that bucket;
    such origins are skipped, the prefix keeps them as NaN for the method to ignore)."""
    if k < 1:
        raise ValueError("a backtest needs at least one point")
    origins = [i for i in range(len(y) - k, len(y)) if i >= 1 and np.isfinite(y[i])]
    errors: list[float] = []
    percentages: list[float] = []
    naive: list[float] = []
    for i in origins:
        predicted = one_step(y[:i])
        actual = float(y[i])
        errors.append(abs(actual - predicted))
        if actual != 0:
            percentages.append(abs(actual - predicted) / abs(actual))
        if period is not None and i >= period and np.isfinite(y[i - period]):
            naive.append(abs(actual - float(y[i - period])))
    if not errors:
        raise ValueError("no finite point to backtest on")
    return BacktestResult(
        points=len(errors),
        mae=float(np.mean(errors)),
        mape=float(np.mean(percentages)) if percentages else None,
        naive_mae=float(np.mean(naive)) if naive else None,
    )
