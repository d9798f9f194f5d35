"""`GET /api/v1/trends` against real SQLite and PostgreSQL, with records written by the
database's own record path (tests/agency/db/factories.py)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from agency.asgi_thread import free_port, serve_app
from agency.cli.main import app as cli
from agency.db import apply_record
from agency.db.engine import make_engine, session_maker
from agency.db.migrate import upgrade_database
from agency.settings import Settings
from api.app import create_app
from domain.audit import ProjectionPatch
from tests.agency.db.factories import add_task, record
from tests.support.db_fixtures import db_url, pg_url, sqlite_url
from tests.support.keys import bearer, make_key

__all__ = ["db_url", "pg_url", "sqlite_url"]


@dataclass
class Served:
    url: str
    database_url: str

    async def viewer(self, tenant: str) -> httpx.AsyncClient:
        key = await make_key(self.database_url, f"viewer-{tenant}", "viewer", tenant)
        return httpx.AsyncClient(base_url=self.url, headers=bearer(key), timeout=30)


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[Served]:
    data = tmp_path / "api-data"
    data.mkdir()
    # No Temporal: the route needs only the database.
    settings = Settings(
        data_dir=data, database_url=db_url, temporal_address=f"127.0.0.1:{free_port()}"
    )
    upgrade_database(db_url)
    with serve_app(create_app(settings)) as url:
        yield Served(url, db_url)


@pytest.fixture
async def session(served: Served) -> AsyncIterator[AsyncSession]:
    engine = make_engine(served.database_url)
    try:
        async with session_maker(engine)() as made:
            yield made
    finally:
        await engine.dispose()


def days_ago(days: int, hours: float = 12) -> datetime:
    """Noon (by default) of the day `days` before today, UTC: inside that day's bucket."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days) + timedelta(hours=hours)


async def finish(
    session: AsyncSession,
    tenant: str,
    created: datetime,
    phases: list[str],
    step: timedelta = timedelta(minutes=10),
) -> None:
    """A task submitted at `created` that went through `phases`, one every `step`."""
    task = await add_task(session, tenant=tenant, created_at=created)
    for seq, phase in enumerate(phases, start=1):
        assert await apply_record(
            session, record(task.id, seq, phase=phase, at=created + seq * step)
        )


