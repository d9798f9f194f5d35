"""A PostgreSQL database a benchmark creates for itself and drops afterwards.

The caller names the database in its --database-url; the benchmark refuses one that
already exists, so that it never writes into (or drops) somebody's data.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from sqlalchemy.engine import make_url


def _maintenance_dsn(url: str) -> tuple[str, str]:
    """(libpq DSN of the server's `postgres` database, name of the database in `url`)."""
    parsed = make_url(url)
    if not parsed.database:
        raise ValueError(f"{url} names no database")
    admin = parsed.set(drivername="postgresql", database="postgres")
    return admin.render_as_string(hide_password=False), parsed.database


async def _execute(dsn: str, sql: str) -> None:
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextmanager
def fresh_database(url: str | None) -> Iterator[str | None]:
    """Create the PostgreSQL database `url` names and drop it on the way out; any other
    URL (None: SQLite in the data dir) passes through untouched."""
    if url is None or not url.startswith("postgresql"):
        yield url
        return
    dsn, name = _maintenance_dsn(url)
    # CREATE fails when the database exists: nothing of anybody else's is touched.
    try:
        asyncio.run(_execute(dsn, f'CREATE DATABASE "{name}"'))
    except asyncpg.DuplicateDatabaseError:
        print(
            f"database {name!r} exists already: the benchmark creates its own and drops it "
            "afterwards, so name one that does not exist in --database-url",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    try:
        yield url
    finally:
        # FORCE ends the sessions a killed process may have left open.
        asyncio.run(_execute(dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
