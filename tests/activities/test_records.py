"""The record activities: a record is stored once per (task, seq), and what a local
activity's result puts in the history is the record as stored (without the copy of the
workflow's state its projection patch carries)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.records import RecordActivities
from agency.db.models import AuditEntry, Task
from council.models import Decision
from domain.audit import ProjectionPatch
from domain.execution import ExecutionSummary
from domain.task import Round
from tests.agency.db.factories import add_task, judgments, record


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


async def test_the_history_keeps_the_record_without_the_state_the_projection_copies(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        task = await add_task(session)
        await session.commit()
    decision = Decision(outcome="approve", score=0.9, threshold=0.8)
    patch = ProjectionPatch(
        phase="result_review",
        decision=decision,
        execution=ExecutionSummary(host_queue="ex", executor="a", run_id="r", state="finished"),
        new_rounds=[Round(stage="plan", iteration=0, judgments=judgments(), decision=decision)],
    )
    rec = record(task.id, 1, phase="result_review", projection=patch, judgments=judgments())
    kept = await RecordActivities(sessions).record_entry(rec)
    # The trail is whole (provenance reads it from the history); the copies are not.
    assert kept.model_dump(exclude={"projection"}) == rec.model_dump(exclude={"projection"})
    assert kept.projection == ProjectionPatch(phase="result_review")
    async with sessions() as session:
        stored = await session.scalar(select(Task.rounds).where(Task.id == task.id))
    assert stored == [r.model_dump(mode="json") for r in patch.new_rounds]
