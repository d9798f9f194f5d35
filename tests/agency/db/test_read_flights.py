"""Identical PostgreSQL reads in flight at once share one statement
(agency/db/read_flights.py), and never one sent before they were asked for: a reader
sees every change committed before its read began, shared or not."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agency.db import apply_record, read_task
from agency.db.models import Task
from agency.db.reads import AsyncReader
from domain.audit import ProjectionPatch
from tests.agency.db.factories import add_task, record

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

Sessions = async_sessionmaker[AsyncSession]
WITHIN_S = 10.0
# The phase, read slowly: the statement's snapshot is taken when it starts.
SLOW_PHASE = select(Task.phase, func.pg_sleep(0.3)).where(Task.id == bindparam("task_id"))


async def set_phase(sessions: Sessions, task_id: str, seq: int, phase: str) -> None:
    async with sessions() as session:
        patch = ProjectionPatch(phase=phase)  # type: ignore[arg-type]
        assert await apply_record(session, record(task_id, seq, projection=patch))


async def test_reads_waiting_for_a_connection_share_one_statement(
    db_url: str, sessions: Sessions
) -> None:
    async with sessions() as session:
        task = await add_task(session)
    reader = AsyncReader(db_url, pool_size=1)
    try:
        async with reader._engine.connect():  # the only connection: reads board and wait
            boarding = [asyncio.create_task(read_task(reader, task.id)) for _ in range(10)]
            await asyncio.sleep(0.05)
            # Committed while they wait: the shared statement, not sent yet, sees it.
            await set_phase(sessions, task.id, 1, "executing")
            boarding.append(asyncio.create_task(read_task(reader, task.id)))
            await asyncio.sleep(0.05)
        rows = await asyncio.gather(*boarding)
        assert [row.phase for row in rows if row is not None] == ["executing"] * 11
        assert reader.flights.shared == 10
    finally:
        await reader.close()


async def test_a_read_never_joins_a_statement_already_sent(db_url: str, sessions: Sessions) -> None:
    async with sessions() as session:
        task = await add_task(session)
    reader = AsyncReader(db_url, pool_size=2)
    try:
        first = asyncio.create_task(reader.one(SLOW_PHASE, {"task_id": task.id}))
        await asyncio.sleep(0)  # the first read boards
        assert reader.flights._boarding
        deadline = time.monotonic() + WITHIN_S
        while reader.flights._boarding:  # until its statement has left
            assert time.monotonic() < deadline
            await asyncio.sleep(0.001)
        await set_phase(sessions, task.id, 1, "executing")
        second = await reader.one(SLOW_PHASE, {"task_id": task.id})
        assert second is not None and second.phase == "executing"
        assert reader.flights.shared == 0
        await first
    finally:
        await reader.close()


async def test_a_failed_shared_read_fails_each_of_its_readers(
    db_url: str, sessions: Sessions
) -> None:
    reader = AsyncReader(db_url, pool_size=1)
    broken = text("SELECT * FROM no_such_table WHERE id = :id")
    try:
        async with reader._engine.connect():
            reads = [asyncio.create_task(reader.one(broken, {"id": 1})) for _ in range(3)]
            await asyncio.sleep(0.05)
        outcomes = await asyncio.gather(*reads, return_exceptions=True)
        assert all(isinstance(o, Exception) for o in outcomes)
        # The next read is a statement of its own again.
        with pytest.raises(Exception, match="no_such_table"):
            await reader.one(broken, {"id": 1})
    finally:
        await reader.close()
