"""Reads of a task's records: its projection row, events, audit trail and verdicts.

Every read goes through a `Reader` (agency.db.reads): Core statements built once at
import, run without the ORM. This is the one read path: the API, the dashboard and the
provenance verifier all read here; the ORM session is for writes (agency.db.records).

Rows are SQLAlchemy `Row`s with attribute access by column name. Event, audit and
verdict rows carry every column with its type applied (UTC datetimes, decoded JSON). A
task row (TASK_ROW) carries its JSON columns as the stored text instead (`spec_json`,
`verdicts_json`, …): such a row is hashable, so the API can key each row's serialized
answer by the row itself (api.task_json); `task_spec` and `task_verdicts` decode them.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Row, Text, bindparam, cast, select

from agency.db.models import AuditEntry, Task, TaskEvent, VerdictRecord
from agency.db.reads import Reader
from council.models import Judgment

MAX_EVENTS_PAGE = 10_000
# An events page larger than this may take milliseconds to read and decode: a reader
# then runs it off the event loop (Reader.all's `scan`).
SMALL_EVENTS_PAGE = 1000

# The state only a single task's read shows (rounds and gate output are kilobytes).
STATE_COLUMNS = ("decision", "rounds", "execution")
JSON_COLUMNS = ("spec", "verdicts", *STATE_COLUMNS)
TASK_ROW = tuple(
    cast(column, Text).label(f"{column.name}_json") if column.name in JSON_COLUMNS else column
    for column in Task.__table__.c
)
TASK_LIST_ROW = tuple(
    column
    for column, name in zip(TASK_ROW, Task.__table__.c.keys(), strict=True)
    if name not in STATE_COLUMNS
)
TASK_BY_ID = select(*TASK_ROW).where(Task.id == bindparam("task_id"))
TENANT_TASK_BY_ID = TASK_BY_ID.where(Task.tenant == bindparam("tenant"))

EVENTS_AFTER = (
    select(*TaskEvent.__table__.c)
    .where(TaskEvent.task_id == bindparam("task_id"), TaskEvent.seq > bindparam("after_seq"))
    .order_by(TaskEvent.seq)
    .limit(bindparam("limit"))
)
AUDIT_OF_TASK = (
    select(*AuditEntry.__table__.c)
    .where(AuditEntry.task_id == bindparam("task_id"))
    .order_by(AuditEntry.seq)
)
VERDICTS_OF_TASK = (
    select(*VerdictRecord.__table__.c)
    .where(VerdictRecord.task_id == bindparam("task_id"))
    .order_by(VerdictRecord.seq, VerdictRecord.id)
)


async def read_task(reader: Reader, task_id: str, tenant: str | None = None) -> Row[Any] | None:
    """The task's row (TASK_ROW), or None if it does not exist or belongs to another
    tenant than `tenant`."""
    if tenant is None:
        return await reader.one(TASK_BY_ID, {"task_id": task_id})
    return await reader.one(TENANT_TASK_BY_ID, {"task_id": task_id, "tenant": tenant})


def task_spec(row: Row[Any]) -> dict[str, Any]:
    """The task spec a TASK_ROW row stores (as submitted, by alias)."""
    spec: dict[str, Any] = json.loads(row.spec_json) if row.spec_json else {}
    return spec


def projection_complete(row: Row[Any]) -> bool:
    """Whether a TASK_ROW row holds the task's whole state (decision, rounds, execution):
    every task stored since migration 0013; one stored before has NULL rounds."""
    return row.rounds_json is not None


def task_verdicts(row: Row[Any]) -> list[dict[str, Any]]:
    """The latest judgments a TASK_ROW row holds."""
    verdicts: list[dict[str, Any]] = json.loads(row.verdicts_json) if row.verdicts_json else []
    return verdicts


async def list_events(
    reader: Reader, task_id: str, after_seq: int = 0, limit: int = 1000
) -> list[Row[Any]]:
    """Events with seq > after_seq, in order (SSE resumes from `Last-Event-ID`)."""
    if not 1 <= limit <= MAX_EVENTS_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_EVENTS_PAGE}")
    params = {"task_id": task_id, "after_seq": after_seq, "limit": limit}
    return await reader.all(EVENTS_AFTER, params, scan=limit > SMALL_EVENTS_PAGE)


async def list_audit(reader: Reader, task_id: str) -> list[Row[Any]]:
    """The task's audit entries, in order."""
    # A long task's trail runs to hundreds of entries with their details: off the loop.
    return await reader.all(AUDIT_OF_TASK, {"task_id": task_id}, scan=True)


async def list_verdicts(reader: Reader, task_id: str) -> list[Row[Any]]:
    """Every judgment of the task, by record and then as written."""
    return await reader.all(VERDICTS_OF_TASK, {"task_id": task_id}, scan=True)


def judgment_of(row: Row[Any]) -> Judgment:
    """The Judgment a verdict row stores."""
    return Judgment.model_validate(row, from_attributes=True)
