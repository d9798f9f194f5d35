"""Reads on the API's request path: Core statements on connections kept for them.

Every API request reads the caller's key, and most read a task or a page of tasks. Through
an ORM `AsyncSession` one primary-key read cost about 1.2 ms on SQLite (aiosqlite hops to
its own thread several times per statement) and 1.4 ms on PostgreSQL (a pre-ping round
trip per checkout, greenlet adaptation, ORM identity bookkeeping); the same Core
statement on a synchronous SQLite connection took 65 µs (bench notes in the README). The
reader runs the statements the repositories build, without the ORM:

- SQLite: on a synchronous, read-only connection, on the event loop's own thread. A WAL
  reader never waits for a writer, and a point or page read takes tens of microseconds,
  less than a single hand-off to a worker thread would cost. The busy timeout is short
  (only WAL recovery after a crash can make a reader wait) and ends in an
  OperationalError, which the API answers with 503.
- PostgreSQL: the async engine's Core path. Connections are not pinged before use (a
  round trip per request); a read that meets a connection the server dropped is retried
  once on a fresh one, which is what the ping would have bought.

Rows come back as SQLAlchemy `Row`s: attribute access by column name, with the columns'
types applied (UTC datetimes, JSON), so code that reads a `Task` reads a row alike.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Protocol

from sqlalchemy import Executable, Row, create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from agency.db.engine import is_sqlite, make_engine

# How long a SQLite read may wait for a lock (only WAL recovery takes one against readers).
SQLITE_READ_BUSY_TIMEOUT_MS = 200


Params = Mapping[str, Any] | None


class Reader(Protocol):
    """Runs read-only statements (with values for their bind parameters); `one` is the
    first row or None, `all` every row. Statements built once at import, with
    `bindparam`, skip the cost of building them per request."""

    async def one(self, statement: Executable, params: Params = None) -> Row[Any] | None: ...

    async def all(self, statement: Executable, params: Params = None) -> list[Row[Any]]: ...

    async def close(self) -> None: ...


class SQLiteReader:
    """Synchronous reads on the caller's thread (see the module docstring for why).

    Each thread keeps one connection open (a pool checkout and return cost more than the
    read itself). The connection is in autocommit mode: no transaction is ever left
    open, so every statement sees everything committed before it.
    """

    def __init__(self, url: str | URL) -> None:
        self._engine: Engine = create_engine(
            make_url(url).set(drivername="sqlite"), isolation_level="AUTOCOMMIT"
        )
        event.listen(self._engine, "connect", _read_only_pragmas)
        self._local = threading.local()
        self._connections: list[Connection] = []

    def _connection(self) -> Connection:
        connection: Connection | None = getattr(self._local, "connection", None)
        if connection is None or connection.closed or connection.invalidated:
            connection = self._engine.connect()
            self._local.connection = connection
            self._connections.append(connection)
        return connection

    async def one(self, statement: Executable, params: Params = None) -> Row[Any] | None:
        return self._connection().execute(statement, params).first()

    async def all(self, statement: Executable, params: Params = None) -> list[Row[Any]]:
        return list(self._connection().execute(statement, params).all())

    async def close(self) -> None:
        for connection in self._connections:
            connection.close()
        self._connections.clear()
        self._engine.dispose()


def _read_only_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA query_only=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_READ_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


class AsyncReader:
    """Core reads on an async engine, one retry when a pooled connection turned out dead."""

    def __init__(self, url: str | URL) -> None:
        self._engine: AsyncEngine = make_engine(url, pool_pre_ping=False)

    async def one(self, statement: Executable, params: Params = None) -> Row[Any] | None:
        return await self._run(statement, params, first=True)  # type: ignore[no-any-return]

    async def all(self, statement: Executable, params: Params = None) -> list[Row[Any]]:
        return await self._run(statement, params, first=False)  # type: ignore[no-any-return]

    async def _run(self, statement: Executable, params: Params, *, first: bool) -> Any:
        try:
            return await self._execute(statement, params, first=first)
        except DBAPIError as err:
            if not err.connection_invalidated:
                raise
        # The pool has dropped the dead connection; a read is safe to repeat.
        return await self._execute(statement, params, first=first)

    async def _execute(self, statement: Executable, params: Params, *, first: bool) -> Any:
        async with self._engine.connect() as connection:
            result = await connection.execute(statement, params)
            return result.first() if first else list(result.all())

    async def close(self) -> None:
        await self._engine.dispose()


def make_reader(url: str | URL) -> Reader:
    return SQLiteReader(url) if is_sqlite(url) else AsyncReader(url)
