"""The task list's query: the API's filters plus the repository, a choice of order
("needs attention" first: waiting for approval, then paused, then running), keyset
paging on whichever order, and counts per phase under the same filters."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, and_, case, false, func, or_, select, true

from agency.db.models import Task
from agency.db.reads import Reader
from domain.phases import TERMINAL_PHASES, Phase

Sort = Literal["attention", "newest", "oldest", "updated"]
PhaseFilter = Phase | Literal["active", "finished"]
PAGE = 50
MAX_REPOS = 200


class ListFilters(BaseModel):
    """The list's query string (what the filter form sends; kept in the URL)."""

    phase: PhaseFilter | None = None
    risk_tier: int | None = Field(default=None, ge=1, le=3)
    execution_mode: Literal["strict", "auto", "dry_run"] | None = None
    repo: str | None = Field(default=None, max_length=4096)
    q: str | None = Field(default=None, max_length=200)
    sort: Sort | None = None
    limit: int = Field(default=PAGE, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=1000)

    def query(self, **changes: Any) -> dict[str, str]:
        """The non-empty parameters, with `changes` applied (for links)."""
        values = {**self.model_dump(exclude_none=True), **changes}
        if values.get("limit") == PAGE:
            values.pop("limit")
        return {k: str(v) for k, v in values.items() if v not in (None, "")}


ATTENTION = case(
    (Task.phase == "awaiting_approval", 0),
    (and_(Task.paused == true(), Task.phase.not_in(sorted(TERMINAL_PHASES))), 1),  # type: ignore[attr-defined]
    (Task.phase.in_(sorted(TERMINAL_PHASES)), 3),  # type: ignore[attr-defined]
    else_=2,
)
REPO = Task.spec["repo"].as_string()  # type: ignore[index]
# Each order: (key name, expression, descending), the task id last (a total order).
ORDERS: dict[str, tuple[tuple[str, Any, bool], ...]] = {
    "attention": (
        ("attention", ATTENTION, False),
        ("created_at", Task.created_at, True),
        ("id", Task.id, True),
    ),
    "newest": (("created_at", Task.created_at, True), ("id", Task.id, True)),
    "oldest": (("created_at", Task.created_at, False), ("id", Task.id, False)),
    "updated": (("updated_at", Task.updated_at, True), ("id", Task.id, True)),
}
COLUMNS = (
    Task.id,
    Task.caws_id,
    Task.title,
    Task.phase,
    Task.paused,
    Task.pending_action,
    Task.risk_tier,
    Task.mode,
    Task.execution_mode,
    Task.iteration,
    Task.max_iterations,
    Task.created_at,
    Task.updated_at,
    Task.submitted_by,
    REPO.label("repo"),
)


@dataclass
class Page:
    rows: list[Any]
    next_cursor: str | None
    counts: dict[str, int]
    repos: list[str]


def _conditions(tenant: str, f: ListFilters, *, with_phase: bool = True) -> list[Any]:
    where: list[ColumnElement[bool]] = [Task.tenant == tenant]
    if with_phase and f.phase == "active":
        where.append(Task.phase.not_in(sorted(TERMINAL_PHASES)))  # type: ignore[attr-defined]
    elif with_phase and f.phase == "finished":
        where.append(Task.phase.in_(sorted(TERMINAL_PHASES)))  # type: ignore[attr-defined]
    elif with_phase and f.phase is not None:
        where.append(Task.phase == f.phase)
    if f.risk_tier is not None:
        where.append(Task.risk_tier == f.risk_tier)
    if f.execution_mode is not None:
        where.append(Task.execution_mode == f.execution_mode)
    if f.repo:
        where.append(f.repo == REPO)
    if f.q:
        escaped = f.q.lower()
        for special in ("/", "%", "_"):
            escaped = escaped.replace(special, "/" + special)
        pattern = f"%{escaped}%"
        where.append(
            or_(
                *(
                    func.lower(column).like(pattern, escape="/")
                    for column in (Task.title, Task.caws_id, Task.id)
                )
            )
        )
    return where


