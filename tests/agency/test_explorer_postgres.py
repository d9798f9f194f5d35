"""Migration 0009 on PostgreSQL: the explorer's role sees exactly the catalog's columns,
the role survives a second database and a downgrade, and the application's own
non-owner roles are not hindered by row-level security."""

from __future__ import annotations

import secrets

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from agency.db.engine import make_engine, session_maker
from agency.db.migrate import downgrade_database, upgrade_database
from agency.explorer.catalog import TABLES
from agency.explorer.postgres import run_postgres
from agency.explorer.result import ExplorerRefused, Limits
from tests.agency.db.factories import add_task
from tests.support.db_fixtures import pg_url
from tests.support.postgres import admin_url, fresh_postgres_database, plain_dsn

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
    downgrade_database(pg_url, "0008")
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


async def _admin_sql(*statements: str) -> None:
    connection = await asyncpg.connect(plain_dsn(admin_url()))
    try:
        for sql in statements:
            await connection.execute(sql)
    finally:
        await connection.close()


@pytest.mark.parametrize("may_create_roles", [True, False])
async def test_an_application_user_that_is_no_superuser(may_create_roles: bool) -> None:
    """As in production: the application's own login role owns the tables. With
    CREATEROLE the migration makes it a member of agency_explorer and the explorer works;
    without, the migration warns and the explorer says it is unavailable (503), never
    reading as the owner."""
    user = f"agency_t_app_{secrets.token_hex(6)}"
    await _admin_sql(
        f"CREATE ROLE {user} LOGIN {'CREATEROLE' if may_create_roles else ''}",
        # The role may already exist (another test made it); it may not yet.
        "DO $$ BEGIN CREATE ROLE agency_explorer NOLOGIN; "
        "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
    )
    try:
        with fresh_postgres_database() as url:
            database = make_url(url).database
            await _admin_sql(f'ALTER DATABASE "{database}" OWNER TO {user}')
            as_user = make_url(url).set(username=user, password=None)
            user_url = as_user.render_as_string(hide_password=False)
            upgrade_database(user_url)
            engine = make_engine(user_url)
            try:
                async with session_maker(engine)() as session:
                    await add_task(session, title="ours")
                    await add_task(session, title="theirs", tenant="other")
            finally:
                await engine.dispose()
            limits = Limits(deadline_s=2)
            sql = "SELECT title FROM tasks"
            if may_create_roles:
                result = await run_postgres(user_url, sql, {}, "default", limits)
                assert result.rows == [["ours"]]
            else:
                with pytest.raises(ExplorerRefused) as caught:
                    await run_postgres(user_url, sql, {}, "default", limits)
                assert caught.value.kind == "unavailable", caught.value.reasons
                assert "agency_explorer" in caught.value.reasons[0]
    finally:
        await _admin_sql(f"DROP ROLE IF EXISTS {user}")
