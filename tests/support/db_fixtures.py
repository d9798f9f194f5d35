"""Database fixtures shared by test packages; a package's conftest imports the ones it uses.

`sqlite_url` and `pg_url` are empty databases; `db_url` is each of them in turn;
`sessions` is a session factory on a migrated `db_url`, `reader` an agency.db.reads
reader on the same database; `pg_sessions` a session factory on a migrated `pg_url`
(for what only PostgreSQL has: notices, shared rows).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agency.db.engine import make_engine, session_maker
from agency.db.migrate import upgrade_database_async
from agency.db.reads import Reader, make_reader
from tests.support.postgres import fresh_postgres_database

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'data' / 'agency.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


async def _migrated_sessions(url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await upgrade_database_async(url)
    engine = make_engine(url)
    try:
        yield session_maker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async for made in _migrated_sessions(db_url):
        yield made


@pytest.fixture
async def pg_sessions(pg_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async for made in _migrated_sessions(pg_url):
        yield made


@pytest.fixture
async def reader(sessions: async_sessionmaker[AsyncSession], db_url: str) -> AsyncIterator[Reader]:
    made = make_reader(db_url)
    try:
        yield made
    finally:
        await made.close()