def encode_cursor(sort: str, row: Any) -> str:
    values = []
    for name, _, _ in ORDERS[sort]:
        value = _attention_of(row) if name == "attention" else getattr(row, name)
        values.append(value.isoformat() if isinstance(value, datetime) else value)
    raw = json.dumps([sort, *values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _attention_of(row: Any) -> int:
    if row.phase == "awaiting_approval":
        return 0
    if row.phase in TERMINAL_PHASES:
        return 3
    return 1 if row.paused else 2


def decode_cursor(sort: str, cursor: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        if not isinstance(data, list) or data[0] != sort:
            raise ValueError("cursor of another order")
        values = data[1:]
        out: list[Any] = []
        for (name, _, _), value in zip(ORDERS[sort], values, strict=True):
            if name == "attention":
                if not isinstance(value, int):
                    raise ValueError("attention")
                out.append(value)
            elif name in ("created_at", "updated_at"):
                moment = datetime.fromisoformat(value)
                if moment.tzinfo is None:
                    raise ValueError("naive time")
                out.append(moment)
            else:
                if not isinstance(value, str) or "\x00" in value:
                    raise ValueError("id")
                out.append(value)
        return out
    except (binascii.Error, UnicodeDecodeError, TypeError, ValueError, IndexError) as err:
        raise ValueError("invalid cursor") from err


def _after(sort: str, values: list[Any]) -> ColumnElement[bool]:
    """Rows after the cursor in the order: lexicographic over the order's keys."""
    keys = ORDERS[sort]
    options = []
    for i, (_, expression, descending) in enumerate(keys):
        equal = [keys[j][1] == values[j] for j in range(i)]
        beyond = expression < values[i] if descending else expression > values[i]
        options.append(and_(*equal, beyond) if equal else beyond)
    return or_(*options) if options else false()


async def list_page(reader: Reader, tenant: str, f: ListFilters, sort: str) -> Page:
    where = _conditions(tenant, f)
    if f.cursor:
        where.append(_after(sort, decode_cursor(sort, f.cursor)))
    order = [e.desc() if d else e.asc() for _, e, d in ORDERS[sort]]
    statement = select(*COLUMNS).where(*where).order_by(*order).limit(f.limit + 1)
    rows = await reader.all(statement, scan=True)
    next_cursor = None
    if len(rows) > f.limit:
        rows = rows[: f.limit]
        next_cursor = encode_cursor(sort, rows[-1])
    return Page(rows, next_cursor, await counts(reader, tenant, f), await repos(reader, tenant))


async def counts(reader: Reader, tenant: str, f: ListFilters) -> dict[str, int]:
    """Tasks per phase under every filter but the phase."""
    statement = (
        select(Task.phase, func.count())
        .where(*_conditions(tenant, f, with_phase=False))
        .group_by(Task.phase)
    )
    return {phase: int(n) for phase, n in await reader.all(statement, scan=True)}


async def repos(reader: Reader, tenant: str) -> list[str]:
    statement = select(REPO).where(Task.tenant == tenant).distinct().order_by(REPO)
    return [r for (r,) in await reader.all(statement.limit(MAX_REPOS), scan=True) if r]


async def rows_by_id(reader: Reader, tenant: str, ids: list[str]) -> list[Any]:
    if not ids:
        return []
    statement = select(*COLUMNS).where(Task.tenant == tenant, Task.id.in_(ids))  # type: ignore[attr-defined]
    return await reader.all(statement)


async def newer_than(reader: Reader, tenant: str, f: ListFilters, since: datetime) -> int:
    """Tasks matching the filters created after `since` (the page's load)."""
    statement = select(func.count()).where(*_conditions(tenant, f), Task.created_at > since)
    rows = await reader.all(statement, scan=True)  # a count may scan: off the event loop
    return int(rows[0][0]) if rows else 0
