"""SQLite writers of one process take turns: concurrent transactions that would otherwise
run out a short busy timeout all commit, in order."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from agency.db import engine as db_engine
from agency.db.engine import make_engine, session_maker
from agency.db.migrate import upgrade_database_async
from agency.db.models import Task
from agency.db.write_queue import WriteQueueSession

WRITERS = 12
HOLD_S = 0.02  # each writer keeps its transaction open this long before committing


def task_values(n: int) -> dict[str, object]:
    task_id = str(uuid.uuid4())
    return {
        "id": task_id,
        "caws_id": f"Q-{n}",
        "title": f"writer {n}",
        "risk_tier": 2,
        "mode": "chore",
        "execution_mode": "auto",
        "max_iterations": 1,
        "workflow_id": f"task-{task_id}",
        "submitted_by": "test",
        "tenant": "default",
    }


async def test_concurrent_writers_queue_instead_of_timing_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'agency.db'}"
    await upgrade_database_async(url)
    # Shorter than the time the writers together hold the lock (12 x 20 ms): without the
    # queue, the last ones would fail with "database is locked".
    monkeypatch.setattr(db_engine, "SQLITE_BUSY_TIMEOUT_MS", 60)
    engine = make_engine(url)
    sessions = session_maker(engine)
    order: list[int] = []

    async def writer(n: int) -> None:
        async with sessions() as session:
            assert isinstance(session, WriteQueueSession)
            await session.execute(insert(Task).values(**task_values(n)))
            order.append(n)
            await asyncio.sleep(HOLD_S)
            await session.commit()

    try:
        await asyncio.gather(*(writer(n) for n in range(WRITERS)))
        async with sessions() as session:
            titles = set((await session.scalars(select(Task.title))).all())
    finally:
        await engine.dispose()
    assert titles == {f"writer {n}" for n in range(WRITERS)}
    assert sorted(order) == list(range(WRITERS))


async def test_a_failed_write_gives_up_its_turn(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'agency.db'}"
    await upgrade_database_async(url)
    engine = make_engine(url)
    sessions = session_maker(engine)
    values = task_values(0)
    try:
        async with sessions() as session:
            await session.execute(insert(Task).values(**values))
            await session.commit()
        async with sessions() as session:
            with pytest.raises(Exception, match="UNIQUE"):
                await session.execute(insert(Task).values(**values))
            await session.rollback()
            # The turn is free again: another session writes at once.
            async with sessions() as other:
                await asyncio.wait_for(
                    other.execute(insert(Task).values(**task_values(1))), timeout=1
                )
                await other.commit()
    finally:
        await engine.dispose()