async def get(http: httpx.AsyncClient, **params: object) -> dict:
    response = await http.get("/api/v1/trends", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def by_day(report: dict) -> dict[str, dict]:
    return {b["at"][:10]: b for b in report["buckets"]}


async def test_submissions_by_day_with_a_forecast_and_its_backtest(
    served: Served, session: AsyncSession
) -> None:
    # Two submissions a day for four weeks, three on Mondays of our window's weeks.
    for day in range(1, 29):
        for _ in range(3 if day % 7 == 0 else 2):
            await add_task(session, tenant="acme", created_at=days_ago(day))
    await add_task(session, tenant="other", created_at=days_ago(3))
    async with await served.viewer("acme") as acme:
        report = await get(acme, series="tasks", bucket="day", days=28)
    assert report["series"] == "tasks" and report["unit"] == "tasks submitted"
    assert len(report["buckets"]) == 28
    assert report["buckets"][-1]["complete"] is False
    assert all(b["complete"] for b in report["buckets"][:-1])
    days = by_day(report)
    assert days[days_ago(3).date().isoformat()]["value"] == 2  # not the other tenant's
    assert days[days_ago(7).date().isoformat()]["value"] == 3
    assert (
        sum(b["value"] for b in report["buckets"]) == 2 * 27 + 3
    )  # days 1 to 27: day 28 is outside
    forecast = report["forecast"]
    assert report["reason"] is None and forecast is not None
    assert "least-squares" in forecast["method"] and forecast["period"] == 7
    assert len(forecast["points"]) == 7
    assert forecast["points"][0]["at"] == report["buckets"][-1]["at"]
    for point in forecast["points"]:
        assert 0 <= point["lower"] <= point["value"] <= point["upper"]
    assert forecast["backtest"]["points"] == 7
    assert forecast["backtest"]["mae"] >= 0


async def test_too_few_buckets_get_no_forecast_but_a_reason(served: Served) -> None:
    async with await served.viewer("acme") as acme:
        report = await get(acme, series="tasks", days=10)
        hourly = await get(acme, series="tasks", bucket="hour", days=2)
    assert report["forecast"] is None
    assert report["reason"].startswith("not enough data (9 points, 21 needed")
    assert len(hourly["buckets"]) == 48
    assert hourly["reason"].startswith("not enough data (47 points, 72 needed")


async def test_outcomes_durations_approvals_and_interventions(
    served: Served, session: AsyncSession
) -> None:
    at = days_ago(2, hours=8)
    await finish(session, "acme", at, ["validating", "completed"])  # 20 min
    await finish(session, "acme", at, ["validating", "executing", "completed"])  # 30 min
    await finish(session, "acme", at, ["validating", "failed"])  # 20 min
    waited = ["validating", "awaiting_approval", "applying", "completed"]
    await finish(session, "acme", at, waited, step=timedelta(hours=1))  # approved, 4 h
    await finish(session, "acme", at, ["awaiting_approval", "rejected"])
    await finish(session, "other", at, ["validating", "canceled"])
    task = await add_task(session, tenant="acme", created_at=at)
    for seq, action in enumerate(["pause", "resume", "cancel_refused"], start=1):
        rec = record(
            task.id, seq, kind="intervention", action=action, at=at, projection=ProjectionPatch()
        )
        assert await apply_record(session, rec)
    day = days_ago(2).date().isoformat()
    async with await served.viewer("acme") as acme:
        outcomes = by_day(await get(acme, series="outcomes", days=5))[day]
        durations = by_day(await get(acme, series="durations", days=5))
        approvals = by_day(await get(acme, series="approvals", days=5))[day]
        interventions = by_day(await get(acme, series="interventions", days=5))[day]
    assert outcomes["value"] == 5
    assert outcomes["values"] == {"completed": 3, "failed": 1, "rejected": 1, "canceled": 0}
    assert durations[day]["values"]["count"] == 5
    assert durations[day]["value"] == 20 * 60  # the median of 20, 20, 20, 30 min, 4 h
    assert durations[day]["values"]["p95"] == 4 * 3600
    assert durations[days_ago(1).date().isoformat()]["value"] is None  # nothing finished
    assert approvals["value"] == 2
    assert approvals["values"] == {"approved": 1, "rejected": 1, "failed": 0, "canceled": 0}
    assert interventions["value"] == 3
    assert interventions["values"]["pause"] == 1 and interventions["values"]["refused"] == 1
    assert interventions["values"]["cancel"] == 0


async def test_a_tenant_sees_only_its_own_records(served: Served, session: AsyncSession) -> None:
    await finish(session, "acme", days_ago(1), ["validating", "completed"])
    async with await served.viewer("other") as other:
        for series in ("tasks", "outcomes", "durations", "approvals", "interventions"):
            report = await get(other, series=series, days=3)
            assert all(b["value"] in (0, None) for b in report["buckets"]), series


async def test_bad_parameters_are_refused_with_every_problem_listed(served: Served) -> None:
    async with await served.viewer("acme") as acme:
        response = await acme.get(
            "/api/v1/trends", params={"series": "bogus", "bucket": "week", "days": "0"}
        )
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")
        paths = sorted(e["path"] for e in response.json()["errors"])
        assert len(paths) == 3, paths
        assert any("series" in p for p in paths) and any("bucket" in p for p in paths)
        assert any("days" in p for p in paths)
        for days in ("367", "x", "-1"):
            response = await acme.get("/api/v1/trends", params={"days": days})
            assert response.status_code == 422, days
    async with httpx.AsyncClient(base_url=served.url) as anonymous:
        assert (await anonymous.get("/api/v1/trends")).status_code == 401


@asynccontextmanager
async def signed_in(served: Served, tenant: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client with a dashboard session for a viewer of `tenant`."""
    key = await make_key(served.database_url, f"ui-{tenant}", "viewer", tenant)
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as http:
        form = (await http.get("/ui/sign-in")).text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf is not None
        done = await http.post(
            "/ui/sign-in",
            data={"csrf": csrf.group(1), "key": key, "link": "", "next": "/ui/trends"},
        )
        assert done.status_code == 303, done.text
        yield http


async def test_the_dashboard_page_shows_charts_forecasts_and_tables(
    served: Served, session: AsyncSession
) -> None:
    for day in range(1, 29):
        await add_task(session, tenant="acme", created_at=days_ago(day))
    await finish(session, "acme", days_ago(1), ["validating", "completed"])
    async with signed_in(served, "acme") as browser:
        page = await browser.get("/ui/trends", params={"days": 28})
        assert page.status_code == 200, page.text
        html = page.text
        assert 'href="/ui/trends" aria-current="page"' in html
        # A chart per series, drawn from the embedded data by trends.js.
        for series in ("tasks", "outcomes", "durations", "approvals", "interventions"):
            assert f'data-trend="{series}"' in html
        assert "/ui/static/trends.js" in html
        # Forecast in words (method and backtest), or why not; the tables without JS.
        tasks = re.search(r'data-testid="forecast-tasks">(.*?)</p>', html, re.S)
        assert tasks is not None and "least-squares" in tasks.group(1)
        assert "mean absolute error" in tasks.group(1)
        durations = re.search(r'data-testid="forecast-durations">(.*?)</p>', html, re.S)
        assert durations is not None
        assert "No forecast: not enough data (1 points, 21 needed" in durations.group(1)
        assert html.count("The same figures as a table") == 5
        assert "<caption>Forecast</caption>" in html
        data = re.search(r'id="trend-data">(.*?)</script>', html, re.S)
        assert data is not None
        charts = json.loads(data.group(1))
        tasks_chart = charts["tasks"]
        assert len(tasks_chart["x"]) == 28 + 6  # history, then the forecast after today
        assert sum(v for v in tasks_chart["value"] if v) == 27 + 1  # and the finished one
        assert tasks_chart["forecast"][26] == tasks_chart["value"][26]  # the lines join

        hourly = await browser.get("/ui/trends", params={"bucket": "hour", "days": 2})
        assert hourly.status_code == 200
        assert "not enough data (47 points, 72 needed" in hourly.text
        bad = await browser.get("/ui/trends", params={"bucket": "week", "days": "0"})
        assert bad.status_code == 422
        assert "bucket" in bad.text and "days" in bad.text
        year_of_hours = await browser.get("/ui/trends", params={"bucket": "hour", "days": 32})
        assert year_of_hours.status_code == 422
        assert "at most 31 days on this page" in year_of_hours.text


async def test_the_dashboard_page_needs_a_session(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url) as anonymous:
        response = await anonymous.get("/ui/trends")
    assert response.status_code in (302, 303, 307)
    assert "/ui/sign-in" in response.headers["location"]


async def test_the_cli_prints_the_series_and_the_forecast_or_why_not(
    served: Served, session: AsyncSession
) -> None:
    for day in range(1, 29):
        await add_task(session, tenant="acme", created_at=days_ago(day))
    key = await make_key(served.database_url, "cli", "viewer", "acme")
    env = {"AGENCY_API_URL": served.url, "AGENCY_API_KEY": key}
    shown = CliRunner().invoke(cli, ["trends", "--days", "28"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "tasks per day" in shown.output and "(so far)" in shown.output
    assert "Forecast: linear trend" in shown.output and "MAE" in shown.output
    short = CliRunner().invoke(cli, ["trends", "--series", "durations", "--days", "5"], env=env)
    assert short.exit_code == 0, short.output
    assert "No forecast: not enough data (0 points, 21 needed" in short.output
    as_json = CliRunner().invoke(
        cli, ["trends", "--json", "--bucket", "hour", "--days", "1"], env=env
    )
    assert as_json.exit_code == 0 and len(json.loads(as_json.stdout)["buckets"]) == 24
    bad = CliRunner().invoke(cli, ["trends", "--series", "bogus"], env=env)
    assert bad.exit_code != 0 and "series" in bad.output
