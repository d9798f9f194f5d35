"""Run one explorer query on PostgreSQL as the SELECT-only role `agency_explorer`.

Migration 0009 made the role (NOLOGIN), granted it SELECT on the catalog's columns only,
and put row-level security on every table it can read: a restrictive policy for this role
alone that keeps the rows of the tenant in `agency.tenant`. Here, per query, on a
connection of its own: a READ ONLY transaction, `SET LOCAL ROLE agency_explorer`, the
tenant and a statement timeout set local to that transaction, then the statement,
checked first by `pg_check` (which keeps the role and the tenant from being changed
back), fetched through a cursor up to the row cap. The transaction is always rolled back.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.engine import make_url

from agency.explorer.catalog import HIDDEN
from agency.explorer.pg_check import check_postgres
from agency.explorer.result import ExplorerRefused, Limits, QueryResult, RowCollector

ROLE = "agency_explorer"
CONNECT_TIMEOUT_S = 5.0
# Fetched per round trip from the cursor.
BATCH = 200


def positional(sql: str, params: dict[str, Any]) -> tuple[str, list[Any]]:
    """`:name` parameters (as on SQLite) to asyncpg's `$n`, with their values in order."""
    compiled = text(sql).compile(dialect=asyncpg_dialect.dialect())
    names = list(compiled.positiontup or ())
    missing = sorted({n for n in names if n not in params})
    if missing:
        raise ExplorerRefused("failed", [f"missing parameter(s): {', '.join(missing)}"])
    return compiled.string, [params[n] for n in names]


async def _connect(url: str, limits: Limits) -> asyncpg.Connection:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        # command_timeout: a bound on the client's wait too, should the server stop
        # answering (statement_timeout is the server's own bound).
        return await asyncpg.connect(
            dsn, timeout=CONNECT_TIMEOUT_S, command_timeout=limits.deadline_s + CONNECT_TIMEOUT_S
        )
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise ExplorerRefused("unavailable", [f"the database is unavailable: {exc}"]) from None


async def _enter(connection: asyncpg.Connection, tenant: str, limits: Limits) -> None:
    try:
        await connection.execute(f"SET LOCAL ROLE {ROLE}")
    except asyncpg.PostgresError as exc:
        raise ExplorerRefused(
            "unavailable",
            [f"the explorer's role {ROLE} is not usable here ({exc}); see docs/explorer.md"],
        ) from None
    timeout_ms = str(max(1, int(limits.deadline_s * 1000)))
    # set_config(…, true): local to this transaction, and the tenant travels as a value.
    await connection.execute(
        "SELECT set_config('agency.tenant', $1, true), "
        "set_config('statement_timeout', $2, true), "
        "set_config('standard_conforming_strings', 'on', true)",
        tenant,
        timeout_ms,
    )


async def _end(connection: asyncpg.Connection, transaction: Any) -> None:
    """Roll back (nothing was written, but say so) and close; a connection that does not
    answer is dropped: the server then aborts the transaction by itself."""
    try:
        await transaction.rollback()
        await asyncio.wait_for(connection.close(), CONNECT_TIMEOUT_S)
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        connection.terminate()


def _refusal(exc: asyncpg.PostgresError, limits: Limits) -> ExplorerRefused:
    if isinstance(exc, asyncpg.QueryCanceledError):
        return ExplorerRefused(
            "deadline", [f"the query ran past its deadline of {limits.deadline_s:g} s"]
        )
    if isinstance(exc, asyncpg.InsufficientPrivilegeError | asyncpg.ReadOnlySQLTransactionError):
        # Column grants refuse `*` over a table with a hidden column: say which.
        hidden = [why for why in HIDDEN.values() if "api_keys" in str(exc)]
        return ExplorerRefused(
            "refused",
            [f"{exc}: hidden columns, other tables and writes are refused", *hidden],
        )
    if isinstance(exc, asyncpg.ProgramLimitExceededError | asyncpg.OutOfMemoryError):
        return ExplorerRefused("refused", [str(exc)])
    return ExplorerRefused("failed", [str(exc)])


async def run_postgres(
    url: str, sql: str, params: dict[str, Any], tenant: str, limits: Limits
) -> QueryResult:
    started = time.monotonic()
    statement, args = positional(sql, params)
    check_postgres(statement)
    connection = await _connect(url, limits)
    collector = RowCollector(limits)
    try:
        transaction = connection.transaction(readonly=True)
        await transaction.start()
        try:
            await _enter(connection, tenant, limits)
            prepared = await connection.prepare(statement)
            columns = [a.name for a in prepared.get_attributes()]
            if not columns:
                raise ExplorerRefused("refused", ["the statement returns no rows"])
            cursor = await prepared.cursor(*args)
            while batch := await cursor.fetch(BATCH):
                if not all(collector.add(tuple(row)) for row in batch):
                    break
        except asyncpg.PostgresError as exc:
            raise _refusal(exc, limits) from None
        except TimeoutError:
            raise ExplorerRefused(
                "deadline", [f"the database did not answer within {limits.deadline_s:g} s"]
            ) from None
        except asyncpg.InterfaceError as exc:
            # `$1` written by hand, say: parameters are `:name`.
            raise ExplorerRefused("failed", [f"{exc} (parameters are written :name)"]) from None
        except (asyncpg.DataError, ValueError, TypeError) as exc:
            # asyncpg refuses a parameter that does not fit its column's type.
            raise ExplorerRefused("failed", [f"a parameter does not fit: {exc}"]) from None
        finally:
            await _end(connection, transaction)
    finally:
        if not connection.is_closed():
            connection.terminate()
    elapsed = (time.monotonic() - started) * 1000
    return QueryResult(columns, collector.rows, collector.truncated, round(elapsed, 1))
