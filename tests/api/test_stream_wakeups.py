"""Live streams woken by PostgreSQL notices (agency/db/event_notices.py): a task event
written by any process wakes that task's streams, and only those; a lost listening
connection wakes every stream and is made again. SQLite streams poll."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agency.db import apply_record
from agency.db.event_notices import EventListener
from agency.settings import Settings
from api.stream_wakeups import Polling, make_wakeups
from tests.agency.db.factories import add_task, record
from tests.support.db_fixtures import pg_sessions, pg_url

__all__ = ["pg_sessions", "pg_url"]

# Longer than any test waits: a wake-up seen in time came from a notice.
FALLBACK_S = 60.0
WITHIN_S = 10.0


async def connected(listener: EventListener) -> None:
    deadline = time.monotonic() + WITHIN_S
    while not listener.connected:
        assert time.monotonic() < deadline, "the listener did not connect"
        await asyncio.sleep(0.01)


@pytest.fixture
async def listener(
    pg_url: str, pg_sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[EventListener]:
    made = EventListener(pg_url, fallback_s=FALLBACK_S)
    made.start()
    try:
        await connected(made)
        yield made
    finally:
        await made.close()


async def test_an_event_written_wakes_that_tasks_streams_only(
    pg_sessions: async_sessionmaker[AsyncSession], listener: EventListener
) -> None:
    async with pg_sessions() as session:
        task = await add_task(session)
        other = await add_task(session)
    woken, untouched = listener.subscribe(task.id), listener.subscribe(other.id)
    woken.arm()
    untouched.arm()
    # Another engine: the write of another process (a worker, another API replica).
    async with pg_sessions() as session:
        assert await apply_record(session, record(task.id, 1))
    await asyncio.wait_for(woken.wait(poll_s=FALLBACK_S), WITHIN_S)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(untouched.wait(poll_s=FALLBACK_S), 0.3)
    woken.close()
    untouched.close()


async def test_a_lost_connection_wakes_every_stream_and_is_made_again(
    pg_sessions: async_sessionmaker[AsyncSession], listener: EventListener
) -> None:
    subscription = listener.subscribe("any-task")
    subscription.arm()
    async with pg_sessions() as session:
        await session.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    # Notices sent meanwhile are lost: the stream is told to read again instead.
    await asyncio.wait_for(subscription.wait(poll_s=FALLBACK_S), WITHIN_S)
    await connected(listener)
    subscription.close()


async def test_sqlite_streams_poll(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path}/a.db")
    wakeups = make_wakeups(settings)
    assert isinstance(wakeups, Polling)
    await wakeups.close()
