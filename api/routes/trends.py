"""`GET /api/v1/trends`: a series of the tenant's records by hour or day, and its
forecast where the data allow (docs/trends.md, agency/trends)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from agency.db.types import utcnow
from agency.trends.report import DEFAULT_DAYS, MAX_DAYS, TrendReport, build_trend
from agency.trends.series import BucketName, SeriesName
from api.deps import SessionDep, ViewerDep
from api.problems import Problem
from api.query_models import query_model, query_parameters

router = APIRouter(prefix="/api/v1/trends", tags=["trends"])

ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": Problem, "description": "Invalid parameters; every problem listed"},
    503: {"model": Problem, "description": "The database is unavailable"},
}


class TrendQuery(BaseModel):
    """The query parameters (validated by api.query_models, every problem at once)."""

    series: SeriesName = Field(default="tasks", description="which series")
    bucket: BucketName = Field(default="day", description="bucket size")
    days: int = Field(
        default=DEFAULT_DAYS,
        ge=1,
        le=MAX_DAYS,
        description=f"days of history, up to {MAX_DAYS} (a forecast needs 21 daily or 3 "
        "days of hourly buckets)",
    )


@router.get(
    "",
    response_model=TrendReport,
    responses=ERRORS,
    openapi_extra={"parameters": query_parameters(TrendQuery)},
)
async def get_trend(
    session: SessionDep,
    principal: ViewerDep,
    query: Annotated[TrendQuery, Depends(query_model(TrendQuery))],
) -> TrendReport:
    """The series over the last `days`, one bucket per hour or day (the last one still
    under way), and the forecast of the next week (daily) or day (hourly) with its
    method, interval and backtest error; `forecast: null` and a `reason` when there are
    too few points."""
    return await build_trend(
        session, principal.tenant, query.series, query.bucket, query.days, utcnow()
    )
