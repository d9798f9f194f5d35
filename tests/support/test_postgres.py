"""The throw-away database helper: it creates, it drops, and it fails loudly."""

from __future__ import annotations

import socket

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.support import postgres
from tests.support.postgres import PostgresUnavailableError, fresh_postgres_database, plain_dsn


async def database_exists(name: str) -> bool:
    connection = await asyncpg.connect(postgres.admin_url())
    try:
        found = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
    finally:
        await connection.close()
    return found == 1


async def test_database_is_created_then_dropped() -> None:
    with fresh_postgres_database() as url:
        name = make_url(url).database
        assert name is not None and name.startswith(postgres.DATABASE_PREFIX)
        assert make_url(url).drivername == "postgresql+asyncpg"
        assert await database_exists(name)
        # Left-open sessions do not stop the drop.
        lingering = await asyncpg.connect(plain_dsn(url))
    assert not await database_exists(name)
    await lingering.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_server_is_an_error_not_a_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        postgres.ADMIN_URL_ENV, f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    )
    with (
        pytest.raises(PostgresUnavailableError, match="PostgreSQL is not reachable"),
        fresh_postgres_database(),
    ):
        pass
