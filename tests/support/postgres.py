"""A fresh, throw-away PostgreSQL database per test (or per test package).

Tests run against the real server (docs/architecture.md, "Conventions"). The admin URL
defaults to the trust-auth `postgres` user on 127.0.0.1:5432 and can be changed with
AGENCY_TEST_POSTGRES_URL. An unreachable server is an error with a clear message, never
a skip: a suite that silently skips its PostgreSQL half proves nothing about it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
ADMIN_URL_ENV = "AGENCY_TEST_POSTGRES_URL"
DATABASE_PREFIX = "agency_t_"
CONNECT_TIMEOUT_S = 10.0


class PostgresUnavailableError(RuntimeError):
    pass


def admin_url() -> str:
    return os.environ.get(ADMIN_URL_ENV, DEFAULT_ADMIN_URL)


def _run(coro: Any) -> Any:
    # A fresh loop in a helper thread: usable from sync code and from inside async tests
    # (whose loop is already running in this thread) alike.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _admin(sql: str, url: str) -> None:
    try:
        connection = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT_S)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise PostgresUnavailableError(
            f"PostgreSQL is not reachable at {url} ({type(exc).__name__}: {exc}). "
            f"The database tests need a running server; point {ADMIN_URL_ENV} at one."
        ) from exc
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def _drop_sql(name: str) -> str:
    # FORCE (PostgreSQL 13+) ends sessions a failed test left open.
    return f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create an empty database named agency_t_<hex>, yield its SQLAlchemy async URL
    (`postgresql+asyncpg://...`), and drop it afterwards, whatever happened."""
    admin = admin_url()
    name = f"{DATABASE_PREFIX}{secrets.token_hex(8)}"
    _run(_admin(f'CREATE DATABASE "{name}"', admin))
    try:
        url = make_url(admin).set(drivername="postgresql+asyncpg", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        _run(_admin(_drop_sql(name), admin))


def plain_dsn(url: str) -> str:
    """The libpq form of a SQLAlchemy URL (for asyncpg.connect and psql)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
