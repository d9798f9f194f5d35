"""Writes of a task's records: the task row, and each transition's event, audit entry,
verdicts and projection patch.

Writers commit (or roll back) the session they are given, so that each call is one
transaction. Reads are elsewhere, through a Reader (agency.db.task_reads, task_pages):
the ORM session is the write path. A rollback expires what a session holds, so callers
use one short-lived session per unit of work.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Update,
    bindparam,
    case,
    delete,
    exists,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agency.db.models import AuditEntry, Task, TaskEvent, VerdictRecord
from agency.db.transaction import transaction
from agency.db.types import utcnow
from council.spec import TaskSpec
from domain.audit import ProjectionPatch, RecordInput

# Read options for every query: a row already in the session is overwritten by what the
# database says now, not returned stale.
FRESH = {"populate_existing": True}


class UnknownTaskError(LookupError):
    """A record names a task that was never inserted."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"unknown task {task_id!r}")
        self.task_id = task_id


# ------------------------------------------------------------------------------ tasks
async def insert_task(
    session: AsyncSession,
    *,
    task_id: str,
    caws_id: str,
    title: str,
    risk_tier: int,
    mode: str,
    execution_mode: str,
    max_iterations: int,
    workflow_id: str,
    spec: dict[str, Any],
    submitted_by: str,
    tenant: str,
    created_at: datetime | None = None,
) -> Task:
    """Insert a task in phase "queued" and commit. A duplicate id raises IntegrityError."""
    now = created_at or utcnow()
    task = Task(
        id=task_id,
        caws_id=caws_id,
        title=title,
        risk_tier=risk_tier,
        mode=mode,
        execution_mode=execution_mode,
        phase="queued",
        max_iterations=max_iterations,
        workflow_id=workflow_id,
        spec=spec,
        submitted_by=submitted_by,
        tenant=tenant,
        # Not NULL: this task's records keep its whole state in the projection (0013).
        rounds=[],
        created_at=now,
        updated_at=now,
    )
    # A Core INSERT rather than session.add: a duplicate id is then the database's
    # IntegrityError, not an identity-map conflict with a row the session holds.
    async with transaction(session):
        await session.execute(insert(Task).values(**task.model_dump()))
    # Read back what the database stored (UTC-normalised timestamps).
    stored = await _stored_task(session, task_id)
    if stored is None:
        raise UnknownTaskError(task_id)
    return stored


async def insert_spec_task(
    session: AsyncSession,
    spec: TaskSpec,
    *,
    task_id: str,
    workflow_id: str,
    submitted_by: str,
    tenant: str,
) -> Task:
    """insert_task with the projection's fields taken from a validated task spec."""
    return await insert_task(
        session,
        task_id=task_id,
        caws_id=spec.id,
        title=spec.title,
        risk_tier=spec.risk_tier,
        mode=spec.mode,
        execution_mode=spec.execution_mode,
        max_iterations=spec.max_iterations,
        workflow_id=workflow_id,
        spec=spec.model_dump(mode="json", by_alias=True),
        submitted_by=submitted_by,
        tenant=tenant,
    )


async def delete_unstarted_task(session: AsyncSession, task_id: str) -> None:
    """Remove a task whose workflow could not be started (nothing else refers to it yet),
    so that a failed submission leaves no half-written record. Commits."""
    async with transaction(session):
        await session.execute(delete(Task).where(Task.id == task_id, Task.last_seq == 0))


async def _stored_task(session: AsyncSession, task_id: str) -> Task | None:
    # FRESH: the row as the database has it now, even if the session held it before.
    stmt = select(Task).where(Task.id == task_id).execution_options(**FRESH)
    return (await session.scalars(stmt)).one_or_none()


# ---------------------------------------------------------------------------- records
def projection_changes(patch: ProjectionPatch) -> dict[str, Any]:
    """The column values a patch sets: None fields are left alone; `clear_pending_action`
    empties pending_action unless the same patch also sets a new one."""
    # Top-level None only: exclude_none would also strip None inside the judgments.
    dumped = patch.model_dump(mode="json", exclude={"clear_pending_action", "new_rounds"})
    values = {name: value for name, value in dumped.items() if value is not None}
    if patch.clear_pending_action and patch.pending_action is None:
        values["pending_action"] = None
    return values


# Too large to repeat in events (gate output tails, every round so far; a judgment's own
# event has its verdict and reasons): a stream client that wants them reads the task.
_NOT_IN_EVENTS = frozenset({"execution", "rounds"})


def _json_detail(rec: RecordInput) -> dict[str, Any]:
    # Callers may put datetimes, paths or models in `detail`; JSON columns need plain data.
    detail: dict[str, Any] = rec.model_dump(mode="json", include={"detail"})["detail"]
    return detail


def _event_data(
    detail: dict[str, Any], rec: RecordInput, changes: dict[str, Any]
) -> dict[str, Any]:
    # What an SSE client needs without a second request: the record's detail, plus the
    # projection fields it changed and its verdict/approval status when it has them.
    data = dict(detail)
    shown = {name: value for name, value in changes.items() if name not in _NOT_IN_EVENTS}
    if shown:
        data["projection"] = shown
    if rec.verdict is not None:
        data["verdict"] = rec.verdict
    if rec.approval_status is not None:
        data["approval_status"] = rec.approval_status
    return data


