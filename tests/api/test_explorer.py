"""/api/v1/explorer: read-only SQL for admins, on real SQLite and real PostgreSQL.

Each refusal (writes, PRAGMA, ATTACH, hidden columns, another tenant's rows, a query
that runs forever, one that would exhaust memory, several statements) is a 422 problem
naming its reason; allowed queries return the right rows, as JSON and CSV.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from agency.asgi_thread import free_port, serve_app
from agency.db import apply_record
from agency.db.engine import make_engine, session_maker
from agency.db.migrate import upgrade_database
from agency.settings import Settings
from api.app import create_app
from tests.agency.db.factories import add_task, record
from tests.support.db_fixtures import db_url, pg_url, sqlite_url
from tests.support.keys import bearer, make_key

__all__ = ["db_url", "pg_url", "sqlite_url"]

DEADLINE_S = 1.0


@dataclass
class Explorer:
    url: str
    settings: Settings
    backend: str
    admin: httpx.AsyncClient  # tenant "default", named "root"
    other: httpx.AsyncClient  # an admin of tenant "other"
    mine: list[str]  # ids of tenant default's tasks
    theirs: list[str]


async def _seed(url: str) -> tuple[list[str], list[str]]:
    engine = make_engine(url)
    try:
        async with session_maker(engine)() as session:
            mine = [(await add_task(session, title=f"mine {i}")).id for i in range(3)]
            theirs = [(await add_task(session, tenant="other", title="secret")).id]
            for task_id in mine + theirs:
                assert await apply_record(session, record(task_id, 1, phase="executing"))
    finally:
        await engine.dispose()
    return mine, theirs


@pytest.fixture
def served(tmp_path: Path, db_url: str) -> Iterator[tuple[str, Settings]]:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    settings = Settings(
        data_dir=data,
        database_url=None if db_url.startswith("sqlite") else db_url,
        temporal_address=f"127.0.0.1:{free_port()}",  # no Temporal: not needed here
        explorer_deadline_s=DEADLINE_S,
        explorer_max_rows=50,
    )
    upgrade_database(settings.effective_database_url)
    with serve_app(create_app(settings)) as url:
        yield url, settings


@pytest.fixture
async def ex(served: tuple[str, Settings]) -> AsyncIterator[Explorer]:
    url, settings = served
    db = settings.effective_database_url
    mine, theirs = await _seed(db)
    admin_key = await make_key(db, "root", "admin", "default")
    other_key = await make_key(db, "boss", "admin", "other")
    async with (
        httpx.AsyncClient(base_url=url, headers=bearer(admin_key), timeout=30) as admin,
        httpx.AsyncClient(base_url=url, headers=bearer(other_key), timeout=30) as other,
    ):
        backend = "sqlite" if db.startswith("sqlite") else "postgresql"
        yield Explorer(url, settings, backend, admin, other, mine, theirs)


async def run(http: httpx.AsyncClient, sql: str, **params: object) -> httpx.Response:
    return await http.post("/api/v1/explorer/query", json={"sql": sql, "params": params})


def refused(response: httpx.Response, kind: str = "refused") -> str:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"].endswith(f"/query-{kind}"), body
    assert body["errors"] and all(e["path"] == "sql" for e in body["errors"])
    return " ".join(e["message"] for e in body["errors"])


async def test_allowed_queries_return_the_tenants_rows(ex: Explorer) -> None:
    response = await run(ex.admin, "SELECT id, title FROM tasks ORDER BY title")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["columns"] == ["id", "title"] and body["truncated"] is False
    assert sorted(r[0] for r in body["rows"]) == sorted(ex.mine)
    assert body["elapsed_ms"] >= 0
    joined = await run(
        ex.admin,
        "SELECT t.title, count(a.id) AS n FROM tasks t JOIN audit_log a ON a.task_id = t.id "
        "WHERE t.title = :title GROUP BY t.title",
        title="mine 1",
    )
    assert joined.json()["rows"] == [["mine 1", 1]], joined.text
    keys = await run(ex.admin, "SELECT name, role FROM api_keys")
    assert keys.json()["rows"] == [["root", "admin"]]


async def test_another_tenant_is_never_seen(ex: Explorer) -> None:
    for sql in (
        "SELECT count(*) FROM tasks WHERE tenant = 'other'",
        f"SELECT count(*) FROM audit_log WHERE task_id = '{ex.theirs[0]}'",
        f"SELECT count(*) FROM task_events WHERE task_id = '{ex.theirs[0]}'",
        "SELECT count(*) FROM api_keys WHERE name = 'boss'",
    ):
        response = await run(ex.admin, sql)
        assert response.json()["rows"] == [[0]], (sql, response.text)
    theirs = await run(ex.other, "SELECT id, title FROM tasks")
    assert theirs.json()["rows"] == [[ex.theirs[0], "secret"]]
    escapes = [
        "SELECT count(*) FROM main.tasks",
        "SELECT count(*) FROM public.tasks" if ex.backend == "postgresql" else "SELECT 1",
        "SELECT set_config('agency.tenant', 'other', true), count(*) FROM tasks",
        "SELECT set_config('role', 'postgres', true)",
        "SELECT query_to_xml('select * from tasks', true, false, '')",
    ]
    for sql in escapes:
        response = await run(ex.admin, sql)
        if response.status_code == 200:
            # public.tasks is the same table on PostgreSQL: still the tenant's rows only.
            assert response.json()["rows"] in ([[3]], [[1]]), (sql, response.text)
        else:
            assert response.status_code == 422, (sql, response.text)


@pytest.mark.parametrize(
    ("sql", "says"),
    [
        ("INSERT INTO tasks (id) VALUES ('x')", "only reads"),
        ("UPDATE tasks SET title = 'x'", "only reads"),
        ("DELETE FROM api_keys", "only reads"),
        ("DROP TABLE tasks", "only reads"),
        ("CREATE TABLE x (y int)", "only reads"),
        ("ATTACH DATABASE '/tmp/x.db' AS x", ""),
        ("PRAGMA writable_schema = 1", ""),
        ("PRAGMA user_version = 7", ""),
        ("SELECT 1; SELECT 2", "one statement"),
        ("SELECT 1; DELETE FROM tasks", ""),
        ("WITH gone AS (DELETE FROM tasks RETURNING id) SELECT id FROM gone", ""),
        ("SELECT hash FROM api_keys", "hidden"),
        ("SELECT id, hash FROM api_keys", "hidden"),
    ],
)
async def test_writes_pragmas_and_hidden_columns_are_refused(
    ex: Explorer, sql: str, says: str
) -> None:
    response = await run(ex.admin, sql)
    assert response.status_code == 422, response.text
    kind = response.json()["type"].rsplit("/", 1)[1]
    # PostgreSQL's parser refuses SQLite's PRAGMA as a syntax error: still refused, never run.
    assert kind in ("query-refused", "query-failed"), response.text
    if says:
        assert says in refused(response), response.text
    count = await run(ex.admin, "SELECT count(*) FROM tasks")
    assert count.json()["rows"] == [[3]]  # nothing was written


async def test_runaway_queries_meet_the_deadline_or_the_caps(ex: Explorer) -> None:
    forever = (
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r"
    )
    assert "deadline" in refused(await run(ex.admin, forever), "deadline")
    big = "SELECT a.id, b.id, c.id, d.id FROM tasks a, tasks b, tasks c, tasks d, tasks e"
    capped = (await run(ex.admin, big)).json()
    assert capped["truncated"] is True and len(capped["rows"]) == 50
    if ex.backend == "sqlite":
        assert "not allowed" in refused(await run(ex.admin, "SELECT randomblob(1000000000)"))
        grow = (
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r LIMIT 200000) "
            "SELECT group_concat(n || 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx') FROM r"
        )
        # ~10 MB in one value: past the length limit (1 MB) long before the deadline.
        assert "exceed" in refused(await run(ex.admin, grow))
    else:
        blob = "SELECT string_agg(md5(n::text), '') FROM generate_series(1, 100000000) n"
        refused(await run(ex.admin, blob), "deadline")
        assert "not allowed" in refused(await run(ex.admin, "SELECT repeat('x', 1000000000)"))
        assert "not allowed" in refused(await run(ex.admin, "SELECT pg_sleep(60)"))


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        ("SELECT $1", {}),
        ("SELECT :x", {}),
        ("SELECT risk_tier + :x FROM tasks", {"x": "abc"}),
        ("SELECT :n", {"n": 2**70}),
        ("SELECT 1/0", {}),
        ("SELEC nothing", {}),
        ("", {}),
    ],
)
async def test_bad_sql_and_parameters_are_problems_never_500(
    ex: Explorer, sql: str, params: dict[str, object]
) -> None:
    response = await ex.admin.post("/api/v1/explorer/query", json={"sql": sql, "params": params})
    # SQLite takes text for a number and gives NULL for 1/0: answers, not errors.
    lenient = ex.backend == "sqlite" and sql in ("SELECT 1/0", "SELECT risk_tier + :x FROM tasks")
    assert response.status_code == (200 if lenient else 422), response.text
    if response.status_code == 422:
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_csv_and_json_downloads(ex: Explorer) -> None:
    sql = {"sql": "SELECT title, risk_tier FROM tasks ORDER BY title", "params": {}}
    as_csv = await ex.admin.post("/api/v1/explorer/query?format=csv", json=sql)
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in as_csv.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(as_csv.text)))
    assert rows == [["title", "risk_tier"], ["mine 0", "2"], ["mine 1", "2"], ["mine 2", "2"]]
    accept = await ex.admin.post("/api/v1/explorer/query", json=sql, headers={"Accept": "text/csv"})
    assert accept.text == as_csv.text
    as_json = await ex.admin.post("/api/v1/explorer/query?format=json", json=sql)
    assert as_json.json()["rows"][0] == ["mine 0", 2]


async def test_only_admins_may_explore(ex: Explorer) -> None:
    db = ex.settings.effective_database_url
    for role in ("viewer", "operator"):
        key = await make_key(db, f"a-{role}", role, "default")
        async with httpx.AsyncClient(base_url=ex.url, headers=bearer(key)) as http:
            assert (await run(http, "SELECT 1")).status_code == 403
            assert (await http.get("/api/v1/explorer/saved")).status_code == 403


async def test_saved_queries_are_shared_by_role(ex: Explorer) -> None:
    body = {"name": "open tasks", "sql": "SELECT id FROM tasks", "params": {"x": 1}}
    private = (await ex.admin.post("/api/v1/explorer/saved", json=body)).json()
    shared = await ex.admin.post(
        "/api/v1/explorer/saved", json={**body, "name": "shared", "shared_with": "admin"}
    )
    assert shared.status_code == 201, shared.text
    shared_id = shared.json()["id"]
    assert private["owner"] == "root" and private["shared_with"] is None
    mine = (await ex.admin.get("/api/v1/explorer/saved")).json()["items"]
    assert [q["name"] for q in mine] == ["open tasks", "shared"]

    db = ex.settings.effective_database_url
    colleague_key = await make_key(db, "colleague", "admin", "default")
    async with httpx.AsyncClient(base_url=ex.url, headers=bearer(colleague_key)) as colleague:
        seen = (await colleague.get("/api/v1/explorer/saved")).json()["items"]
        assert [q["name"] for q in seen] == ["shared"]
        assert (await colleague.get(f"/api/v1/explorer/saved/{private['id']}")).status_code == 404
        assert (await colleague.delete(f"/api/v1/explorer/saved/{shared_id}")).status_code == 403
    # Another tenant sees neither.
    assert (await ex.other.get("/api/v1/explorer/saved")).json()["items"] == []
    assert (await ex.other.get(f"/api/v1/explorer/saved/{shared_id}")).status_code == 404

    assert (await ex.admin.delete(f"/api/v1/explorer/saved/{shared_id}")).status_code == 204
    assert (await ex.admin.get(f"/api/v1/explorer/saved/{shared_id}")).status_code == 404
