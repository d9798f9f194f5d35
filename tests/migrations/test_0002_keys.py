"""Revision 0002_keys on SQLite and PostgreSQL: the api_keys table, up and down."""

from __future__ import annotations

from sqlalchemy import Connection, inspect

from agency.db import downgrade_database, upgrade_database_async
from tests.migrations.test_0001_initial import on_connection


def key_table(conn: Connection) -> tuple[set[str], set[str]]:
    inspector = inspect(conn)
    if "api_keys" not in inspector.get_table_names():
        return set(), set()
    columns = {c["name"] for c in inspector.get_columns("api_keys")}
    indexes = {i["name"] for i in inspector.get_indexes("api_keys")}
    return columns, indexes


async def test_api_keys_table_up_and_down(db_url: str) -> None:
    await upgrade_database_async(db_url, "0002_keys")
    columns, indexes = await on_connection(db_url, key_table)
    assert columns == {
        "id",
        "prefix",
        "hash",
        "role",
        "tenant",
        "name",
        "created_at",
        "revoked_at",
        "last_used_at",
    }
    assert "ix_api_keys_tenant_created_at" in indexes

    downgrade_database(db_url, "0001")
    assert await on_connection(db_url, key_table) == (set(), set())
    await upgrade_database_async(db_url)
    assert (await on_connection(db_url, key_table))[0]
