"""The explorer's guards without the API: SQLite's authorizer and views on a real
migrated file, and the PostgreSQL statement check (the PostgreSQL side against a
server is tests/api/test_explorer.py and tests/agency/test_explorer_postgres.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from agency.db.migrate import upgrade_database
from agency.explorer.pg_check import check_postgres
from agency.explorer.result import ExplorerRefused, Limits
from agency.explorer.sqlite import quote_literal, run_sqlite

LIMITS = Limits(deadline_s=0.5, max_rows=10)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("explorer") / "agency.db"
    upgrade_database(f"sqlite+aiosqlite:///{path}")
    with sqlite3.connect(path) as connection:
        for key_id, tenant in (("a", "default"), ("b", "it's"), ("c", "other")):
            connection.execute(
                "INSERT INTO api_keys (id, prefix, hash, role, tenant, name, created_at) "
                "VALUES (?, ?, 'SECRET', 'admin', ?, 'n', '2026-01-01')",
                (key_id, f"aa_{key_id}", tenant),
            )
    connection.close()
    return path


def refused(db: Path, sql: str, tenant: str = "default", **params: object) -> ExplorerRefused:
    with pytest.raises(ExplorerRefused) as caught:
        run_sqlite(db, sql, params, tenant, LIMITS)
    return caught.value


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM pragma_table_info('api_keys')",
        "SELECT name FROM sqlite_master",
        "SELECT * FROM temp.sqlite_master",
        "SELECT (SELECT hash FROM main.api_keys LIMIT 1)",
        "SELECT id FROM api_keys UNION SELECT hash FROM main.api_keys",
        "SELECT load_extension('x')",
        "SELECT printf('%.1000000000c', 'x')",
        "SELECT zeroblob(1000000000)",
        "CREATE TEMP VIEW v AS SELECT 1",
        "DETACH DATABASE temp",
        "BEGIN",
        "VACUUM",
        "REINDEX",
    ],
)
def test_refused(db: Path, sql: str) -> None:
    assert refused(db, sql).kind == "refused"


def test_the_tenant_is_quoted_into_the_views(db: Path) -> None:
    assert quote_literal("it's") == "'it''s'"
    rows = run_sqlite(db, "SELECT id, tenant FROM api_keys", {}, "it's", LIMITS).rows
    assert rows == [["b", "it's"]]
    sneaky = run_sqlite(db, "SELECT id FROM api_keys", {}, "x' OR '1'='1", LIMITS).rows
    assert sneaky == []


def test_hidden_columns_say_so(db: Path) -> None:
    assert "hidden" in refused(db, "SELECT hash FROM api_keys").reasons[0]
    visible = run_sqlite(db, "SELECT * FROM api_keys", {}, "default", LIMITS)
    assert "hash" not in visible.columns and visible.rows[0][0] == "a"


def test_deadline_length_and_parameters(db: Path) -> None:
    forever = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT max(n) FROM r"
    assert refused(db, forever).kind == "deadline"
    doubling = "hex(" * 21 + "'x'" + ")" * 21  # 2 MB, past the 1 MB length limit
    assert "exceed" in refused(db, f"SELECT length({doubling})").reasons[0]
    assert refused(db, "SELECT :n", n=2**70).kind == "failed"
    assert refused(db, "SELECT :missing").kind == "failed"
    assert refused(db, "SELECT 1; SELECT 2").reasons == ["one statement at a time"]
    assert run_sqlite(db, "SELECT :n + 1", {"n": 41}, "default", LIMITS).rows == [[42]]


def test_the_file_is_left_as_it_was(db: Path) -> None:
    for sql in ("DELETE FROM api_keys", "UPDATE api_keys SET name = 'x'"):
        refused(db, sql)
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT count(*), min(name) FROM api_keys").fetchone() == (3, "n")
    connection.close()


@pytest.mark.parametrize(
    ("sql", "says"),
    [
        ("SELECT set_config('role', 'postgres', true)", "set_config"),
        ("SELECT pg_catalog.set_config('agency.tenant', 'x', true)", "set_config"),
        ("SELECT U&\"\\0073et_config\"('role', 'x', true)", "set_config"),
        ("SELECT query_to_xml('select 1', true, false, '')", "query_to_xml"),
        ("SELECT pg_sleep(10)", "pg_sleep"),
        ("SELECT pg_read_file('/etc/passwd')", "pg_read_file"),
        ("SELECT * FROM pg_roles", "pg_roles"),
        ("SELECT * FROM pg_catalog.pg_authid", "pg_authid"),
        ("WITH d AS (DELETE FROM tasks RETURNING id) SELECT id FROM d", "only reads"),
        ("SELECT * INTO copy FROM tasks", "only reads"),
        ("SELECT id FROM tasks FOR UPDATE", "only reads"),
        ("SET ROLE postgres", "only reads"),
        ("RESET ROLE", "only reads"),
        ("COPY tasks TO '/tmp/x'", "only reads"),
        ("SELECT 1; SELECT 2", "one statement"),
    ],
)
def test_postgres_statements_refused_before_they_run(sql: str, says: str) -> None:
    with pytest.raises(ExplorerRefused) as caught:
        check_postgres(sql)
    assert caught.value.kind == "refused"
    assert says in " ".join(caught.value.reasons)


def test_no_statement_is_refused() -> None:
    for sql in ("", "-- nothing", ";"):
        with pytest.raises(ExplorerRefused) as caught:
            check_postgres(sql)
        assert caught.value.reasons == ["no statement"]


def test_postgres_statements_allowed() -> None:
    check_postgres(
        "WITH recent AS (SELECT id, phase, created_at FROM tasks WHERE created_at > $1) "
        "SELECT phase, count(*), date_trunc('hour', max(created_at)), "
        "substring(min(id) from 1 for 8), coalesce(null, 1) FROM recent GROUP BY phase"
    )
    check_postgres("SELECT e.value FROM tasks, jsonb_array_elements(tasks.verdicts::jsonb) e")
