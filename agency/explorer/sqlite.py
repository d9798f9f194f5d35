"""Run one explorer query on SQLite: a private read-only connection, tenant views, an
authorizer.

Per query: open the file read-only (`mode=ro`), build one TEMP VIEW per catalog table
that shows the allowed columns of the caller's tenant rows only (a temp view shadows the
main table of the same name), then `PRAGMA query_only`, the length limit, the deadline
(a progress handler) and the authorizer. From then on the authorizer allows a SELECT,
reads of the main tables only on behalf of one of those views (SQLite names the view
responsible for each read), the functions of `catalog.SQLITE_FUNCTIONS` and recursive
CTEs; it denies everything else (writes, ATTACH, PRAGMA, temp objects, `main.tasks`
directly, sqlite_schema) and remembers why, so the refusal can say it.
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from agency.explorer.catalog import HIDDEN, SQLITE_FUNCTIONS, TABLES
from agency.explorer.result import ExplorerRefused, Limits, QueryResult, RowCollector

# How many virtual machine steps between two looks at the clock.
PROGRESS_STEPS = 1000
# The authorizer's action codes by name (sqlite3's module also holds result codes, some
# with the same numbers, so the names are listed rather than collected).
_ACTIONS = {
    getattr(sqlite3, f"SQLITE_{name}"): name
    for name in [
        "CREATE_INDEX",
        "CREATE_TABLE",
        "CREATE_TEMP_INDEX",
        "CREATE_TEMP_TABLE",
        "CREATE_TEMP_TRIGGER",
        "CREATE_TEMP_VIEW",
        "CREATE_TRIGGER",
        "CREATE_VIEW",
        "DELETE",
        "DROP_INDEX",
        "DROP_TABLE",
        "DROP_TEMP_INDEX",
        "DROP_TEMP_TABLE",
        "DROP_TEMP_TRIGGER",
        "DROP_TEMP_VIEW",
        "DROP_TRIGGER",
        "DROP_VIEW",
        "INSERT",
        "PRAGMA",
        "READ",
        "SELECT",
        "TRANSACTION",
        "UPDATE",
        "ATTACH",
        "DETACH",
        "ALTER_TABLE",
        "REINDEX",
        "ANALYZE",
        "CREATE_VTABLE",
        "DROP_VTABLE",
        "FUNCTION",
        "SAVEPOINT",
        "RECURSIVE",
    ]
}
# A refusal names this many reasons at most (REINDEX would list every index).
MAX_REASONS = 5
_NO_SUCH_COLUMN = re.compile(r"no such column: (?:\w+\.)?(\w+)")


def quote_literal(value: str) -> str:
    """A SQL string literal: the only way a tenant reaches the view definitions (CREATE
    VIEW takes no parameters). Doubling quotes is SQLite's whole escaping rule; NUL is
    refused by the API before this."""
    if "\x00" in value:
        raise ValueError("NUL in a tenant name")
    return "'" + value.replace("'", "''") + "'"


def _views(connection: sqlite3.Connection, tenant: str) -> None:
    literal = quote_literal(tenant)
    for table in TABLES.values():
        columns = ", ".join(f'"{c}"' for c in table.columns)
        scope = table.scope.format(tenant=literal)
        connection.execute(
            f'CREATE TEMP VIEW "{table.name}" AS SELECT {columns} '
            f'FROM main."{table.name}" WHERE {scope}'
        )


class _Guard:
    """The authorizer and the deadline of one query."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.denied: list[str] = []
        self.timed_out = False

    def _deny(self, reason: str) -> int:
        if reason not in self.denied and len(self.denied) < MAX_REASONS:
            self.denied.append(reason)
        return sqlite3.SQLITE_DENY

    def authorize(
        self, action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None
    ) -> int:
        if action == sqlite3.SQLITE_SELECT or action == sqlite3.SQLITE_RECURSIVE:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_READ:
            if db == "main" and source in TABLES:
                return sqlite3.SQLITE_OK  # one of our views reading its own definition
            if db == "temp" and arg1 in TABLES:
                return sqlite3.SQLITE_OK
            if db is None:
                return sqlite3.SQLITE_OK  # a CTE or a subquery: no table of its own
            return self._deny(
                f"reading {db}.{arg1} directly is not allowed; "
                f"use the explorer's tables: {', '.join(sorted(TABLES))}"
            )
        if action == sqlite3.SQLITE_FUNCTION:
            if (arg2 or "").lower() in SQLITE_FUNCTIONS:
                return sqlite3.SQLITE_OK
            return self._deny(f"function {arg2}() is not allowed")
        writes = (sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE)
        if action in writes and (arg1 or "").startswith("sqlite_"):
            # SQLite's own schema table: DROP, CREATE, and the first use of a table-valued
            # function (pragma_table_info, json_each), which registers it there.
            return self._deny(
                "changing the schema is not allowed (nor table-valued functions such as "
                "pragma_table_info or json_each): the explorer only reads"
            )
        what = _ACTIONS.get(action, str(action)).lower().replace("_", " ")
        # SQLite's own bookkeeping tables (sqlite_temp_master) would only confuse.
        detail = " ".join(a for a in (arg1, arg2) if a and not a.startswith("sqlite_"))
        return self._deny(f"{what} {detail}".strip() + " is not allowed: the explorer only reads")

    def progress(self) -> int:
        if time.monotonic() > self.deadline:
            self.timed_out = True
            return 1
        return 0


