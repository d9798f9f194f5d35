"""The record activities: a record is stored once per (task, seq), and what a local
activity's result puts in the history is the record as stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.records import RecordActivities
from agency.db.models import AuditEntry
from tests.agency.db.factories import add_task, record


async def test_a_record_made_again_later_gets_the_time_of_the_one_stored(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        task = await add_task(session)
        await session.commit()
    activities = RecordActivities(sessions)
    first_at = datetime(2026, 12, 1, 14, 1, 53, 753628, tzinfo=UTC)
    first = record(task.id, 1, phase="validating", at=first_at)
    assert await activities.record_entry(first) == first

    # The workflow task that wrote it timed out; its retry makes the record again, at
    # the retry's time. The history gets what the database has.
    again = first.model_copy(update={"at": first_at + timedelta(seconds=12)})
    answered = await activities.record_entry(again)
    assert answered == first
    async with sessions() as session:
        stored = (
            await session.scalars(select(AuditEntry).where(AuditEntry.task_id == task.id))
        ).all()
    assert [(e.seq, e.at.replace(tzinfo=UTC)) for e in stored] == [(1, first_at)]
