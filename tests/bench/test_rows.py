"""bench.rows's machinery at a tiny size: seeding writes exactly the rows asked for on
both databases, every measured request is answered 200, and the plans are read."""

from __future__ import annotations

import asyncio
import tempfile
from collections import Counter
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import inspect

from agency.db.engine import make_engine
from agency.db.migrate import upgrade_database
from bench import rows
from bench import task_rows as task_rows_module
from bench.explain import scans
from bench.procs import fresh_postgres
from bench.task_rows import NON_TERMINAL, now_utc, task_rows
from domain.phases import TERMINAL_PHASES


def test_rows_are_newest_first_with_the_newest_still_running() -> None:
    now = now_utc()
    made = list(task_rows(0, 400, now))
    ids = [row[0] for row in made]
    assert len(set(ids)) == 400
    created = [row[23] for row in made]
    assert created == sorted(created, reverse=True) and created[0] == now
    phases = [row[6] for row in made]
    assert not set(phases[:NON_TERMINAL]) & TERMINAL_PHASES
    assert set(phases[NON_TERMINAL:]) <= TERMINAL_PHASES
    assert Counter(phases[NON_TERMINAL:]).most_common(1)[0][0] == "completed"
    # Deterministic: a second run makes the same rows (same ids, same phases).
    assert [row[0] for row in task_rows(0, 400, now)] == ids


def test_scans_tells_a_table_scan_from_an_index_walk() -> None:
    assert scans("Limit\n  ->  Seq Scan on tasks  (cost=0.00..1.00 rows=1 width=1)")
    assert scans("SCAN tasks\nUSE TEMP B-TREE FOR ORDER BY")
    assert not scans("Limit\n  ->  Index Scan Backward using ix_tasks_created_at on tasks")
    assert not scans("SCAN tasks USING INDEX ix_tasks_tenant_created_at")
    assert not scans("Index Scan Backward using ix\n  Rows Removed by Filter: 908")
    assert scans("Index Scan Backward using ix\n  Rows Removed by Filter: 500001")
    assert scans("Index Only Scan using ix  (actual time=0.1..194.1 rows=333333 loops=3)")
    assert not scans("Index Scan using ix  (actual time=0.1..0.2 rows=140 loops=1)")


async def task_indexes(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            found = await connection.run_sync(lambda c: inspect(c).get_indexes("tasks"))
    finally:
        await engine.dispose()
    return {index["name"] for index in found}


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
async def test_seeding_grows_the_table_to_each_size(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The second load is "large": its indexes are dropped and built again after it.
    monkeypatch.setattr(task_rows_module, "REBUILD_INDEXES_FROM", 150)
    with tempfile.TemporaryDirectory() as tmp:
        async with rows.database(kind, rows.DEFAULT_ADMIN_URL, Path(tmp)) as url:
            await asyncio.to_thread(upgrade_database, url)
            indexes = await task_indexes(url)
            assert "ix_tasks_tenant_created_at" in indexes
            now = now_utc()
            await rows.seed(url, 0, 100, now)
            assert await rows.count_tasks(url) == 100
            await rows.seed(url, 100, 250, now)
            assert await rows.count_tasks(url) == 350
            assert await task_indexes(url) == indexes
            # The row half-way down is the 175th newest: its cursor starts the next page.
            task_id, cursor = await rows.task_at(url, 175)
            assert cursor.endswith(f".{task_id}")


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
async def test_every_measured_request_is_answered(kind: str) -> None:
    run = await rows.bench(kind, [200], clients=2, seconds=0.5)
    assert [s.rows for s in run.sizes] == [200]
    results = run.sizes[0].results
    assert len(results) == 5
    for result in results:
        assert result.requests > 0, result.name
        assert result.errors == 0, result.name
    assert len(run.sizes[0].kpi_query_ms) == rows.KPI_RUNS
    assert set(run.sizes[0].query_ms) == {p.name for p in run.plans}
    assert {p.name for p in run.plans} >= {"first page", "deep page (cursor)"}
    assert all(p.plan for p in run.plans)
    assert "| GET /api/v1/tasks?limit=50 |" in rows.report(run)


async def test_a_fresh_postgres_database_is_dropped_after() -> None:
    async with fresh_postgres() as url:
        await asyncio.to_thread(upgrade_database, url)
        name = url.rsplit("/", 1)[1]
    connection = await asyncpg.connect(rows.DEFAULT_ADMIN_URL)
    try:
        left = await connection.fetchval(
            "SELECT count(*) FROM pg_database WHERE datname = $1", name
        )
    finally:
        await connection.close()
    assert left == 0
