"""The request path's reader, on SQLite and PostgreSQL: fresh rows, typed columns,
read-only on SQLite, and a read that survives a dropped PostgreSQL connection."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agency.db import Reader, apply_record, list_tasks, read_task
from agency.db.reads import SQLiteReader
from domain.audit import ProjectionPatch
from tests.agency.db.factories import add_task, record
from tests.support.postgres import plain_dsn

Sessions = async_sessionmaker[AsyncSession]


async def test_read_task_sees_every_committed_change(sessions: Sessions, reader: Reader) -> None:
    async with sessions() as session:
        task = await add_task(session, tenant="acme")
    row = await read_task(reader, task.id, tenant="acme")
    assert row is not None and row.phase == "queued" and row.id == task.id
    # Typed like the ORM's rows: aware UTC datetimes; JSON columns as their stored text.
    assert row.created_at.tzinfo is not None and row.created_at.utcoffset() == UTC.utcoffset(None)
    assert json.loads(row.spec_json) == task.spec
    assert json.loads(row.verdicts_json) == []
    assert await read_task(reader, task.id, tenant="other") is None
    assert await read_task(reader, "no-such-task") is None

    async with sessions() as session:
        patch = ProjectionPatch(phase="executing", iteration=1)
        assert await apply_record(session, record(task.id, 1, projection=patch))
    again = await read_task(reader, task.id)
    assert again is not None and (again.phase, again.iteration) == ("executing", 1)
    rows, _ = await list_tasks(reader, tenant="acme")
    assert [(r.id, r.phase) for r in rows] == [(task.id, "executing")]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_sqlite_reader_cannot_write(db_url: str, sessions: Sessions) -> None:
    reader = SQLiteReader(db_url)
    try:
        with pytest.raises(OperationalError, match="readonly"):
            await reader.one(text("DELETE FROM tasks"))
    finally:
        await reader.close()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_a_read_survives_a_dropped_postgres_connection(
    db_url: str, sessions: Sessions, reader: Reader
) -> None:
    async with sessions() as session:
        task = await add_task(session)
    assert await read_task(reader, task.id) is not None  # a pooled connection now exists
    admin = await asyncpg.connect(plain_dsn(db_url))
    try:
        dropped = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    assert dropped >= 1
    # Without a ping before use, the pooled connection is found dead on use; the read is
    # repeated once on a new connection.
    row = await read_task(reader, task.id)
    assert row is not None and row.id == task.id


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_sqlite_results_are_reused_only_while_nothing_was_committed(
    db_url: str, sessions: Sessions
) -> None:
    async with sessions() as session:
        task = await add_task(session, tenant="acme")
    reader = SQLiteReader(db_url)
    try:
        first = await read_task(reader, task.id)
        again = await read_task(reader, task.id)
        assert first is not None and again is first
        assert (reader.hits, reader.misses) == (1, 1)
        page, _ = await list_tasks(reader, tenant="acme", phase=["queued", "executing"])
        assert [r.id for r in page] == [task.id]

        # Any commit, here through another connection, and the next reads go to the table.
        async with sessions() as session:
            patch = ProjectionPatch(phase="executing", iteration=1)
            assert await apply_record(session, record(task.id, 1, projection=patch))
        after = await read_task(reader, task.id)
        assert after is not None and after.phase == "executing"
        misses = reader.misses
        page, _ = await list_tasks(reader, tenant="acme", phase=["queued", "executing"])
        assert [(r.id, r.phase) for r in page] == [(task.id, "executing")]
        assert reader.misses == misses + 1
        # Other values of the same parameters are other results.
        assert await list_tasks(reader, tenant="other") == ([], None)
    finally:
        await reader.close()


class _LockedPragma:
    """A sqlite3 connection stand-in whose every statement fails as a locked one would."""

    def execute(self, *_: object) -> None:
        raise sqlite3.OperationalError("database is locked")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_without_data_version_nothing_is_reused(db_url: str, sessions: Sessions) -> None:
    async with sessions() as session:
        task = await add_task(session)
    reader = SQLiteReader(db_url)
    try:
        assert await read_task(reader, task.id) is not None
        reader._reads().dbapi_connection = _LockedPragma()
        for _ in range(2):
            row = await read_task(reader, task.id)
            assert row is not None and row.id == task.id
        assert reader.hits == 0
    finally:
        await reader.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_scanning_read_runs_off_the_event_loop(db_url: str, sessions: Sessions) -> None:
    async with sessions() as session:
        wanted = await add_task(session, title="Rename the frobnicator")
        await add_task(session, title="Something else")
    reader = SQLiteReader(db_url)
    threads: list[int] = []
    original = reader._rows

    def recording(statement: object, params: object) -> object:
        threads.append(threading.get_ident())
        return original(statement, params)  # type: ignore[arg-type]

    reader._rows = recording  # type: ignore[method-assign]
    try:
        rows, _ = await list_tasks(reader, text="FROBNICATOR")
        assert [r.id for r in rows] == [wanted.id]
        rows, _ = await list_tasks(reader)
        assert len(rows) == 2
    finally:
        await reader.close()  # closes the worker thread's connection too
    loop_thread = threading.get_ident()
    assert threads[0] != loop_thread and threads[1] == loop_thread
