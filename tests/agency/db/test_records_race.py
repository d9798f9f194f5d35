"""The race `apply_record` must survive on PostgreSQL: a duplicate of a record another
transaction is writing right now. The second writer passes the existence check (nothing
is committed yet), blocks on the unique key, and must then come back False, not fail."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agency.db import AuditEntry, TaskEvent, apply_record, make_engine, session_maker
from agency.db.migrate import upgrade_database_async
from tests.agency.db.factories import add_task, record

WAIT_S = 10.0


async def wait_until_blocked(sessions: async_sessionmaker[AsyncSession], pid: int) -> None:
    """Poll pg_stat_activity until backend `pid` waits on a lock."""
    query = text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid")
    deadline = asyncio.get_running_loop().time() + WAIT_S
    async with sessions() as probe:
        while asyncio.get_running_loop().time() < deadline:
            if (await probe.scalar(query, {"pid": pid})) == "Lock":
                return
            await probe.rollback()  # a fresh snapshot of pg_stat_activity each time
            await asyncio.sleep(0.02)
    raise AssertionError(f"backend {pid} never blocked on the unique key")


async def test_duplicate_waiting_on_an_uncommitted_insert_returns_false(pg_url: str) -> None:
    await upgrade_database_async(pg_url)
    engine = make_engine(pg_url)
    sessions = session_maker(engine)
    try:
        async with sessions() as session:
            task = await add_task(session)
        rec = record(task.id, 1)
        async with sessions() as first, sessions() as second:
            # The first writer inserts the event and holds its transaction open.
            await first.execute(
                insert(TaskEvent).values(
                    task_id=rec.task_id,
                    seq=rec.seq,
                    at=rec.at,
                    kind=rec.kind,
                    phase=rec.phase,
                    actor=rec.actor,
                    action=rec.action,
                    data={},
                )
            )
            second_pid = await second.scalar(text("SELECT pg_backend_pid()"))
            duplicate = asyncio.create_task(apply_record(second, rec))
            await wait_until_blocked(sessions, int(second_pid))
            assert not duplicate.done()
            await first.execute(
                insert(AuditEntry).values(
                    task_id=rec.task_id,
                    seq=rec.seq,
                    at=rec.at,
                    actor=rec.actor,
                    action=rec.action,
                    phase=rec.phase,
                    detail={},
                )
            )
            await first.commit()
            assert await asyncio.wait_for(duplicate, WAIT_S) is False
        async with sessions() as session:
            for model in (TaskEvent, AuditEntry):
                stmt = select(func.count()).select_from(model).where(model.task_id == task.id)
                assert await session.scalar(stmt) == 1
    finally:
        await engine.dispose()
