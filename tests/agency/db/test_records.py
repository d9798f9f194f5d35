"""Repository behaviour on SQLite and PostgreSQL (every test runs on both via `sessions`)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agency.asgi_thread import free_port
from agency.db import (
    AuditEntry,
    Reader,
    TaskEvent,
    UnknownTaskError,
    VerdictRecord,
    apply_record,
    list_audit,
    list_events,
    list_verdicts,
    ping,
    read_task,
)
from agency.db.engine import make_engine, session_maker
from agency.db.task_pages import list_tasks
from agency.db.task_reads import projection_complete, task_verdicts
from council.models import Decision
from domain.audit import ProjectionPatch
from domain.execution import ExecutionSummary
from domain.task import Round
from tests.agency.db.factories import (
    add_task,
    as_stored_before_full_projection,
    judgments,
    record,
)

Sessions = async_sessionmaker[AsyncSession]


async def count(session: AsyncSession, model: type, task_id: str) -> int:
    stmt = select(func.count()).select_from(model).where(model.task_id == task_id)
    return int(await session.scalar(stmt) or 0)


async def test_insert_and_get_task_respects_tenant(sessions: Sessions, reader: Reader) -> None:
    async with sessions() as session:
        task = await add_task(session, tenant="acme")
        assert task.phase == "queued"
        assert task.created_at.tzinfo is not None
        assert task.created_at.utcoffset() == timedelta(0)
    async with sessions() as session:
        assert (await read_task(reader, task.id)) is not None
        assert (await read_task(reader, task.id, tenant="acme")) is not None
        assert await read_task(reader, task.id, tenant="other") is None
        assert await read_task(reader, "no-such-task") is None


async def test_duplicate_task_id_is_refused(sessions: Sessions, reader: Reader) -> None:
    async with sessions() as session:
        task_id = (await add_task(session, title="first")).id
        with pytest.raises(IntegrityError):
            await add_task(session, task_id=task_id, title="second")
        # The session is usable after the refused insert, and the first row is intact.
        kept = await read_task(reader, task_id)
        assert kept is not None and kept.title == "first"


async def test_apply_record_writes_event_audit_and_verdicts_once(
    sessions: Sessions, reader: Reader
) -> None:
    async with sessions() as session:
        task = await add_task(session)
    rec = record(
        task.id,
        1,
        phase="plan_review",
        kind="judgment",
        verdict="approve",
        detail={"reason": "all judges passed"},
        judgments=judgments(),
        stage="plan",
        iteration=0,
        projection=ProjectionPatch(phase="plan_review", verdicts=judgments()),
    )
    async with sessions() as session:
        assert await apply_record(session, rec) is True
    # An activity retry of the same record, on a new session as a retry would have.
    async with sessions() as session:
        assert await apply_record(session, rec) is False
    async with sessions() as session:
        assert await count(session, TaskEvent, task.id) == 1
        assert await count(session, AuditEntry, task.id) == 1
        assert await count(session, VerdictRecord, task.id) == len(rec.judgments)
        (event,) = await list_events(reader, task.id)
        assert (event.seq, event.kind, event.phase) == (1, "judgment", "plan_review")
        assert event.data["reason"] == "all judges passed"
        assert event.data["verdict"] == "approve"
        assert event.data["projection"]["phase"] == "plan_review"
        (entry,) = await list_audit(reader, task.id)
        assert (entry.actor, entry.verdict, entry.detail) == ("workflow", "approve", rec.detail)
        assert entry.at == rec.at
        stored = await list_verdicts(reader, task.id)
        assert [v.judge for v in stored] == [j.judge for j in rec.judgments]
        assert stored[1].violations == [rec.judgments[1].violations[0].model_dump()]
        assert stored[1].assessment == "the model agrees"
        assert {v.stage for v in stored} == {"plan"}


async def test_the_projection_keeps_every_round_once_the_decision_and_the_execution(
    sessions: Sessions, reader: Reader
) -> None:
    async with sessions() as session:
        task = await add_task(session)
    decision = Decision(outcome="refine", score=0.6, threshold=0.8, reasons=["a gate failed"])
    plan = Round(stage="plan", iteration=0, judgments=judgments(), decision=decision)
    result = Round(stage="result", iteration=1, judgments=judgments()[:1], decision=decision)
    execution = ExecutionSummary(
        host_queue="ex", executor="host-a", run_id="r-1-1", state="finished", stdout_tail="ok"
    )
    first = record(task.id, 1, projection=ProjectionPatch(decision=decision, new_rounds=[plan]))
    second = record(
        task.id, 2, projection=ProjectionPatch(execution=execution, new_rounds=[result])
    )
    async with sessions() as session:
        assert await apply_record(session, first)
        assert await apply_record(session, second)
        assert not await apply_record(session, second)  # a retry appends nothing
    row = await read_task(reader, task.id)
    assert row is not None and projection_complete(row)
    assert json.loads(row.rounds_json) == [
        plan.model_dump(mode="json"),
        result.model_dump(mode="json"),
    ]
    assert json.loads(row.decision_json) == decision.model_dump(mode="json")
    assert json.loads(row.execution_json) == execution.model_dump(mode="json")
    # Events name what changed, without the execution's output (a client reads the task).
    events = await list_events(reader, task.id)
    assert "decision" in events[0].data["projection"]
    assert "projection" not in events[1].data
    # A list leaves the state out: pages stay small.
    rows, _ = await list_tasks(reader)
    assert not hasattr(rows[0], "rounds_json")


async def test_a_task_stored_before_the_full_projection_gets_no_partial_rounds(
    sessions: Sessions, reader: Reader
) -> None:
    async with sessions() as session:
        task = await add_task(session)
        await as_stored_before_full_projection(session, task.id)
    decision = Decision(outcome="approve", score=0.9, threshold=0.8)
    late = Round(stage="result", iteration=2, judgments=judgments(), decision=decision)
    patch = ProjectionPatch(decision=decision, new_rounds=[late])
    async with sessions() as session:
        assert await apply_record(session, record(task.id, 7, projection=patch))
    row = await read_task(reader, task.id)
    # Its earlier rounds were never projected: it stays a task whose reads ask the workflow.
    assert row is not None and row.rounds_json is None and not projection_complete(row)


async def test_projection_patch_changes_only_given_fields(
    sessions: Sessions, reader: Reader
) -> None:
    async with sessions() as session:
        task = await add_task(session)
    patch = ProjectionPatch(
        phase="awaiting_approval",
        iteration=2,
        paused=True,
        pending_action="approve",
        verdicts=judgments(),
        workflow_run_id="run-1",
        risk_tier=1,
        max_iterations=5,
        changed_files=4,
        lines_added=30,
        lines_removed=7,
    )
    async with sessions() as session:
        assert await apply_record(session, record(task.id, 1, projection=patch))
        after = await read_task(reader, task.id)
    assert after is not None
    for field in patch.model_fields_set - {"verdicts"}:
        assert getattr(after, field) == getattr(patch, field), field
    assert task_verdicts(after) == [j.model_dump(mode="json") for j in judgments()]
    assert after.last_seq == 1
    # Unset fields keep their values; clear_pending_action empties the pending action.
    at = datetime.now(UTC) + timedelta(seconds=5)
    clear = ProjectionPatch(phase="applying", paused=False, clear_pending_action=True)
    async with sessions() as session:
        assert await apply_record(session, record(task.id, 2, projection=clear, at=at))
        final = await read_task(reader, task.id)
    assert final is not None
    assert (final.phase, final.paused, final.pending_action) == ("applying", False, None)
    assert (final.iteration, final.risk_tier, final.lines_added) == (2, 1, 30)
    assert task_verdicts(final) == task_verdicts(after)
    assert final.updated_at == at
    assert final.last_seq == 2


async def test_detail_with_non_json_values_is_stored_as_json(
    sessions: Sessions, reader: Reader
) -> None:
    when = datetime(2025, 5, 4, 3, 2, 1, tzinfo=UTC)
    async with sessions() as session:
        task = await add_task(session)
        rec = record(task.id, 1, detail={"deadline": when, "nested": {"tiers": (1, 2)}})
        assert await apply_record(session, rec)
        (entry,) = await list_audit(reader, task.id)
        (event,) = await list_events(reader, task.id)
    assert entry.detail == {"deadline": "2025-05-04T03:02:01Z", "nested": {"tiers": [1, 2]}}
    assert event.data["deadline"] == entry.detail["deadline"]


async def test_clear_and_set_pending_action_in_one_patch_sets_it(
    sessions: Sessions, reader: Reader
) -> None:
    async with sessions() as session:
        task = await add_task(session)
        first = ProjectionPatch(pending_action="approve")
        assert await apply_record(session, record(task.id, 1, projection=first))
        both = ProjectionPatch(pending_action="resume", clear_pending_action=True)
        assert await apply_record(session, record(task.id, 2, projection=both))
        got = await read_task(reader, task.id)
    assert got is not None and got.pending_action == "resume"


async def test_reads_see_every_committed_write(sessions: Sessions, reader: Reader) -> None:
    async with sessions() as session:
        task = await add_task(session)
    before = await read_task(reader, task.id)
    assert before is not None and before.phase == "queued"
    async with sessions() as session:
        assert await apply_record(session, record(task.id, 1, phase="gating"))
    again = await read_task(reader, task.id)
    assert again is not None and again.phase == "gating"


async def test_out_of_order_record_does_not_lower_last_seq(
    sessions: Sessions, reader: Reader
) -> None:
    async with sessions() as session:
        task = await add_task(session)
        assert await apply_record(session, record(task.id, 3))
        assert await apply_record(session, record(task.id, 2))
        got = await read_task(reader, task.id)
        assert got is not None and got.last_seq == 3
        assert [e.seq for e in await list_events(reader, task.id)] == [2, 3]


async def test_record_for_unknown_task_raises_and_writes_nothing(sessions: Sessions) -> None:
    async with sessions() as session:
        with pytest.raises(UnknownTaskError):
            await apply_record(session, record("missing-task", 1))
        assert await count(session, AuditEntry, "missing-task") == 0


async def test_concurrent_duplicates_store_one_row(sessions: Sessions) -> None:
    async with sessions() as session:
        task = await add_task(session)
    rec = record(task.id, 1, judgments=judgments(), stage="result", iteration=1)

    async def write() -> bool:
        async with sessions() as session:
            return await apply_record(session, rec)

    results = await asyncio.gather(*(write() for _ in range(4)))
    assert sorted(results) == [False, False, False, True]
    async with sessions() as session:
        assert await count(session, TaskEvent, task.id) == 1
        assert await count(session, AuditEntry, task.id) == 1
        assert await count(session, VerdictRecord, task.id) == len(rec.judgments)


async def test_list_events_pages_after_seq(sessions: Sessions, reader: Reader) -> None:
    async with sessions() as session:
        task = await add_task(session)
        for seq in range(1, 8):
            assert await apply_record(session, record(task.id, seq))
        assert [e.seq for e in await list_events(reader, task.id, after_seq=3)] == [4, 5, 6, 7]
        assert [e.seq for e in await list_events(reader, task.id, after_seq=3, limit=2)] == [4, 5]
        assert await list_events(reader, task.id, after_seq=7) == []
        assert [a.seq for a in await list_audit(reader, task.id)] == list(range(1, 8))
        with pytest.raises(ValueError):
            await list_events(reader, task.id, limit=0)


async def test_ping_answers_on_a_live_database_and_raises_on_a_dead_one(
    sessions: Sessions,
) -> None:
    async with sessions() as session:
        await ping(session)  # a live database answers (this raises otherwise)
    # Nothing listens on this port: the ping raises instead of answering.
    dead = make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/none")
    try:
        async with session_maker(dead)() as session:
            with pytest.raises((OSError, DBAPIError)):
                await ping(session)
    finally:
        await dead.dispose()
