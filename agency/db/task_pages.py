"""One page of a tenant's tasks: filters and keyset cursor paging, through a Reader.

The API's task list (agency.db.task_reads has the single-task reads). Rows are
TASK_LIST_ROW rows (a task's row without the state only its own read shows), newest first.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, bindparam, func, or_, select

from agency.db.models import Task
from agency.db.reads import Reader
from agency.db.task_reads import TASK_LIST_ROW

MAX_PAGE = 500


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
        # The redundant `created_at <= at` is the index range: the OR alone is a filter,
        # which made a page half-way down a million tasks walk past 500,000 rows (1.2 s
        # on PostgreSQL, 1.6 ms with the bound; bench.rows).
        conditions.append(Task.created_at <= at)
        conditions.append(or_(Task.created_at < at, and_(Task.created_at == at, Task.id < last_id)))
    return (
        select(*TASK_LIST_ROW)
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
    Rows (TASK_LIST_ROW) come from `reader`: this is the API's list.

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
