"""Repository functions: every read and write of tasks, events, audit and verdicts.

Writers commit (or roll back) the session they are given, so that each call is one
transaction; readers leave the session as they found it. Rows stay readable after a
commit when the session was made by `session_maker` (expire_on_commit=False). Readers
always refresh rows from the database (`populate_existing`), because `apply_record`
changes the projection with a bulk UPDATE that bypasses the identity map. A rollback
expires what a session holds, so callers use one short-lived session per unit of work.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    Text,
    and_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy import text as sql_text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agency.db.models import AuditEntry, Task, TaskEvent, VerdictRecord
from agency.db.reads import Reader
from agency.db.types import utcnow
from council.spec import TaskSpec
from domain.audit import ProjectionPatch, RecordInput

# Read options for every query: a row already in the session is overwritten by what the
# database says now, not returned stale.
FRESH = {"populate_existing": True}

MAX_PAGE = 500
MAX_EVENTS_PAGE = 10_000


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
        created_at=now,
        updated_at=now,
    )
    try:
        # A Core INSERT rather than session.add: a duplicate id is then the database's
        # IntegrityError, not an identity-map conflict with a row the session holds.
        await session.execute(insert(Task).values(**task.model_dump()))
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    # Read back what the database stored (UTC-normalised timestamps).
    stored = await get_task(session, task_id)
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
    try:
        await session.execute(delete(Task).where(Task.id == task_id, Task.last_seq == 0))
        await session.commit()
    except BaseException:
        await session.rollback()
        raise


def _task_query(task_id: str, tenant: str | None) -> Select[tuple[Task]]:
    stmt = select(Task).where(Task.id == task_id)
    return stmt if tenant is None else stmt.where(Task.tenant == tenant)


async def get_task(session: AsyncSession, task_id: str, tenant: str | None = None) -> Task | None:
    """The task, or None if it does not exist or belongs to another tenant than `tenant`."""
    stmt = _task_query(task_id, tenant).execution_options(**FRESH)
    return (await session.scalars(stmt)).one_or_none()


# The columns of a task row on the request path: every column, the JSON ones as the text
# stored (`spec_json`, `verdicts_json`). Such a row is hashable and complete, so the API
# can keep each row's serialized answer keyed by the row itself (api.task_json), and a
# row read again unchanged costs no JSON decoding.
JSON_COLUMNS = ("spec", "verdicts")
TASK_ROW = tuple(
    cast(column, Text).label(f"{column.name}_json") if column.name in JSON_COLUMNS else column
    for column in Task.__table__.c
)
# The request path's task reads, built once (agency.db.reads).
TASK_BY_ID = select(*TASK_ROW).where(Task.id == bindparam("task_id"))
TENANT_TASK_BY_ID = TASK_BY_ID.where(Task.tenant == bindparam("tenant"))


async def read_task(reader: Reader, task_id: str, tenant: str | None = None) -> Row[Any] | None:
    """`get_task` for the request path: the task's row (TASK_ROW) through `reader`."""
    if tenant is None:
        return await reader.one(TASK_BY_ID, {"task_id": task_id})
    return await reader.one(TENANT_TASK_BY_ID, {"task_id": task_id, "tenant": tenant})


# ---------------------------------------------------------------------------- records
def projection_changes(patch: ProjectionPatch) -> dict[str, Any]:
    """The column values a patch sets: None fields are left alone; `clear_pending_action`
    empties pending_action unless the same patch also sets a new one."""
    # Top-level None only: exclude_none would also strip None inside the judgments.
    dumped = patch.model_dump(mode="json", exclude={"clear_pending_action"})
    values = {name: value for name, value in dumped.items() if value is not None}
    if patch.clear_pending_action and patch.pending_action is None:
        values["pending_action"] = None
    return values


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
    if changes:
        data["projection"] = changes
    if rec.verdict is not None:
        data["verdict"] = rec.verdict
    if rec.approval_status is not None:
        data["approval_status"] = rec.approval_status
    return data


