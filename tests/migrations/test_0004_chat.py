"""Revision 0004_chat on SQLite and PostgreSQL: chat sessions and messages, up and down."""

from __future__ import annotations

from sqlalchemy import Connection, inspect

from agency.db import downgrade_database, upgrade_database_async
from tests.migrations.test_0001_initial import on_connection

TABLES = ("chat_sessions", "chat_messages")


def chat_tables(conn: Connection) -> dict[str, set[str]]:
    inspector = inspect(conn)
    present = set(inspector.get_table_names())
    return {t: {c["name"] for c in inspector.get_columns(t)} for t in TABLES if t in present}


def chat_constraints(conn: Connection) -> tuple[list[list[str]], set[str]]:
    inspector = inspect(conn)
    uniques = [u["column_names"] for u in inspector.get_unique_constraints("chat_messages")]
    indexes = {i["name"] for i in inspector.get_indexes("chat_sessions")}
    return uniques, indexes


async def test_chat_tables_up_and_down(db_url: str) -> None:
    await upgrade_database_async(db_url, "0004_chat")
    tables = await on_connection(db_url, chat_tables)
    assert tables["chat_sessions"] == {
        "id",
        "tenant",
        "created_by",
        "title",
        "model",
        "last_seq",
        "created_at",
        "updated_at",
    }
    assert {"session_id", "seq", "first_seq", "role", "content", "tokens"} <= tables[
        "chat_messages"
    ]
    uniques, indexes = await on_connection(db_url, chat_constraints)
    assert ["session_id", "seq"] in uniques
    assert "ix_chat_sessions_tenant_created_at" in indexes

    downgrade_database(db_url, "0001")
    assert await on_connection(db_url, chat_tables) == {}
    await upgrade_database_async(db_url)
    assert set(await on_connection(db_url, chat_tables)) == set(TABLES)
