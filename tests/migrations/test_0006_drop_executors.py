"""Revision 0006_drop_executors on SQLite and PostgreSQL: the executors table goes, and a
downgrade brings it back as 0001 made it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, inspect

from agency.db import downgrade_database, upgrade_database_async
from tests.migrations.test_0001_initial import on_connection

BEFORE = "0005_merge"
REVISION = "0006_drop_executors"


def executors_table(conn: Connection) -> dict[str, Any] | None:
    inspector = inspect(conn)
    if "executors" not in inspector.get_table_names():
        return None
    columns = {
        c["name"]: (type(c["type"]).__name__, c["nullable"])
        for c in inspector.get_columns("executors")
    }
    return {"columns": columns, "primary_key": inspector.get_pk_constraint("executors")}


async def test_executors_table_goes_and_comes_back_as_it_was(db_url: str) -> None:
    await upgrade_database_async(db_url, BEFORE)
    made_by_0001 = await on_connection(db_url, executors_table)
    assert made_by_0001 is not None
    assert set(made_by_0001["columns"]) == {
        "url",
        "status",
        "sandbox",
        "last_seen",
        "active_runs",
    }
    assert made_by_0001["primary_key"]["constrained_columns"] == ["url"]

    await upgrade_database_async(db_url, REVISION)
    assert await on_connection(db_url, executors_table) is None

    downgrade_database(db_url, BEFORE)
    assert await on_connection(db_url, executors_table) == made_by_0001

    await upgrade_database_async(db_url)
    assert await on_connection(db_url, executors_table) is None