# A record is written with statements built once (below): each is compiled and its cache
# key computed on its first use only. Built per call with the values inlined, SQLAlchemy
# walked every value (the JSON detail included) to key its compiled-statement cache on
# every record: a third of a record's CPU, on every transition of every task.
_EVENTS = TaskEvent.__table__  # type: ignore[attr-defined]
_AUDIT = AuditEntry.__table__  # type: ignore[attr-defined]
_VERDICTS = VerdictRecord.__table__  # type: ignore[attr-defined]
_TASKS = Task.__table__  # type: ignore[attr-defined]
_RECORD_EXISTS = select(
    exists().where(_EVENTS.c.task_id == bindparam("task_id"), _EVENTS.c.seq == bindparam("seq"))
)
_INSERT_EVENT = insert(_EVENTS)
_INSERT_AUDIT = insert(_AUDIT)
_INSERT_VERDICTS = insert(_VERDICTS)
_ROUNDS_OF_TASK = select(_TASKS.c.rounds).where(_TASKS.c.id == bindparam("task_id"))


@functools.lru_cache(maxsize=256)
def _update_projection(columns: frozenset[str]) -> Update:
    """The projection update setting `columns` (one statement per set of columns a patch
    can change: a few dozen at most). Parameters: `p_<column>`, `p_at`, `p_seq`, `p_id`."""
    values: dict[str, Any] = {name: bindparam(f"p_{name}") for name in sorted(columns)}
    return (
        update(_TASKS)
        .where(_TASKS.c.id == bindparam("p_id"))
        .values(
            **values,
            updated_at=bindparam("p_at"),
            last_seq=case(
                (_TASKS.c.last_seq < bindparam("p_seq"), bindparam("p_seq")),
                else_=_TASKS.c.last_seq,
            ),
        )
    )


async def _rounds_with(session: AsyncSession, rec: RecordInput) -> list[Any] | None:
    """The task's stored rounds with the record's new ones after them. Read in the
    record's transaction: only the main flow of the workflow judges, so no other record of
    the task appends rounds meanwhile, and the (task_id, seq) key makes the append once.

    None for a task stored before migration 0013 (NULL rounds): its earlier rounds were
    never projected, so appending would make a partial list look whole; it stays NULL and
    its reads keep asking its workflow."""
    stored = await session.scalar(_ROUNDS_OF_TASK, {"task_id": rec.task_id})
    if stored is None:
        return None
    return [*stored, *(r.model_dump(mode="json") for r in rec.projection.new_rounds)]


async def _record_exists(session: AsyncSession, task_id: str, seq: int) -> bool:
    return bool(await session.scalar(_RECORD_EXISTS, {"task_id": task_id, "seq": seq}))


async def stored_record_at(session: AsyncSession, task_id: str, seq: int) -> datetime | None:
    """When the stored record (task_id, seq) says it happened (UTC), if it is stored."""
    at = await session.scalar(
        select(TaskEvent.at).where(TaskEvent.task_id == task_id, TaskEvent.seq == seq)
    )
    if at is not None and at.tzinfo is None:  # SQLite drops the zone; we store UTC
        at = at.replace(tzinfo=UTC)
    return at


async def _task_exists(session: AsyncSession, task_id: str) -> bool:
    return bool(await session.scalar(select(exists().where(Task.id == task_id))))


async def apply_record(session: AsyncSession, rec: RecordInput) -> bool:
    """Write one transition in one transaction and commit: the task event, the audit
    entry, a verdict row per judgment, and the projection patch.

    Returns False, writing nothing, when (task_id, seq) is already stored: activity
    retries and concurrent duplicates are harmless. The UNIQUE constraint decides, so two
    writers racing on the same seq store it once. Raises UnknownTaskError when the task
    was never inserted.
    """
    # Activity retries are the common duplicate: answer them without a failed insert (and
    # the rollback that would expire every object the session holds).
    if await _record_exists(session, rec.task_id, rec.seq):
        await session.commit()
        return False
    changes = projection_changes(rec.projection)
    detail = _json_detail(rec)
    try:
        if rec.projection.new_rounds:
            rounds = await _rounds_with(session, rec)
            if rounds is not None:
                changes["rounds"] = rounds
        # The event goes first: its unique key is where a concurrent duplicate waits and
        # then fails, before it has touched anything else.
        await session.execute(
            _INSERT_EVENT,
            {
                "task_id": rec.task_id,
                "seq": rec.seq,
                "at": rec.at,
                "kind": rec.kind,
                "phase": rec.phase,
                "actor": rec.actor,
                "action": rec.action,
                "data": _event_data(detail, rec, changes),
            },
        )
        await session.execute(
            _INSERT_AUDIT,
            {
                "task_id": rec.task_id,
                "seq": rec.seq,
                "at": rec.at,
                "actor": rec.actor,
                "action": rec.action,
                "phase": rec.phase,
                "verdict": rec.verdict,
                "approval_status": rec.approval_status,
                "detail": detail,
            },
        )
        if rec.judgments:
            await session.execute(
                _INSERT_VERDICTS,
                [
                    {
                        "task_id": rec.task_id,
                        "seq": rec.seq,
                        "stage": rec.stage,
                        "iteration": rec.iteration,
                        "judge": j.judge,
                        "verdict": j.verdict,
                        "confidence": j.confidence,
                        "violations": [v.model_dump(mode="json") for v in j.violations],
                        "rationale": j.rationale,
                        "assessment": j.assessment,
                    }
                    for j in rec.judgments
                ],
            )
        result = await session.execute(
            _update_projection(frozenset(changes)),
            {
                **{f"p_{name}": value for name, value in changes.items()},
                "p_id": rec.task_id,
                "p_at": rec.at,
                "p_seq": rec.seq,
            },
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise UnknownTaskError(rec.task_id)
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        if await _record_exists(session, rec.task_id, rec.seq):
            return False
        if not await _task_exists(session, rec.task_id):
            raise UnknownTaskError(rec.task_id) from exc
        raise
    except BaseException:
        await session.rollback()
        raise
    return True
