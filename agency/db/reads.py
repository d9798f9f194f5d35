"""Reads on the API's request path: Core statements on connections kept for them.

Every API request reads the caller's key, and most read a task or a page of tasks. Through
an ORM `AsyncSession` one primary-key read cost about 1.2 ms on SQLite (aiosqlite hops to
its own thread several times per statement) and 1.4 ms on PostgreSQL (a pre-ping round
trip per checkout, greenlet adaptation, ORM identity bookkeeping); the same Core
statement on a synchronous SQLite connection took 65 µs with a pool checkout and about
25 µs on a connection kept open (docs/benchmarks.md, the API). The reader runs the statements
the repositories build, without the ORM:

- SQLite: on a synchronous, read-only connection, on the event loop's own thread. A WAL
  reader never waits for a writer, and a point or page read takes tens of microseconds,
  less than a single hand-off to a worker thread would cost. Reads that may scan (a
  text search) go to a worker thread instead, so that they never hold up the loop. The
  busy timeout is short (only WAL recovery after a crash can make a reader wait) and
  ends in an OperationalError, which the API answers with 503. Results are reused while
  the database is unchanged (`PRAGMA data_version`, see SQLiteReader), never longer.
- PostgreSQL: the async engine's Core path, in autocommit mode, on a pool of a fixed
  size (`pool_size` connections kept open, no overflow opened and closed under load:
  each new connection costs a server process and the driver's setup, and starts with
  no prepared statements; asyncpg keeps each statement prepared per connection).
  Connections are not pinged before use (a round trip per request); a read that meets
  a connection the server dropped is retried once on a fresh one, which is what the
  ping would have bought. Nothing is reused between reads here: PostgreSQL has no
  cheap, synchronous "has anything changed" like SQLite's. Identical reads waiting for
  a connection at the same time share one statement, sent after all of them arrived
  (agency.db.read_flights: as fresh as a statement of each one's own). (API keys are
  kept for up to a second and dropped on notice, above the reader: agency.db.key_cache.)

Rows come back as SQLAlchemy `Row`s: attribute access by column name, with the columns'
types applied (UTC datetimes, JSON), so code that reads a `Task` reads a row alike.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Executable, Row, create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from agency.db.engine import is_sqlite, make_engine
from agency.db.read_flights import Flights

# How long a SQLite read may wait for a lock (only WAL recovery takes one against readers).
SQLITE_READ_BUSY_TIMEOUT_MS = 200
# Results a SQLite reader keeps per thread while the database is unchanged.
MAX_CACHED_RESULTS = 512


Params = Mapping[str, Any] | None


class Reader(Protocol):
    """Runs read-only statements (with values for their bind parameters); `one` is the
    first row or None, `all` every row. Statements built once at import, with
    `bindparam`, skip the cost of building them per request. `scan=True` marks a read
    that may go through many rows (a text search), which must not hold up the caller's
    event loop."""

    async def one(self, statement: Executable, params: Params = None) -> Row[Any] | None: ...

    async def all(
        self, statement: Executable, params: Params = None, *, scan: bool = False
    ) -> list[Row[Any]]: ...

    async def close(self) -> None: ...


@dataclass
class _ThreadReads:
    """One thread's SQLite connection and the results read on it at `version`."""

    connection: Connection
    dbapi_connection: Any  # the sqlite3 connection under it
    version: int | None = None
    # (id of the statement, parameters) -> (the statement, its rows)
    results: OrderedDict[tuple[int, Hashable], tuple[Executable, list[Row[Any]]]] = field(
        default_factory=OrderedDict
    )


