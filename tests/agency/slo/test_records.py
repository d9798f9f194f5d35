"""SLO events read from the task records, on SQLite and PostgreSQL, and the report."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agency.db import apply_record
from agency.db.types import utcnow
from agency.slo.report import build_report
from agency.slo.spec import load_slo_file
from tests.agency.db.conftest import db_url, pg_url, sessions, sqlite_url
from tests.agency.db.factories import add_task, record

__all__ = ["db_url", "pg_url", "sessions", "sqlite_url"]

Sessions = async_sessionmaker[AsyncSession]


async def task_with_phases(sessions: Sessions, phases: list[tuple[str, datetime]]) -> str:
    async with sessions() as session:
        task = await add_task(session)
        for seq, (phase, at) in enumerate(phases, start=1):
            assert await apply_record(session, record(task.id, seq, phase=phase, at=at))
        return task.id


async def test_task_outcomes_and_approval_waits(sessions: Sessions) -> None:
    now = utcnow()
    ago = lambda minutes: now - timedelta(minutes=minutes)  # noqa: E731
    # Twelve tasks in the last hour: eight completed, a council rejection, a human
    # cancel, two failures. Rejections and cancels are not failures of the system.
    for outcome in ["completed"] * 8 + ["rejected", "canceled", "failed", "failed"]:
        await task_with_phases(sessions, [("queued", ago(50)), (outcome, ago(10))])
    # Finished 40 days ago: outside every window.
    await task_with_phases(sessions, [("queued", ago(60 * 24 * 40)), ("failed", ago(60 * 24 * 40))])
    # Approvals: answered in 1 h (good), in 5 h (bad), a deadline passed (bad), a
    # rejection in 10 min (good), a cancel while waiting (not counted).
    waits = [
        [("awaiting_approval", ago(70)), ("applying", ago(10)), ("completed", ago(9))],
        [("awaiting_approval", ago(320)), ("applying", ago(20)), ("completed", ago(19))],
        [("awaiting_approval", ago(24 * 60 + 5)), ("failed", ago(5))],
        [("awaiting_approval", ago(15)), ("rejected", ago(5))],
        [("awaiting_approval", ago(30)), ("canceled", ago(5))],
    ]
    for phases in waits:
        await task_with_phases(sessions, [("queued", ago(24 * 60 + 10)), *phases])

    async with sessions() as session:
        report = await build_report(session, load_slo_file(), now)

    by_name = {s.name: s for s in report.slos}
    assert [u.name for u in report.unjudged] == ["api_latency", "api_availability"]

    tasks = by_name["task_success"]
    # 12 + the 5 approval tasks (2 completed, 1 failed, 1 rejected, 1 canceled).
    assert (tasks.good, tasks.total) == (14, 17)
    assert tasks.error_budget_left == pytest.approx(1 - (3 / 17) / 0.01)
    one_hour = next(w for w in tasks.windows if w.window == "1h")
    assert (one_hour.good, one_hour.total) == (14, 17)
    assert one_hour.burn_rate == pytest.approx((3 / 17) / 0.01)
    # 17.6 % errors over the hour and the last five minutes, 17 events: a page.
    assert "page" in tasks.firing

    approvals = by_name["approval_latency"]
    assert (approvals.good, approvals.total) == (2, 4)
    assert approvals.error_budget_left == pytest.approx(1 - 0.5 / 0.05)
    assert approvals.firing == []  # 4 waits: fewer than min_events
    assert report.firing == [("task_success", "page"), ("task_success", "ticket")]


async def test_an_empty_database_spends_nothing(sessions: Sessions) -> None:
    async with sessions() as session:
        report = await build_report(session, load_slo_file(), utcnow())
    for slo in report.slos:
        assert (slo.total, slo.error_budget_left, slo.firing) == (0, 1.0, [])
