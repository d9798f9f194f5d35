"""The Alembic environment: offline SQL for each dialect and where the URL comes from."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from contextlib import redirect_stdout

import pytest
from alembic import command
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import DBAPIError

from agency.db import current_revision, head_revision, make_engine, upgrade_database_async
from agency.db.migrate import alembic_config, migrations_dir

REPO_ROOT = migrations_dir().parent
UPGRADE_TIMEOUT_S = 60


def offline_sql(url: str) -> str:
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        command.upgrade(alembic_config(url), "head", sql=True)
    return buffer.getvalue()


def test_offline_postgres_sql_has_tables_and_append_only_trigger() -> None:
    # A password with URL-encoded characters must not trip ConfigParser interpolation.
    sql = offline_sql("postgresql+asyncpg://agency:p%40ss%25@db.invalid:5432/agency")
    for table in ("tasks", "task_events", "audit_log", "verdicts", "executors"):
        assert f"CREATE TABLE {table}" in sql
    assert "DROP TABLE executors" in sql  # 0006: executors are Temporal workers now
    assert "CREATE FUNCTION audit_log_append_only()" in sql
    assert "BEFORE UPDATE OR DELETE ON audit_log" in sql
    assert "audit log is append-only" in sql
    assert "TIMESTAMP WITH TIME ZONE" in sql


def test_offline_sqlite_sql_has_triggers() -> None:
    sql = offline_sql("sqlite+aiosqlite:///unused.db")
    assert "CREATE TABLE audit_log" in sql
    assert "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log" in sql
    assert "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log" in sql
    assert "CREATE FUNCTION" not in sql


def test_url_falls_back_to_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # Driven without a URL (e.g. plain `alembic` tooling), env.py uses AGENCY_DATABASE_URL.
    monkeypatch.setenv("AGENCY_DATABASE_URL", "postgresql+asyncpg://u@settings.invalid/db")
    config = alembic_config("")
    config.attributes.clear()
    config.set_main_option("script_location", str(migrations_dir()))
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        command.upgrade(config, "head", sql=True)
    assert "CREATE FUNCTION audit_log_append_only()" in buffer.getvalue()


async def test_concurrent_upgrades_in_one_process(db_url: str) -> None:
    # The embedded stack upgrades from the API and the worker in the same process.
    await asyncio.wait_for(
        asyncio.gather(*(upgrade_database_async(db_url) for _ in range(3))), UPGRADE_TIMEOUT_S
    )
    assert current_revision(db_url) == head_revision()


# Each process imports everything first, says "ready", and upgrades on a go from the test,
# so that the upgrades really overlap instead of being spread out by start-up time.
UPGRADER = """
import sys
from agency.db import upgrade_database
print("ready", flush=True)
sys.stdin.readline()
upgrade_database(sys.argv[1])
"""


async def test_concurrent_upgrades_from_separate_processes(db_url: str) -> None:
    # In production the API and each worker upgrade at startup, as separate processes.
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            UPGRADER,
            db_url,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(3)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), UPGRADE_TIMEOUT_S)
            assert line.strip() == b"ready"
        for process in processes:
            assert process.stdin is not None
            process.stdin.write(b"go\n")
            await process.stdin.drain()
        results = await asyncio.wait_for(
            asyncio.gather(*(p.communicate() for p in processes)), UPGRADE_TIMEOUT_S
        )
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
    for process, (_, stderr) in zip(processes, results, strict=True):
        assert process.returncode == 0, stderr.decode()[-2000:]
    assert current_revision(db_url) == head_revision()


async def test_failed_upgrade_leaves_nothing_half_applied(db_url: str) -> None:
    # A table in the way makes the last CREATE TABLE of the revision fail.
    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE executors (url TEXT PRIMARY KEY)"))
    finally:
        await engine.dispose()
    with pytest.raises(DBAPIError):
        await upgrade_database_async(db_url)
    assert current_revision(db_url) is None

    def tables(conn: Connection) -> set[str]:
        return set(inspect(conn).get_table_names())

    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(tables) == {"executors"}
    finally:
        await engine.dispose()
