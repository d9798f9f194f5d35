"""Run Alembic programmatically: no alembic.ini, the scripts ship inside the `migrations`
package, and the database URL is handed over in memory (never through ConfigParser, which
would choke on the `%` of a URL-encoded password).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

import migrations
from agency.db.engine import is_sqlite, make_engine, sqlite_file

T = TypeVar("T")

# Key under which env.py finds the URL in `Config.attributes`.
URL_ATTRIBUTE = "agency.database_url"

# Alembic keeps the running migration in module-level proxies (`alembic.context`,
# `alembic.op`), so two commands in one process must not overlap, even on different
# databases (the embedded stack upgrades from the API and the worker alike).
_ALEMBIC_LOCK = threading.Lock()


def migrations_dir() -> Path:
    return Path(migrations.__file__).resolve().parent


def alembic_config(url: str) -> Config:
    config = Config()
    # ConfigParser interpolates "%"; the path is the only value that goes through it.
    config.set_main_option("script_location", str(migrations_dir()).replace("%", "%%"))
    config.attributes[URL_ATTRIBUTE] = url
    return config


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to completion from synchronous code, even if this thread already runs an
    event loop (then it runs on a fresh loop in a helper thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="agency-db-blocking")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def upgrade_database(url: str, revision: str = "head") -> None:
    """Bring the database at `url` up to `revision` (default: the newest).

    Safe to call from several processes at once (the migration transaction takes a lock
    in the database) and from several threads (serialised here, see _ALEMBIC_LOCK)."""
    with _ALEMBIC_LOCK:
        command.upgrade(alembic_config(url), revision)


def downgrade_database(url: str, revision: str = "base") -> None:
    """Step the database at `url` down to `revision` (default: empty)."""
    with _ALEMBIC_LOCK:
        command.downgrade(alembic_config(url), revision)


async def upgrade_database_async(url: str, revision: str = "head") -> None:
    # Alembic is synchronous and env.py starts its own event loop: keep it off ours.
    await asyncio.to_thread(upgrade_database, url, revision)


def head_revision() -> str | None:
    """The newest revision the shipped scripts define."""
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


def _read_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision_async(url: str) -> str | None:
    """The revision the database at `url` is at; None for an empty or missing database."""
    path = sqlite_file(url) if is_sqlite(url) else None
    if path is not None and not path.exists():
        # Asking must not create the file (SQLite would, on connect).
        return None
    engine = make_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_read_revision)
    finally:
        await engine.dispose()


def current_revision(url: str) -> str | None:
    """Synchronous form of `current_revision_async`, for the CLI."""
    return run_blocking(current_revision_async(url))