async def _record_exists(session: AsyncSession, task_id: str, seq: int) -> bool:
    stmt = select(exists().where(TaskEvent.task_id == task_id, TaskEvent.seq == seq))
    return bool(await session.scalar(stmt))


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
        # The event goes first: its unique key is where a concurrent duplicate waits and
        # then fails, before it has touched anything else.
        await session.execute(
            insert(TaskEvent).values(
                task_id=rec.task_id,
                seq=rec.seq,
                at=rec.at,
                kind=rec.kind,
                phase=rec.phase,
                actor=rec.actor,
                action=rec.action,
                data=_event_data(detail, rec, changes),
            )
        )
        await session.execute(
            insert(AuditEntry).values(
                task_id=rec.task_id,
                seq=rec.seq,
                at=rec.at,
                actor=rec.actor,
                action=rec.action,
                phase=rec.phase,
                verdict=rec.verdict,
                approval_status=rec.approval_status,
                detail=detail,
            )
        )
        if rec.judgments:
            await session.execute(
                insert(VerdictRecord),
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
            update(Task)
            .where(Task.id == rec.task_id)
            .values(
                **changes,
                updated_at=rec.at,
                last_seq=case((Task.last_seq < rec.seq, rec.seq), else_=Task.last_seq),
            )
            .execution_options(synchronize_session=False)
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


# ------------------------------------------------------------------------------ lists
# A cursor is the last row's position, `<created_at in µs since 1970 UTC>.<task id>`:
# every string of this form is a valid position (µs of up to 17 digits stay below year
# 9999), so the API's schema can say exactly which cursors it accepts.
CURSOR_PATTERN = r"^[0-9]{1,17}\.[A-Za-z0-9_-]{1,64}$"
_CURSOR = re.compile(CURSOR_PATTERN)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _encode_cursor(task: Row[Any]) -> str:
    at: datetime = task.created_at
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at
    cursor = f"{(at - _EPOCH) // _MICROSECOND}.{task.id}"
    if not _CURSOR.fullmatch(cursor):
        raise ValueError(f"task {task.id!r}: ids are UUIDs; no cursor can name this one")
    return cursor


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    match = _CURSOR.fullmatch(cursor)
    if match is None:
        raise ValueError("invalid cursor")
    micros, task_id = cursor.split(".", 1)
    return _EPOCH + int(micros) * _MICROSECOND, task_id


# Columns a page can be filtered on by equality (one value) or membership (several).
EQUALITY_FILTERS = ("tenant", "phase", "mode", "execution_mode", "risk_tier")
LIKE_ESCAPE = "/"


def _is_collection(value: Any) -> bool:
    return not isinstance(value, str | int) and isinstance(value, Sequence)


def _like_pattern(text: str) -> str:
    """`%text%`, lower-cased, with LIKE's wildcards in `text` matched literally."""
    escaped = text.lower()
    for special in (LIKE_ESCAPE, "%", "_"):
        escaped = escaped.replace(special, LIKE_ESCAPE + special)
    return f"%{escaped}%"


@functools.lru_cache(maxsize=256)
def _page_statement(shape: tuple[tuple[str, bool], ...]) -> Select[Any]:
    """The page query for one combination of filters (`shape`: each filter's name and
    whether it holds several values), with bind parameters for every value. Built once
    per shape: building and caching a statement per request cost more than running it,
    and one statement object per shape lets readers recognise a repeated query."""
    conditions: list[ColumnElement[bool]] = []
    names = dict(shape)
    for name in EQUALITY_FILTERS:
        if name in names:
            column = Task.__table__.c[name]
            many = names[name]
            conditions.append(
                column.in_(bindparam(name, expanding=True)) if many else column == bindparam(name)
            )
    if "text" in names:
        pattern = bindparam("text")
        conditions.append(
            or_(
                *(
                    func.lower(column).like(pattern, escape=LIKE_ESCAPE)
                    for column in (Task.title, Task.caws_id, Task.id)
                )
            )
        )
    if "created_after" in names:
        conditions.append(Task.created_at >= bindparam("created_after"))
    if "created_before" in names:
        conditions.append(Task.created_at < bindparam("created_before"))
    if "cursor" in names:
        at, last_id = bindparam("cursor_at"), bindparam("cursor_id")
        conditions.append(or_(Task.created_at < at, and_(Task.created_at == at, Task.id < last_id)))
    return (
        select(*TASK_ROW)
        .where(*conditions)
        .order_by(Task.created_at.desc(), Task.id.desc())
        .limit(bindparam("limit"))
    )


async def list_tasks(
    reader: Reader,
    *,
    tenant: str | None = None,
    phase: str | Sequence[str] | None = None,
    mode: str | Sequence[str] | None = None,
    execution_mode: str | Sequence[str] | None = None,
    risk_tier: int | Sequence[int] | None = None,
    text: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[Row[Any]], str | None]:
    """One page of tasks, newest first, and the cursor of the next page (None at the end).
    Rows (TASK_ROW) come from `reader`: this is the API's list.

    Keyset paging on (created_at desc, id desc): rows inserted while a client pages never
    make it see a row twice or skip one. `text` matches title, CAWS id or task id,
    case-insensitively. `created_after` is inclusive, `created_before` exclusive. A
    cursor that was not produced here raises ValueError.
    """
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
    shape: list[tuple[str, bool]] = []
    # One more row than asked: whether it exists says if there is a next page.
    params: dict[str, Any] = {"limit": limit + 1}
    equality = (tenant, phase, mode, execution_mode, risk_tier)
    for name, value in zip(EQUALITY_FILTERS, equality, strict=True):
        if value is not None:
            many = _is_collection(value)
            shape.append((name, many))
            params[name] = tuple(value) if many else value
    for name, value in (
        ("text", _like_pattern(text) if text else None),
        ("created_after", created_after),
        ("created_before", created_before),
    ):
        if value is not None:
            shape.append((name, False))
            params[name] = value
    if cursor is not None:
        params["cursor_at"], params["cursor_id"] = _decode_cursor(cursor)
        shape.append(("cursor", False))
    # A text search may read every row of the tenant (LIKE '%…%' uses no index).
    rows = await reader.all(_page_statement(tuple(shape)), params, scan=bool(text))
    if len(rows) <= limit:
        return rows, None
    page = rows[:limit]
    return page, _encode_cursor(page[-1])


async def list_events(
    session: AsyncSession, task_id: str, after_seq: int = 0, limit: int = 1000
) -> list[TaskEvent]:
    """Events with seq > after_seq, in order (SSE resumes from `Last-Event-ID`)."""
    if not 1 <= limit <= MAX_EVENTS_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_EVENTS_PAGE}")
    stmt = (
        select(TaskEvent)
        .where(TaskEvent.task_id == task_id, TaskEvent.seq > after_seq)
        .order_by(TaskEvent.seq)
        .limit(limit)
        .execution_options(**FRESH)
    )
    return list((await session.scalars(stmt)).all())


async def list_audit(session: AsyncSession, task_id: str) -> list[AuditEntry]:
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.task_id == task_id)
        .order_by(AuditEntry.seq)
        .execution_options(**FRESH)
    )
    return list((await session.scalars(stmt)).all())


async def list_verdicts(session: AsyncSession, task_id: str) -> list[VerdictRecord]:
    stmt = (
        select(VerdictRecord)
        .where(VerdictRecord.task_id == task_id)
        .order_by(VerdictRecord.seq, VerdictRecord.id)
        .execution_options(**FRESH)
    )
    return list((await session.scalars(stmt)).all())


# ----------------------------------------------------------------------------- health
async def ping(session: AsyncSession) -> None:
    """Raise if the database cannot answer a trivial query."""
    await session.execute(sql_text("SELECT 1"))
