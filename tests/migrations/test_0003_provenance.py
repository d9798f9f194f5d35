"""Revision 0003_provenance on SQLite and PostgreSQL: its tables come and go cleanly."""

from __future__ import annotations

from sqlalchemy import Connection, inspect

from agency.db import downgrade_database, make_engine, upgrade_database_async

TABLES = {"provenance_records", "waivers", "waiver_approvals"}


async def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:

            def names(sync: Connection) -> set[str]:
                return set(inspect(sync).get_table_names())

            return await conn.run_sync(names)
    finally:
        await engine.dispose()


async def uniques(url: str) -> dict[str, list[list[str]]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:

            def read(sync: Connection) -> dict[str, list[list[str]]]:
                inspector = inspect(sync)
                return {
                    t: [u["column_names"] for u in inspector.get_unique_constraints(t)]
                    for t in ("waivers", "waiver_approvals")
                }

            return await conn.run_sync(read)
    finally:
        await engine.dispose()


async def test_upgrade_creates_and_downgrade_removes_the_provenance_tables(db_url: str) -> None:
    await upgrade_database_async(db_url)
    assert await tables(db_url) >= TABLES | {"tasks", "audit_log"}
    found = await uniques(db_url)
    assert ["number"] in found["waivers"]
    assert ["waiver_id", "handle"] in found["waiver_approvals"]

    downgrade_database(db_url, "0001")
    left = await tables(db_url)
    assert not left & TABLES
    assert {"tasks", "audit_log"} <= left  # the initial schema is untouched

    await upgrade_database_async(db_url)
    assert await tables(db_url) >= TABLES