def _refusal(exc: sqlite3.Error, guard: _Guard, limits: Limits) -> ExplorerRefused:
    message = str(exc)
    if guard.timed_out:
        return ExplorerRefused(
            "deadline", [f"the query ran past its deadline of {limits.deadline_s:g} s"]
        )
    if guard.denied:
        return ExplorerRefused("refused", list(guard.denied))
    if isinstance(exc, sqlite3.ProgrammingError) and "one statement" in message:
        return ExplorerRefused("refused", ["one statement at a time"])
    if "cannot modify" in message:
        return ExplorerRefused("refused", [f"{message}: the explorer only reads"])
    hidden = _NO_SUCH_COLUMN.search(message)
    if hidden and hidden.group(1).lower() in HIDDEN:
        return ExplorerRefused("refused", [HIDDEN[hidden.group(1).lower()]])
    if "too big" in message:
        return ExplorerRefused(
            "refused", [f"a value would exceed {limits.max_value_bytes} bytes ({message})"]
        )
    return ExplorerRefused("failed", [message])


def run_sqlite(
    path: Path, sql: str, params: dict[str, Any], tenant: str, limits: Limits
) -> QueryResult:
    """Blocking: call it in a thread (asyncio.to_thread)."""
    started = time.monotonic()
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise ExplorerRefused(
            "unavailable", [f"cannot open the database read-only: {exc}"]
        ) from None
    try:
        _views(connection, tenant)
        connection.execute("PRAGMA query_only=1")
        connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, limits.max_value_bytes)
        connection.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        guard = _Guard(started + limits.deadline_s)
        connection.set_authorizer(guard.authorize)
        connection.set_progress_handler(guard.progress, PROGRESS_STEPS)
        collector = RowCollector(limits)
        try:
            cursor = connection.execute(sql, params)
            columns = [d[0] for d in cursor.description or ()]
            if not columns:
                raise ExplorerRefused("refused", ["the statement returns no rows"])
            while batch := cursor.fetchmany(100):
                if not all(collector.add(row) for row in batch):
                    break
        except sqlite3.Error as exc:
            raise _refusal(exc, guard, limits) from None
        except OverflowError as exc:  # an integer parameter past 64 bits
            raise ExplorerRefused("failed", [f"a parameter does not fit: {exc}"]) from None
    finally:
        connection.close()
    elapsed = (time.monotonic() - started) * 1000
    return QueryResult(columns, collector.rows, collector.truncated, round(elapsed, 1))
