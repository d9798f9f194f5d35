"""The trends page (`/ui/trends`): every series of agency.trends for the signed-in
tenant, charted with its forecast (uPlot, api/ui/static/app.js) and as tables that read
with JavaScript off."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, model_validator
from starlette.responses import Response

from agency.db.types import utcnow
from agency.trends.report import DEFAULT_DAYS, MAX_DAYS, TrendReport, build_trend
from agency.trends.series import SERIES, BucketName
from api.query_models import query_model
from api.ui.deps import UserDep
from api.ui.render import UiRoute, page_off_loop

router = APIRouter(prefix="/ui", include_in_schema=False, route_class=UiRoute)

TITLES = {
    "tasks": "Tasks submitted",
    "outcomes": "Tasks finished, by outcome",
    "durations": "Task duration, median (seconds from submission to the end)",
    "approvals": "Waits for approval ended, by how they ended",
    "interventions": "Interventions, by kind",
}


# Hourly tables of a year would make a page of 9 MB: the page stops at a month of hours
# (the API answers up to MAX_DAYS of them).
MAX_HOURLY_DAYS = 31


class TrendsPageQuery(BaseModel):
    bucket: BucketName = "day"
    days: int = Field(default=DEFAULT_DAYS, ge=1, le=MAX_DAYS)

    @model_validator(mode="after")
    def _hours_bounded(self) -> TrendsPageQuery:
        if self.bucket == "hour" and self.days > MAX_HOURLY_DAYS:
            raise ValueError(f"hourly buckets: at most {MAX_HOURLY_DAYS} days on this page")
        return self


def chart_data(report: TrendReport) -> dict[str, Any]:
    """Columns for uPlot: the complete buckets, then the forecast's buckets after the
    current one; the forecast line starts at the last complete bucket so the two join."""
    history = report.buckets
    future = report.forecast.points if report.forecast else []
    x = [int(b.at.timestamp()) for b in history] + [int(p.at.timestamp()) for p in future[1:]]
    blank: list[float | None] = [None] * len(x)
    # The bucket under way is left out of the line (its count so far would look like a
    # fall); the table shows it, marked "so far".
    value = [b.value if b.complete else None for b in history]
    value += [None] * max(0, len(future) - 1)
    mean, lower, upper = list(blank), list(blank), list(blank)
    start = len(history) - 1  # the forecast's first bucket is the one under way
    if future and start >= 1:
        mean[start - 1] = lower[start - 1] = upper[start - 1] = history[start - 1].value
    for h, point in enumerate(future):
        mean[start + h], lower[start + h], upper[start + h] = point.value, point.lower, point.upper
    return {"x": x, "value": value, "forecast": mean, "lower": lower, "upper": upper}


@router.get("/trends")
async def trends_page(
    request: Request,
    user: UserDep,
    query: Annotated[TrendsPageQuery, Depends(query_model(TrendsPageQuery))],
) -> Response:
    state = request.app.state.agency
    now = utcnow()
    reports = []
    async with state.sessions() as session:
        for series in SERIES:
            reports.append(
                await build_trend(
                    session, user.principal.tenant, series, query.bucket, query.days, now
                )
            )
    # Rendered off the event loop: a month of hourly tables takes a moment.
    return await page_off_loop(
        request,
        "trends.html",
        user,
        title="Trends",
        nav_current="trends",
        query=query,
        max_days=MAX_DAYS,
        reports=reports,
        titles=TITLES,
        charts={r.series: chart_data(r) for r in reports},
        step=timedelta(hours=1) if query.bucket == "hour" else timedelta(days=1),
    )
