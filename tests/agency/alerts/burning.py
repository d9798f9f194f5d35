"""Task records that make the task_success SLO burn: a page and a ticket firing."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agency.db import apply_record
from tests.agency.db.factories import add_task, record

# Judged this long after the burst, every window of every alert is clean again
# (the longest short window is 6h).
RECOVERED_AFTER = timedelta(hours=7)


async def burn(sessions: async_sessionmaker[AsyncSession], now: datetime) -> None:
    """Twelve tasks finished in the last five minutes, half of them failed: an error
    ratio of 50 % over every window, above every threshold (14.4 % at most)."""
    async with sessions() as session:
        for i, outcome in enumerate(["completed", "failed"] * 6):
            task = await add_task(session)
            queued = record(task.id, 1, phase="queued", at=now - timedelta(minutes=30))
            ended = record(task.id, 2, phase=outcome, at=now - timedelta(seconds=10 + i))
            assert await apply_record(session, queued)
            assert await apply_record(session, ended)
