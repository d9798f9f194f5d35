"""The query plans of the API's reads, for bench.rows: the very statements the read path
runs (captured from agency.db.task_pages, task_reads and api.kpis through a Reader that
records instead of reading), explained on the seeded database.

A plan line that reads a whole table (PostgreSQL `Seq Scan`, SQLite `SCAN tasks`) is what
grows with the table; an index scan that stops at the page's end does not.
"""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy import Row
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.sql.expression import Executable

from agency.db.reads import Params
from bench.procs import plain_dsn


@dataclass
class Recorder:
    """A Reader (agency.db.reads) that keeps each statement and its values and returns
    no rows: calling a read function with it tells which SQL that function runs."""

    statements: list[tuple[Executable, dict[str, Any]]] = field(default_factory=list)

    async def one(self, statement: Executable, params: Params = None) -> Row[Any] | None:
        self.statements.append((statement, dict(params or {})))
        return None

    async def all(
        self, statement: Executable, params: Params = None, *, scan: bool = False
    ) -> list[Row[Any]]:
        self.statements.append((statement, dict(params or {})))
        return []

    async def close(self) -> None:
        return None


def _compiled(statement: Executable, params: dict[str, Any], dialect: Any) -> tuple[str, list[Any]]:
    """The SQL text and positional values the driver would get (expanding IN lists and
    LIMIT rendered in place, as at execution)."""
    bound = statement.params(params)  # type: ignore[attr-defined]
    compiled = bound.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    values = compiled.construct_params()
    args = []
    for name in compiled.positiontup or []:
        # An expanded IN list's values (name_1_1, ...) have no bind of their own: they are
        # the strings of a phase list, which need no processing.
        bind = compiled.binds.get(name)
        processor = bind.type._cached_bind_processor(dialect) if bind is not None else None
        value = values[name]
        args.append(processor(value) if processor else value)
    return compiled.string, args


async def explain_postgres(url: str, statement: Executable, params: dict[str, Any]) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the statement with its values: the plan it ran."""
    from sqlalchemy.dialects.postgresql import asyncpg as pg_asyncpg

    sql, args = _compiled(statement, params, pg_asyncpg.dialect())
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        rows = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)
    finally:
        await connection.close()
    return "\n".join(row[0] for row in rows)


async def time_postgres(
    url: str, statement: Executable, params: dict[str, Any], runs: int
) -> list[float]:
    """Milliseconds of each of `runs` executions of the statement, rows fetched, on one
    connection: the database's part of a read, with no cache of ours in front."""
    from sqlalchemy.dialects.postgresql import asyncpg as pg_asyncpg

    sql, args = _compiled(statement, params, pg_asyncpg.dialect())
    connection = await asyncpg.connect(plain_dsn(url))
    took = []
    try:
        for _ in range(runs):
            started = time.perf_counter()
            await connection.fetch(sql, *args)
            took.append((time.perf_counter() - started) * 1000)
    finally:
        await connection.close()
    return took


def time_sqlite(url: str, statement: Executable, params: dict[str, Any], runs: int) -> list[float]:
    """As time_postgres, on SQLite (the API's reader would serve a repeat from its result
    cache while nothing is written: this is the cost of a read after a write)."""
    sql, args = _compiled(statement, params, sqlite.dialect(paramstyle="qmark"))
    connection = sqlite3.connect(f"file:{make_url(url).database}?mode=ro", uri=True)
    took = []
    try:
        for _ in range(runs):
            started = time.perf_counter()
            connection.execute(sql, args).fetchall()
            took.append((time.perf_counter() - started) * 1000)
    finally:
        connection.close()
    return took


def explain_sqlite(url: str, statement: Executable, params: dict[str, Any]) -> str:
    """EXPLAIN QUERY PLAN of the statement (SQLite shows the access path, not timings)."""
    sql, args = _compiled(statement, params, sqlite.dialect(paramstyle="qmark"))
    path = make_url(url).database
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = connection.execute(f"EXPLAIN QUERY PLAN {sql}", args).fetchall()
    finally:
        connection.close()
    return "\n".join(str(row[-1]) for row in rows)


# An index walk that throws away more rows than this to fill a page reads in proportion
# to the table, not to the page (a page of 50 at a 6% filter discards about 800).
MANY_FILTERED = 10_000
_REMOVED = re.compile(r"Rows Removed by Filter: (\d+)")
_ACTUAL = re.compile(r"actual time=[0-9.]+\.\.[0-9.]+ rows=(\d+) loops=(\d+)")


def scans(plan: str) -> bool:
    """Whether the plan reads rows in proportion to the table instead of stopping at the
    page's end: a sequential scan, a sort of every matching row (SQLite), or, by
    PostgreSQL's EXPLAIN ANALYZE counts, a step that handles or filters out MANY_FILTERED
    rows or more (an index-only count of every row is still a read of every row)."""
    lines = [line.strip() for line in plan.splitlines()]
    removed = sum(int(m.group(1)) for m in _REMOVED.finditer(plan))
    handled = max((int(m.group(1)) * int(m.group(2)) for m in _ACTUAL.finditer(plan)), default=0)
    return max(removed, handled) >= MANY_FILTERED or any(
        "Seq Scan on tasks" in line
        or line == "SCAN tasks"
        or line.startswith("USE TEMP B-TREE FOR ORDER BY")
        for line in lines
    )
