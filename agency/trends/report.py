"""One series and its forecast, as `GET /api/v1/trends` answers and the dashboard draws.

Only complete buckets are forecast from: the current one is still filling, and a
half-counted last point would bend the trend down. Daily buckets are forecast a week
ahead with a weekly profile, hourly ones a day ahead with a daily profile.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from agency.trends.forecast import Forecast, forecast
from agency.trends.series import READERS, UNITS, BucketName, SeriesName, Window

PERIOD = {"hour": 24, "day": 7}
HORIZON = {"hour": 24, "day": 7}
MAX_DAYS = 366
DEFAULT_DAYS = 42


class TrendBucket(BaseModel):
    at: datetime = Field(description="the bucket's start (UTC)")
    value: float | None = Field(
        description="the series' value; null when there was nothing to measure (durations "
        "of a bucket in which no task finished)"
    )
    values: dict[str, float | None] = Field(
        description="the breakdown (per outcome, per kind, p50/p95/count); empty for tasks"
    )
    complete: bool = Field(description="false for the bucket still under way")


class ForecastPoint(BaseModel):
    at: datetime
    value: float
    lower: float
    upper: float


class BacktestScore(BaseModel):
    kind: str = Field(description="how the method was scored")
    points: int = Field(description="one-step forecasts scored")
    mae: float = Field(description="mean absolute error, in the series' unit")
    mape: float | None = Field(
        description="mean absolute percentage error (a fraction) over the points whose "
        "actual value is not 0; null when all were 0"
    )
    naive_mae: float | None = Field(
        description="the same error of the seasonal-naive guess (the value one season "
        "earlier), for comparison"
    )


class TrendForecast(BaseModel):
    method: str
    period: int = Field(description="buckets in one season (7 days, 24 hours)")
    fitted_on: int = Field(description="buckets with a value the fit used")
    interval: float = Field(description="the nominal coverage of lower..upper")
    points: list[ForecastPoint]
    backtest: BacktestScore


class TrendReport(BaseModel):
    series: SeriesName
    bucket: BucketName
    days: int
    unit: str
    start: datetime
    end: datetime
    truncated: bool = Field(description="true when more records matched than were read")
    buckets: list[TrendBucket]
    forecast: TrendForecast | None
    reason: str | None = Field(description="why there is no forecast, when there is none")


def _forecast_model(window: Window, bucket: str, done: Forecast, first: int) -> TrendForecast:
    return TrendForecast(
        method=done.method,
        period=done.period,
        fitted_on=done.fitted_on,
        interval=done.interval,
        points=[
            ForecastPoint(
                at=window.at(first) + timedelta(seconds=window.size_s * h),
                value=round(float(done.mean[h]), 4),
                lower=round(float(done.lower[h]), 4),
                upper=round(float(done.upper[h]), 4),
            )
            for h in range(len(done.mean))
        ],
        backtest=BacktestScore(
            kind=f"rolling origin, one step ahead, on the last {done.backtest.points} "
            f"{bucket}s with a value",
            points=done.backtest.points,
            mae=round(done.backtest.mae, 4),
            mape=None if done.backtest.mape is None else round(done.backtest.mape, 4),
            naive_mae=None
            if done.backtest.naive_mae is None
            else round(done.backtest.naive_mae, 4),
        ),
    )


async def build_trend(
    session: AsyncSession,
    tenant: str,
    series: SeriesName,
    bucket: BucketName,
    days: int,
    now: datetime,
) -> TrendReport:
    window = Window.ending_at(now, bucket, days)
    data = await READERS[series](session, tenant, window)
    complete = window.count - 1  # the last bucket holds `now`
    buckets = [
        TrendBucket(
            at=window.at(i), value=data.values[i], values=data.parts[i], complete=i < complete
        )
        for i in range(window.count)
    ]
    y = np.array([np.nan if v is None else v for v in data.values[:complete]], dtype=np.float64)
    done = forecast(y, PERIOD[bucket], HORIZON[bucket])
    # The forecast starts at the bucket under way: its count is not final yet.
    model = _forecast_model(window, bucket, done, complete) if isinstance(done, Forecast) else None
    return TrendReport(
        series=series,
        bucket=bucket,
        days=days,
        unit=UNITS[series],
        start=window.start,
        end=window.end,
        truncated=data.truncated,
        buckets=buckets,
        forecast=model,
        reason=None if isinstance(done, Forecast) else done.reason,
    )
