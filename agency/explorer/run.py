"""Run an explorer query on whichever database the settings name."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from agency.db.engine import is_sqlite, sqlite_file
from agency.explorer.postgres import run_postgres
from agency.explorer.result import ExplorerRefused, Limits, QueryResult
from agency.explorer.sqlite import run_sqlite
from agency.settings import Settings

# Parameter values a query may take: what JSON and a command line can say.
ParamValue = str | int | float | bool | None

# SQLite queries run on threads of their own, at most this many at once: a few slow
# explorer queries must not take the threads the rest of the API hands work to
# (asyncio.to_thread's default pool). More wait their turn.
SQLITE_WORKERS = 2
_sqlite_pool = ThreadPoolExecutor(max_workers=SQLITE_WORKERS, thread_name_prefix="explorer")


def limits_from(settings: Settings) -> Limits:
    return Limits(
        deadline_s=settings.explorer_deadline_s,
        max_rows=settings.explorer_max_rows,
        max_bytes=settings.explorer_max_bytes,
    )


async def run_query(
    settings: Settings, sql: str, params: dict[str, Any], tenant: str
) -> QueryResult:
    url = settings.effective_database_url
    limits = limits_from(settings)
    if is_sqlite(url):
        path = sqlite_file(url)
        if path is None:
            raise ExplorerRefused("unavailable", ["the explorer needs a database file"])
        # sqlite3 blocks: never on the event loop.
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            _sqlite_pool, run_sqlite, path, sql, params, tenant, limits
        )
    return await run_postgres(url, sql, params, tenant, limits)
