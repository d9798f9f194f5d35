"""Migration 0009 on PostgreSQL: the explorer's role sees exactly the catalog's columns,
the role survives a second database and a downgrade, and the application's own
non-owner roles are not hindered by row-level security."""

from __future__ import annotations

import asyncpg

from agency.db.migrate import downgrade_database, upgrade_database
from agency.explorer.catalog import TABLES
from tests.support.db_fixtures import pg_url
from tests.support.postgres import fresh_postgres_database, plain_dsn

__all__ = ["pg_url"]


async def _granted(url: str) -> dict[str, set[str]]:
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        rows = await connection.fetch(
            "SELECT table_name, column_name FROM information_schema.column_privileges "
            "WHERE grantee = 'agency_explorer' AND privilege_type = 'SELECT'"
        )
    finally:
        await connection.close()
    granted: dict[str, set[str]] = {}
    for row in rows:
        granted.setdefault(row["table_name"], set()).add(row["column_name"])
    return granted


async def test_the_grants_are_the_catalog(pg_url: str) -> None:
    upgrade_database(pg_url)
    granted = await _granted(pg_url)
    assert granted == {name: set(t.columns) for name, t in TABLES.items()}
    assert "hash" not in granted["api_keys"]
    # A second database of the same cluster: the role exists already, not an error.
    with fresh_postgres_database() as second:
        upgrade_database(second)
        assert await _granted(second) == granted
    downgrade_database(pg_url, "0007_artifacts")
    assert await _granted(pg_url) == {}
    upgrade_database(pg_url)
    assert await _granted(pg_url) == granted


async def test_row_security_leaves_other_roles_alone(pg_url: str) -> None:
    upgrade_database(pg_url)
    connection = await asyncpg.connect(plain_dsn(pg_url))
    role = "agency_t_app_" + pg_url.rsplit("_", 1)[-1][:12]
    try:
        await connection.execute(f"CREATE ROLE {role} NOLOGIN")
        await connection.execute(f"GRANT SELECT, INSERT ON api_keys TO {role}")
        await connection.execute(
            "INSERT INTO api_keys (id, prefix, hash, role, tenant, name, created_at) "
            "VALUES ('a', 'aa_a', 'h', 'admin', 'default', 'x', now()), "
            "('b', 'aa_b', 'h', 'admin', 'other', 'y', now())"
        )
        async with connection.transaction():
            # A non-owner application role sees every row, as before migration 0009.
            await connection.execute(f"SET LOCAL ROLE {role}")
            assert await connection.fetchval("SELECT count(*) FROM api_keys") == 2
        async with connection.transaction():
            await connection.execute("SET LOCAL ROLE agency_explorer")
            await connection.execute("SELECT set_config('agency.tenant', 'other', true)")
            assert [r["id"] for r in await connection.fetch("SELECT id FROM api_keys")] == ["b"]
        async with connection.transaction():
            await connection.execute("SET LOCAL ROLE agency_explorer")
            # No tenant set: no rows at all.
            assert await connection.fetchval("SELECT count(id) FROM api_keys") == 0
    finally:
        await connection.execute(f"REVOKE ALL ON api_keys FROM {role}")
        await connection.execute(f"DROP ROLE IF EXISTS {role}")
        await connection.close()
