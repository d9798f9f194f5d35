"""The initial revision on SQLite and PostgreSQL: schema, round trip, append-only audit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel

import agency.db.models  # noqa: F401  (registers the tables)
from agency.db import (
    current_revision,
    downgrade_database,
    head_revision,
    make_engine,
    upgrade_database_async,
)

APPEND_ONLY = "audit log is append-only"
# At head; 0001 also made `executors`, which 0006 drops (test_0006_drop_executors).
TABLES = {"tasks", "task_events", "audit_log", "verdicts"}


async def on_connection(url: str, fn: Callable[[Connection], Any]) -> Any:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(fn)
    finally:
        await engine.dispose()


def table_names(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


def index_names(conn: Connection) -> dict[str, set[str]]:
    inspector = inspect(conn)
    return {t: {i["name"] for i in inspector.get_indexes(t)} for t in TABLES}


def unique_constraints(conn: Connection) -> dict[str, list[list[str]]]:
    inspector = inspect(conn)
    return {t: [u["column_names"] for u in inspector.get_unique_constraints(t)] for t in TABLES}


def schema_differences(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return compare_metadata(context, SQLModel.metadata)


async def test_upgrade_creates_the_schema_and_downgrade_removes_it(db_url: str) -> None:
    await upgrade_database_async(db_url)
    assert current_revision(db_url) == head_revision()
    tables = await on_connection(db_url, table_names)
    assert tables >= TABLES | {"alembic_version"}
    assert tables - {"alembic_version"} == set(SQLModel.metadata.tables)

    indexes = await on_connection(db_url, index_names)
    assert {
        "ix_tasks_tenant_created_at",
        "ix_tasks_phase",
        "ix_tasks_mode",
        "ix_tasks_risk_tier",
    } <= indexes["tasks"]
    uniques = await on_connection(db_url, unique_constraints)
    assert ["task_id", "seq"] in uniques["task_events"]
    assert ["task_id", "seq"] in uniques["audit_log"]

    downgrade_database(db_url, "base")
    assert current_revision(db_url) is None
    assert await on_connection(db_url, table_names) <= {"alembic_version"}
    # And back up again: the downgrade left nothing behind that blocks a fresh upgrade.
    await upgrade_database_async(db_url)
    assert await on_connection(db_url, table_names) >= TABLES


async def test_migrations_match_the_table_models(db_url: str) -> None:
    # Every table model is created by a migration exactly as declared: no drift.
    await upgrade_database_async(db_url)
    assert await on_connection(db_url, schema_differences) == []


INSERT_AUDIT = text(
    "INSERT INTO audit_log (task_id, seq, at, actor, action, phase, detail) "
    "VALUES (:task_id, :seq, :at, 'alice', 'approve', 'awaiting_approval', '{}')"
)


async def insert_audit(url: str, seq: int) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                INSERT_AUDIT, {"task_id": "t-1", "seq": seq, "at": datetime.now(UTC)}
            )
    finally:
        await engine.dispose()


async def audit_count(url: str) -> int:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(text("SELECT count(*) FROM audit_log")) or 0)
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET actor = 'mallory'",
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE seq = 1",
    ],
)
async def test_audit_log_refuses_update_and_delete(db_url: str, statement: str) -> None:
    await upgrade_database_async(db_url)
    await insert_audit(db_url, 1)
    await insert_audit(db_url, 2)  # INSERT keeps working: the log is append-only
    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            with pytest.raises(DBAPIError, match=APPEND_ONLY):
                await conn.execute(text(statement))
    finally:
        await engine.dispose()
    assert await audit_count(db_url) == 2


async def test_audit_log_refuses_truncate_on_postgres(pg_url: str) -> None:
    await upgrade_database_async(pg_url)
    await insert_audit(pg_url, 1)
    engine = make_engine(pg_url)
    try:
        async with engine.begin() as conn:
            with pytest.raises(DBAPIError, match=APPEND_ONLY):
                await conn.execute(text("TRUNCATE audit_log"))
    finally:
        await engine.dispose()
    assert await audit_count(pg_url) == 1


async def test_downgrade_removes_the_postgres_trigger_function(pg_url: str) -> None:
    await upgrade_database_async(pg_url)
    query = text("SELECT count(*) FROM pg_proc WHERE proname = 'audit_log_append_only'")

    async def functions() -> int:
        engine = make_engine(pg_url)
        try:
            async with engine.connect() as conn:
                return int(await conn.scalar(query) or 0)
        finally:
            await engine.dispose()

    assert await functions() == 1
    downgrade_database(pg_url, "base")
    assert await functions() == 0
