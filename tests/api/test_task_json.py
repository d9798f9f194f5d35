"""Task answers served from serialized rows: byte for byte what the models would give,
never stale after a change, and bounded."""

from __future__ import annotations

import json

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agency.db import Reader, apply_record, list_tasks, read_task
from api.schemas import TaskList
from api.task_json import TaskJson, public_from_row
from domain.audit import ProjectionPatch
from tests.agency.db.factories import add_task, judgments, record
from tests.support.db_fixtures import db_url, pg_url, reader, sessions, sqlite_url

__all__ = ["db_url", "pg_url", "reader", "sessions", "sqlite_url"]

Sessions = async_sessionmaker[AsyncSession]


async def test_answers_match_the_models_byte_for_byte(sessions: Sessions, reader: Reader) -> None:
    async with sessions() as session:
        plain = await add_task(session, title="plain")
        judged = await add_task(session, title="judged — with “unicode”")
        patch = ProjectionPatch(phase="completed", verdicts=judgments(), applied_commit="abc123")
        assert await apply_record(session, record(judged.id, 1, projection=patch))
    cache = TaskJson()
    for task_id, title in ((plain.id, "plain"), (judged.id, "judged — with “unicode”")):
        row = await read_task(reader, task_id)
        assert row is not None
        public = public_from_row(row)
        # The row's JSON columns decode to what was written.
        assert public.title == public.spec["title"] == title
        expected = public.model_dump_json(by_alias=True).encode()
        assert cache.task(row) == expected
        assert cache.task(row) == expected  # from the cache now
    assert (cache.hits, cache.misses) == (2, 2)
    judged_row = await read_task(reader, judged.id)
    assert judged_row is not None
    assert public_from_row(judged_row).verdicts == judgments()

    rows, cursor = await list_tasks(reader, limit=1)
    assert cursor is not None
    page = TaskList(items=[public_from_row(r) for r in rows], next_cursor=cursor)
    assert cache.page(rows, cursor) == page.model_dump_json(by_alias=True).encode()
    rows, cursor = await list_tasks(reader)
    assert cursor is None
    assert json.loads(cache.page(rows, None)) == json.loads(
        TaskList(items=[public_from_row(r) for r in rows], next_cursor=None).model_dump_json()
    )


async def test_a_changed_row_is_never_answered_from_the_cache(
    sessions: Sessions, reader: Reader
) -> None:
    async with sessions() as session:
        task = await add_task(session)
    cache = TaskJson()
    before = await read_task(reader, task.id)
    assert before is not None
    assert json.loads(cache.task(before))["phase"] == "queued"
    async with sessions() as session:
        patch = ProjectionPatch(phase="executing", iteration=2)
        assert await apply_record(session, record(task.id, 1, projection=patch))
    after = await read_task(reader, task.id)
    assert after is not None
    answer = json.loads(cache.task(after))
    assert (answer["phase"], answer["iteration"]) == ("executing", 2)
    assert cache.misses == 2


async def test_the_cache_is_bounded(sessions: Sessions, reader: Reader) -> None:
    async with sessions() as session:
        for n in range(5):
            await add_task(session, title=f"task {n}")
    rows, _ = await list_tasks(reader)
    cache = TaskJson(max_entries=3)
    cache.page(rows, None)
    assert len(cache) == 3
    # The least recently used went first: the last three rows are still cached.
    hits = cache.hits
    cache.page(rows[-3:], None)
    assert cache.hits == hits + 3


async def test_the_cache_is_bounded_in_bytes(sessions: Sessions, reader: Reader) -> None:
    # Answers of tasks with many rounds are tens of KB: the entries' bytes are bounded too.
    async with sessions() as session:
        ids = [(await add_task(session, title=f"task {n}")).id for n in range(6)]
    rows = [row for task_id in ids if (row := await read_task(reader, task_id)) is not None]
    sizes = [len(TaskJson().task(row)) for row in rows]
    cache = TaskJson(max_bytes=sum(sizes[-3:]))
    for row in rows:
        cache.task(row)
    assert len(cache) == 3 and cache.size_bytes == sum(sizes[-3:])
    cache.task(rows[-1])
    assert cache.hits == 1  # the newest stayed
    alone = TaskJson(max_bytes=1)
    assert alone.task(rows[0]) and len(alone) == 1  # one answer larger than the bound
