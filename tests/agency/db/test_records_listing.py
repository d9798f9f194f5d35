"""`list_tasks`: filters and keyset cursor paging, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agency.db import Reader, Task, list_tasks
from tests.agency.db.factories import add_task

Sessions = async_sessionmaker[AsyncSession]
BASE = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
MODES = ("feature", "fix", "doc")
EXEC_MODES = ("auto", "strict", "dry_run")


async def seed(sessions: Sessions, n: int = 23) -> list[Task]:
    """n tasks over two tenants; every third pair shares a created_at, so ties must be
    broken by id for paging to be exact."""
    tasks = []
    async with sessions() as session:
        for i in range(n):
            tasks.append(
                await add_task(
                    session,
                    tenant="acme" if i % 2 else "globex",
                    title=f"Task number {i}",
                    caws_id=f"FEAT-{i:04d}",
                    risk_tier=1 + i % 3,
                    mode=MODES[i % 3],
                    execution_mode=EXEC_MODES[(i // 3) % 3],
                    created_at=BASE + timedelta(minutes=i // 2),
                )
            )
    return tasks


def newest_first(tasks: list[Task]) -> list[str]:
    return [t.id for t in sorted(tasks, key=lambda t: (t.created_at, t.id), reverse=True)]


async def page_through(reader: Reader, limit: int, **filters: object) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    for _ in range(100):  # bound: the data has far fewer pages
        rows, cursor = await list_tasks(reader, limit=limit, cursor=cursor, **filters)
        pages.append([t.id for t in rows])
        if cursor is None:
            return pages
    raise AssertionError("paging did not end")


@pytest.mark.parametrize("limit", [1, 4, 23, 50])
async def test_cursor_paging_returns_every_row_once_in_order(
    sessions: Sessions, reader: Reader, limit: int
) -> None:
    tasks = await seed(sessions)
    pages = await page_through(reader, limit)
    flat = list(itertools.chain.from_iterable(pages))
    assert flat == newest_first(tasks)
    assert all(len(p) == limit for p in pages[:-1])
    assert 1 <= len(pages[-1]) <= limit


async def test_paging_with_filter_and_concurrent_insert(sessions: Sessions, reader: Reader) -> None:
    tasks = await seed(sessions)
    acme = [t for t in tasks if t.tenant == "acme"]
    seen: list[str] = []
    async with sessions() as session:
        rows, cursor = await list_tasks(reader, tenant="acme", limit=3)
        seen += [t.id for t in rows]
        # A task submitted while the client pages is newer than the cursor: not seen,
        # and it does not shift later pages.
        await add_task(session, tenant="acme", created_at=BASE + timedelta(days=1))
        while cursor is not None:
            rows, cursor = await list_tasks(reader, tenant="acme", limit=3, cursor=cursor)
            seen += [t.id for t in rows]
    assert seen == newest_first(acme)


async def test_filters(sessions: Sessions, reader: Reader) -> None:
    tasks = await seed(sessions)

    async def ids(**filters: object) -> set[str]:
        rows, cursor = await list_tasks(reader, limit=500, **filters)
        assert cursor is None
        return {t.id for t in rows}

    def expect(pred: Callable[[Task], bool]) -> set[str]:
        return {t.id for t in tasks if pred(t)}

    assert await ids(tenant="acme") == expect(lambda t: t.tenant == "acme")
    assert await ids(mode="fix") == expect(lambda t: t.mode == "fix")
    assert await ids(mode=["fix", "doc"]) == expect(lambda t: t.mode in ("fix", "doc"))
    assert await ids(risk_tier=1) == expect(lambda t: t.risk_tier == 1)
    assert await ids(risk_tier=[2, 3]) == expect(lambda t: t.risk_tier in (2, 3))
    assert await ids(execution_mode="strict") == expect(lambda t: t.execution_mode == "strict")
    assert await ids(phase="queued") == expect(lambda t: True)
    assert await ids(phase="completed") == set()
    assert await ids(tenant="globex", mode="feature", risk_tier=1) == expect(
        lambda t: t.tenant == "globex" and t.mode == "feature" and t.risk_tier == 1
    )
    after, before = BASE + timedelta(minutes=3), BASE + timedelta(minutes=7)
    assert await ids(created_after=after, created_before=before) == expect(
        lambda t: after <= t.created_at < before
    )
    # Text matches title, CAWS id and task id, case-insensitively.
    assert await ids(text="NUMBER 1") == expect(lambda t: "number 1" in t.title.lower())
    assert await ids(text="feat-0007") == expect(lambda t: t.caws_id == "FEAT-0007")
    assert await ids(text=tasks[5].id[:13]) == {tasks[5].id}


async def test_text_filter_treats_wildcards_literally(sessions: Sessions, reader: Reader) -> None:
    async with sessions() as session:
        percent = await add_task(session, title="raise coverage to 90% in core")
        underscore = await add_task(session, title="rename snake_case helpers")
        await add_task(session, title="plain title")
        rows, _ = await list_tasks(reader, text="%")
        assert [t.id for t in rows] == [percent.id]
        rows, _ = await list_tasks(reader, text="_")
        assert [t.id for t in rows] == [underscore.id]


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


BAD_CURSORS = [
    "not a cursor!",
    b64(b"not json"),
    b64(json.dumps({"c": 1}).encode()),
    b64(json.dumps(["yesterday", "id"]).encode()),
    b64(json.dumps(["2025-03-01T12:00:00", "id"]).encode()),  # no time zone
    b64(json.dumps([1, 2]).encode()),
    b64(b"\xff\xfe"),
]


async def test_invalid_cursor_or_limit_raises_value_error(reader: Reader) -> None:
    for cursor in BAD_CURSORS:
        with pytest.raises(ValueError, match="invalid cursor"):
            await list_tasks(reader, cursor=cursor)
    for limit in (0, -1, 501):
        with pytest.raises(ValueError, match="limit"):
            await list_tasks(reader, limit=limit)
