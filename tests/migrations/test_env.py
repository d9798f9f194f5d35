"""The Alembic environment: offline SQL for each dialect and where the URL comes from."""

from __future__ import annotations

import asyncio
import io
from contextlib import redirect_stdout

import pytest
from alembic import command
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import DBAPIError

from agency.db import current_revision, head_revision, make_engine, upgrade_database_async
from agency.db.migrate import alembic_config, migrations_dir


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


async def test_concurrent_upgrades_queue_instead_of_racing(db_url: str) -> None:
    # API and workers may all upgrade at startup against the same empty database.
    await asyncio.gather(*(upgrade_database_async(db_url) for _ in range(3)))
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