class SQLiteReader:
    """Synchronous reads on the caller's thread (see the module docstring for why).

    Each thread keeps one connection open (a pool checkout and return cost more than the
    read itself). The connection is in autocommit mode: no transaction is ever left
    open, so every statement sees everything committed before it.

    Results are kept and served again while the database has not changed. SQLite's
    `PRAGMA data_version` (a few microseconds) changes on a connection as soon as any
    other connection, in any process, commits; this connection never writes. So an
    answer is kept only as long as it is exactly what a new read would return: a key
    revoked, a task moved on or submitted, and the next read goes to the tables again.
    """

    def __init__(self, url: str | URL, max_results: int = MAX_CACHED_RESULTS) -> None:
        self._engine: Engine = create_engine(
            make_url(url).set(drivername="sqlite"), isolation_level="AUTOCOMMIT"
        )
        event.listen(self._engine, "connect", _read_only_pragmas)
        self._local = threading.local()
        self._threads: list[_ThreadReads] = []
        self._max_results = max_results
        self.hits = 0
        self.misses = 0

    def _reads(self) -> _ThreadReads:
        reads: _ThreadReads | None = getattr(self._local, "reads", None)
        if reads is None or reads.connection.closed or reads.connection.invalidated:
            connection = self._engine.connect()
            reads = _ThreadReads(connection, connection.connection.dbapi_connection)
            self._local.reads = reads
            self._threads.append(reads)
        return reads

    def _rows(self, statement: Executable, params: Params) -> list[Row[Any]]:
        reads = self._reads()
        try:
            version = reads.dbapi_connection.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error:
            version = None  # unknown: nothing is reused, and the read reports the failure
        if version is None or version != reads.version:
            reads.results.clear()
            reads.version = version
        key = _cache_key(statement, params) if version is not None else None
        cached = reads.results.get(key) if key is not None else None
        if cached is not None and cached[0] is statement:
            reads.results.move_to_end(key)  # type: ignore[arg-type]
            self.hits += 1
            return cached[1]
        self.misses += 1
        rows = list(reads.connection.execute(statement, params).all())
        if key is not None:
            reads.results[key] = (statement, rows)
            if len(reads.results) > self._max_results:
                reads.results.popitem(last=False)
        return rows

    async def one(self, statement: Executable, params: Params = None) -> Row[Any] | None:
        rows = self._rows(statement, params)
        return rows[0] if rows else None

    async def all(
        self, statement: Executable, params: Params = None, *, scan: bool = False
    ) -> list[Row[Any]]:
        if scan:
            # Milliseconds, perhaps: on a worker thread (with its own connection), so that
            # the event loop serves other requests meanwhile.
            return await asyncio.to_thread(self._copy_of_rows, statement, params)
        return self._copy_of_rows(statement, params)

    def _copy_of_rows(self, statement: Executable, params: Params) -> list[Row[Any]]:
        # A copy: the cached list stays as read.
        return list(self._rows(statement, params))

    async def close(self) -> None:
        for reads in self._threads:
            reads.connection.close()
        self._threads.clear()
        self._engine.dispose()


def _cache_key(statement: Executable, params: Params) -> tuple[int, Hashable] | None:
    """A key for a statement and its parameters, or None when a value is not hashable."""
    frozen = tuple(sorted(params.items())) if params else ()
    try:
        hash(frozen)
    except TypeError:
        return None
    return id(statement), frozen


def _read_only_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA query_only=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_READ_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


class AsyncReader:
    """Core reads on an async engine, one retry when a pooled connection turned out dead.

    `command_timeout_s` bounds each statement and `pool_timeout_s` the wait for a pooled
    connection (see make_engine), so that a read on a server that stopped answering
    fails in bounded time instead of holding its request."""

    def __init__(
        self,
        url: str | URL,
        *,
        command_timeout_s: float | None = None,
        pool_timeout_s: float | None = None,
        pool_size: int | None = None,
    ) -> None:
        # Autocommit: a read is one round trip, not BEGIN, SELECT and ROLLBACK.
        self._engine: AsyncEngine = make_engine(
            url,
            pool_pre_ping=False,
            isolation_level="AUTOCOMMIT",
            command_timeout_s=command_timeout_s,
            pool_timeout_s=pool_timeout_s,
            pool_size=pool_size,
        )
        self.flights = Flights()

    async def one(self, statement: Executable, params: Params = None) -> Row[Any] | None:
        rows = await self._rows(statement, params)
        return rows[0] if rows else None

    async def all(
        self, statement: Executable, params: Params = None, *, scan: bool = False
    ) -> list[Row[Any]]:
        # The database does the scanning; the event loop only waits for the answer. A
        # scan is its own statement: sharing it would hold others up for its length.
        if scan:
            return await self._retrying(statement, params, _stay)
        return await self._rows(statement, params)

    async def _rows(self, statement: Executable, params: Params) -> list[Row[Any]]:
        key = _cache_key(statement, params)
        if key is None:
            return await self._retrying(statement, params, _stay)
        # Identical reads waiting for a connection at once share one statement, sent
        # after all of them arrived (agency.db.read_flights says why that is exact).
        return await self.flights.rows(
            key, statement, lambda depart: self._retrying(statement, params, depart)
        )

    async def _retrying(
        self, statement: Executable, params: Params, depart: Callable[[], None]
    ) -> list[Row[Any]]:
        try:
            return await self._execute(statement, params, depart)
        except DBAPIError as err:
            if not err.connection_invalidated:
                raise
        # The pool has dropped the dead connection; a read is safe to repeat.
        return await self._execute(statement, params, depart)

    async def _execute(
        self, statement: Executable, params: Params, depart: Callable[[], None]
    ) -> list[Row[Any]]:
        async with self._engine.connect() as connection:
            depart()  # no read joins this one from here on: it is about to be sent
            result = await connection.execute(statement, params)
            return list(result.all())

    async def close(self) -> None:
        await self._engine.dispose()


def _stay() -> None:
    """A read that boards no flight has nothing to leave."""


def make_reader(
    url: str | URL,
    *,
    command_timeout_s: float | None = None,
    pool_timeout_s: float | None = None,
    pool_size: int | None = None,
) -> Reader:
    """The reader for `url`; the timeouts and the pool size apply to PostgreSQL (a SQLite
    read is bounded by its busy timeout, and each thread keeps one connection)."""
    if is_sqlite(url):
        return SQLiteReader(url)
    return AsyncReader(
        url,
        command_timeout_s=command_timeout_s,
        pool_timeout_s=pool_timeout_s,
        pool_size=pool_size,
    )
