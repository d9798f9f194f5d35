"""Async engines and session factories for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from agency.db.write_queue import WriteQueueSession

# How long a SQLite writer waits for another writer's lock before giving up (ms).
SQLITE_BUSY_TIMEOUT_MS = 5000
# asyncpg waits 60 s for a connection by default: a database host that drops packets
# would hold every caller that long. A reachable server connects in milliseconds.
POSTGRES_CONNECT_TIMEOUT_S = 5.0


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_file(url: str | URL) -> Path | None:
    """The database file a SQLite URL names, or None for in-memory databases."""
    parsed = make_url(url)
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


# Migrations may queue behind another process's migration; give them longer than queries.
SQLITE_MIGRATION_BUSY_TIMEOUT_MS = 60_000


def _sqlite_pragmas(*, foreign_keys: bool, busy_timeout_ms: int, autocommit_driver: bool) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        if autocommit_driver:
            # Stop the driver's own implicit transaction handling (it commits before DDL);
            # SQLAlchemy then emits BEGIN itself, see make_migration_engine.
            dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
            cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        finally:
            cursor.close()

    return on_connect


def _prepare_sqlite_file(url: str | URL) -> None:
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def make_engine(
    url: str | URL,
    *,
    connect_timeout_s: float = POSTGRES_CONNECT_TIMEOUT_S,
    command_timeout_s: float | None = None,
    pool_timeout_s: float | None = None,
    pool_size: int | None = None,
    **kwargs: Any,
) -> AsyncEngine:
    """An AsyncEngine for `url`; extra keyword arguments go to `create_async_engine`.

    For SQLite the file's directory is created and every connection gets WAL (readers,
    such as the API, proceed while a writer commits), foreign keys (off by default in
    SQLite) and a busy timeout (several processes share the file; contention waits).
    For PostgreSQL connections are checked before use, so an engine survives a restart,
    and the timeouts bound a caller's wait when the server does not answer: to connect,
    for each statement (None: no limit) and for a free pooled connection (None: the
    pool's default). `pool_size` (PostgreSQL): keep exactly that many connections and
    let callers queue for them beyond it, instead of SQLAlchemy's 5 kept plus 10 opened
    and closed again under load: a connection opened per checkout costs a server
    process, a TLS attempt and the driver's setup, several milliseconds, and loses its
    prepared statements (docs/benchmarks.md, the API).
    """
    if is_sqlite(url):
        _prepare_sqlite_file(url)
        engine = create_async_engine(url, **kwargs)
        pragmas = _sqlite_pragmas(
            foreign_keys=True, busy_timeout_ms=SQLITE_BUSY_TIMEOUT_MS, autocommit_driver=False
        )
        event.listen(engine.sync_engine, "connect", pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if pool_size is not None:
        kwargs.setdefault("pool_size", pool_size)
        kwargs.setdefault("max_overflow", 0)
    if pool_timeout_s is not None:
        kwargs.setdefault("pool_timeout", pool_timeout_s)
    kwargs["connect_args"] = _asyncpg_timeouts(
        url, kwargs.get("connect_args"), connect_timeout_s, command_timeout_s
    )
    return create_async_engine(url, **kwargs)


def _asyncpg_timeouts(
    url: str | URL,
    connect_args: dict[str, Any] | None,
    connect_timeout_s: float,
    command_timeout_s: float | None,
) -> dict[str, Any]:
    """`connect_args` with asyncpg's connect and statement timeouts (values given by the
    caller win); other drivers name them differently and are left alone."""
    args = dict(connect_args or {})
    if make_url(url).get_driver_name() != "asyncpg":
        return args
    args.setdefault("timeout", connect_timeout_s)
    if command_timeout_s is not None:
        args.setdefault("command_timeout", command_timeout_s)
    return args


def _begin_immediate(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_migration_engine(url: str | URL) -> AsyncEngine:
    """An engine for Alembic: one connection, no pool.

    On SQLite, DDL runs inside a real transaction (the driver would otherwise commit
    before each DDL statement, leaving half-applied migrations behind), the transaction
    starts with BEGIN IMMEDIATE so that concurrent migrators queue instead of racing,
    and foreign keys are off because batch migrations rebuild tables (env.py checks
    them before committing).
    """
    if not is_sqlite(url):
        # A connect timeout only: a migration's statements may rightly take long.
        connect_args = _asyncpg_timeouts(url, None, POSTGRES_CONNECT_TIMEOUT_S, None)
        return create_async_engine(url, poolclass=NullPool, connect_args=connect_args)
    _prepare_sqlite_file(url)
    engine = create_async_engine(url, poolclass=NullPool)
    pragmas = _sqlite_pragmas(
        foreign_keys=False,
        busy_timeout_ms=SQLITE_MIGRATION_BUSY_TIMEOUT_MS,
        autocommit_driver=True,
    )
    event.listen(engine.sync_engine, "connect", pragmas)
    event.listen(engine.sync_engine, "begin", _begin_immediate)
    return engine


def session_maker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: rows returned by the repository stay readable after commit
    # without lazy loads, which an AsyncSession cannot do implicitly. On SQLite a
    # process's writers queue for their turn (agency.db.write_queue).
    session_class = WriteQueueSession if is_sqlite(engine.url) else AsyncSession
    return async_sessionmaker(engine, class_=session_class, expire_on_commit=False)


async def ping(session: AsyncSession) -> None:
    """Raise if the database cannot answer a trivial query (the write path's health)."""
    await session.execute(text("SELECT 1"))
