"""Engines: SQLite connections are configured for concurrent local use; sessions from
`session_maker` keep rows readable after commit."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agency.db import make_engine
from agency.db.engine import SQLITE_BUSY_TIMEOUT_MS, is_sqlite, sqlite_file
from tests.agency.db.factories import add_task
from tests.support.postgres import plain_dsn


async def test_sqlite_file_dir_is_created_and_pragmas_set(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "deeper" / "agency.db"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.connect() as conn:
            journal = await conn.scalar(text("PRAGMA journal_mode"))
            foreign_keys = await conn.scalar(text("PRAGMA foreign_keys"))
            busy = await conn.scalar(text("PRAGMA busy_timeout"))
    finally:
        await engine.dispose()
    assert path.exists()
    assert (journal, foreign_keys, busy) == ("wal", 1, SQLITE_BUSY_TIMEOUT_MS)


async def test_in_memory_sqlite_needs_no_directory() -> None:
    engine = make_engine("sqlite+aiosqlite:///:memory:")
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1
    finally:
        await engine.dispose()


def test_url_helpers() -> None:
    assert is_sqlite("sqlite+aiosqlite:///x.db")
    assert not is_sqlite("postgresql+asyncpg://postgres@127.0.0.1/db")
    assert sqlite_file("sqlite+aiosqlite:////tmp/a/b.db") == Path("/tmp/a/b.db")
    assert sqlite_file("sqlite+aiosqlite:///:memory:") is None
    assert sqlite_file("sqlite+aiosqlite://") is None


async def test_session_rows_readable_after_commit(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        task = await add_task(session, title="still readable")
        await session.commit()
        # With expire_on_commit the attribute access would need a lazy load, which an
        # AsyncSession refuses (MissingGreenlet).
        assert task.title == "still readable"


async def test_postgres_engine_survives_dropped_connections(pg_url: str) -> None:
    # pool_pre_ping: a pooled connection killed by the server is replaced, not returned.
    engine = make_engine(pg_url)
    try:
        async with engine.connect() as conn:
            pid = await conn.scalar(text("SELECT pg_backend_pid()"))
        # Killed from outside the pool: a pooled connection would be the victim itself.
        killer = await asyncpg.connect(plain_dsn(pg_url))
        try:
            assert await killer.fetchval("SELECT pg_terminate_backend($1)", pid) is True
        finally:
            await killer.close()
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1
    finally:
        await engine.dispose()


async def test_postgres_connect_gives_up_on_a_server_that_never_answers() -> None:
    # A port that takes connections and never speaks (a hung host): asyncpg alone would
    # wait 60 s; the engine's connect timeout ends it.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        engine = make_engine(
            f"postgresql+asyncpg://postgres@127.0.0.1:{port}/db", connect_timeout_s=0.5
        )
        started = time.monotonic()
        try:
            with pytest.raises(TimeoutError):
                async with engine.connect():
                    pass
        finally:
            await engine.dispose()
        assert time.monotonic() - started < 5
