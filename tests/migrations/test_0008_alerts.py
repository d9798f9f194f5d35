"""Revision 0008 on SQLite and PostgreSQL: the alert tables up and down, and the alerts'
transitions append-only in the database itself."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import DBAPIError

from agency.db import downgrade_database, make_engine, upgrade_database_async
from tests.migrations.test_0001_initial import on_connection

TABLES = {"alerts", "silences", "alert_transitions", "alert_deliveries"}


def alert_tables(conn: Connection) -> set[str]:
    return TABLES & set(inspect(conn).get_table_names())


async def test_alert_tables_up_and_down(db_url: str) -> None:
    await upgrade_database_async(db_url, "0008")
    assert await on_connection(db_url, alert_tables) == TABLES
    downgrade_database(db_url, "0007_artifacts")
    assert await on_connection(db_url, alert_tables) == set()
    await upgrade_database_async(db_url)
    assert await on_connection(db_url, alert_tables) == TABLES


@pytest.mark.parametrize(
    "statement", ["UPDATE alert_transitions SET actor = 'mallory'", "DELETE FROM alert_transitions"]
)
async def test_transitions_refuse_update_and_delete(db_url: str, statement: str) -> None:
    await upgrade_database_async(db_url)
    engine = make_engine(db_url)
    insert = text(
        "INSERT INTO alert_transitions (alert_id, at, actor, action, state, reason, notify, detail)"
        " VALUES (1, CURRENT_TIMESTAMP, 'system', 'fired', 'firing', '', false, '{}')"
    )
    try:
        async with engine.begin() as conn:
            await conn.execute(insert)
        async with engine.begin() as conn:
            with pytest.raises(DBAPIError, match="append-only"):
                await conn.execute(text(statement))
        async with engine.connect() as conn:
            assert (
                await conn.execute(text("SELECT count(*) FROM alert_transitions"))
            ).scalar() == 1
    finally:
        await engine.dispose()
