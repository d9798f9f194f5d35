"""API read latency as the stored tasks grow 10k → 100k → 1M rows, on PostgreSQL (a fresh
database on the local server, dropped afterwards) or SQLite.

    .venv/bin/python -m bench.rows [--sizes 10000,100000,1000000] [--database sqlite]
                                   [--clients 10] [--seconds 5] [--no-explain]

The table grows in place (bench.task_rows: COPY or big executemany batches, the newest
tasks always near now), and at each size, with the API running (`python -m api`, as
bench.api starts it) and bench.load's keep-alive clients in a closed loop for
`--seconds` after a warm-up:

- GET /api/v1/tasks/{id}: a finished task (the projection alone);
- GET /api/v1/tasks?limit=50: the first page;
- GET /api/v1/tasks?phase=failed&limit=50: a filtered page (6% of tasks failed);
- GET /api/v1/tasks?limit=50&cursor=…: a page half-way down the table;
- GET /api/v1/metrics: the dashboard's KPIs (cached a second per API process, so its
  p50 is the cache; its p99 is closer to the queries) and, apart, the KPI queries
  themselves (api.kpis.task_figures) run uncached in this process.

At the largest size the plans of those queries (bench.explain): EXPLAIN (ANALYZE,
BUFFERS) on PostgreSQL, EXPLAIN QUERY PLAN on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from agency.asgi_thread import free_port
from agency.db import keys, task_pages, task_reads
from agency.db.engine import make_engine, session_maker
from agency.db.migrate import upgrade_database
from agency.db.models import Task
from agency.db.reads import make_reader
from agency.stack import stop_signals
from api.kpis import task_figures
from bench.api import wait_ready
from bench.explain import (
    Recorder,
    explain_postgres,
    explain_sqlite,
    scans,
    time_postgres,
    time_sqlite,
)
from bench.load import Result, build_request, run_load
from bench.procs import (
    DEFAULT_ADMIN_URL,
    Child,
    fresh_postgres,
    python_env,
    stop_all,
    temporal_child,
)
from bench.task_rows import TENANT, now_utc, seed_postgres, seed_sqlite

SIZES = (10_000, 100_000, 1_000_000)
KPI_RUNS = 20
QUERY_RUNS = 5
READY_TIMEOUT_S = 90.0


@dataclass
class SizeFigures:
    rows: int
    seed_s: float
    results: list[Result]
    kpi_query_ms: list[float]
    # Each read's statements alone, by name: median ms over QUERY_RUNS (no cache of ours).
    query_ms: dict[str, float] = field(default_factory=dict)


@dataclass
class Plan:
    name: str
    plan: str

    @property
    def scans(self) -> bool:
        return scans(self.plan)


@dataclass
class Run:
    database: str
    sizes: list[SizeFigures] = field(default_factory=list)
    plans: list[Plan] = field(default_factory=list)


async def count_tasks(url: str) -> int:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(select(func.count()).select_from(Task))).one()[0])
    finally:
        await engine.dispose()


async def task_at(url: str, offset: int) -> tuple[str, str]:
    """(id, keyset cursor) of the task at `offset` in the list's order (newest first):
    the cursor makes the next page start right after it."""
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    select(Task.id, Task.created_at)
                    .order_by(Task.created_at.desc(), Task.id.desc())
                    .offset(offset)
                    .limit(1)
                )
            ).one()
    finally:
        await engine.dispose()
    at: datetime = row.created_at
    micros = (at - datetime(1970, 1, 1, tzinfo=at.tzinfo)) // timedelta(microseconds=1)
    return row.id, f"{micros}.{row.id}"


async def admin_key(url: str) -> str:
    engine = make_engine(url)
    try:
        async with session_maker(engine)() as session:
            key = await keys.create_key(session, name="bench", role="admin", tenant=TENANT)
            await session.commit()
            return key.raw
    finally:
        await engine.dispose()


async def kpi_queries_ms(url: str, runs: int) -> list[float]:
    """The KPI snapshot's queries (api.kpis.task_figures) run `runs` times, uncached."""
    reader = make_reader(url)
    took: list[float] = []
    try:
        for _ in range(runs):
            started = time.perf_counter()
            await task_figures(reader, TENANT, now_utc())
            took.append((time.perf_counter() - started) * 1000)
    finally:
        await reader.close()
    return took


async def read_statements(task_id: str, cursor: str) -> list[tuple[str, Any, dict[str, Any]]]:
    """The statements behind each measured endpoint, as the read path builds them."""
    named: list[tuple[str, Any, dict[str, Any]]] = []

    async def capture(names: str | list[str], call: Any) -> None:
        """`names`: one per statement the call runs, in order."""
        recorder = Recorder()
        await call(recorder)
        labels = [names] if isinstance(names, str) else names
        # strict: a read that runs another number of statements must rename them here.
        pairs = zip(labels, recorder.statements, strict=True)
        named.extend((label, s, p) for label, (s, p) in pairs)

    await capture("task by id", lambda r: task_reads.read_task(r, task_id, tenant=TENANT))
    await capture("first page", lambda r: task_pages.list_tasks(r, tenant=TENANT, limit=50))
    await capture(
        "phase=failed page",
        lambda r: task_pages.list_tasks(r, tenant=TENANT, phase="failed", limit=50),
    )
    await capture(
        "deep page (cursor)",
        lambda r: task_pages.list_tasks(r, tenant=TENANT, limit=50, cursor=cursor),
    )
    await capture(
        ["KPI count by phase", "KPI finished in the last hour"],
        lambda r: task_figures(r, TENANT, now_utc()),
    )
    return named


async def explain_all(url: str, task_id: str, cursor: str) -> list[Plan]:
    plans = []
    for name, statement, params in await read_statements(task_id, cursor):
        if url.startswith("sqlite"):
            plan = await asyncio.to_thread(explain_sqlite, url, statement, params)
        else:
            plan = await explain_postgres(url, statement, params)
        plans.append(Plan(name, plan))
    return plans


@asynccontextmanager
async def database(kind: str, admin_url: str, root: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{root / 'agency.db'}"
        return
    async with fresh_postgres(admin_url) as url:
        yield url


async def seed(url: str, start: int, count: int, now: datetime) -> None:
    if url.startswith("sqlite"):
        await asyncio.to_thread(seed_sqlite, url, start, count, now)
    else:
        await seed_postgres(url, start, count, now)


def api_child(root: Path, url: str, temporal_port: int, port: int) -> Child:
    env = python_env(
        AGENCY_DATA_DIR=str(root / "data"),
        AGENCY_DATABASE_URL=url,
        AGENCY_TEMPORAL_ADDRESS=f"127.0.0.1:{temporal_port}",
        AGENCY_TASK_QUEUE=f"bench-{uuid.uuid4()}",
        AGENCY_API_HOST="127.0.0.1",
        AGENCY_API_PORT=str(port),
        AGENCY_RATE_LIMIT_ADMIN=str(10**9),
    )
    return Child("api", [sys.executable, "-m", "api"], env, root / "logs" / "api.log")


async def measure_size(
    rows: int, seed_s: float, url: str, port: int, key: str, clients: int, seconds: float
) -> SizeFigures:
    task_id, cursor = await task_at(url, rows // 2)
    auth = {"Authorization": f"Bearer {key}"}
    cases = [
        ("GET /api/v1/tasks/{id}", f"/api/v1/tasks/{task_id}"),
        ("GET /api/v1/tasks?limit=50", "/api/v1/tasks?limit=50"),
        ("GET /api/v1/tasks?phase=failed&limit=50", "/api/v1/tasks?phase=failed&limit=50"),
        ("GET /api/v1/tasks?limit=50&cursor=(half-way)", f"/api/v1/tasks?limit=50&cursor={cursor}"),
        ("GET /api/v1/metrics", "/api/v1/metrics"),
    ]
    results = []
    for name, path in cases:
        request = build_request("GET", path, auth)
        results.append(await run_load(name, port, request, 200, clients, seconds))
    return SizeFigures(
        rows,
        seed_s,
        results,
        await kpi_queries_ms(url, KPI_RUNS),
        await query_times(url, task_id, cursor),
    )


async def query_times(url: str, task_id: str, cursor: str) -> dict[str, float]:
    times = {}
    for name, statement, params in await read_statements(task_id, cursor):
        if url.startswith("sqlite"):
            took = await asyncio.to_thread(time_sqlite, url, statement, params, QUERY_RUNS)
        else:
            took = await time_postgres(url, statement, params, QUERY_RUNS)
        times[name] = statistics.median(took)
    return times


async def bench(
    kind: str,
    sizes: list[int],
    clients: int,
    seconds: float,
    admin_url: str = DEFAULT_ADMIN_URL,
    explain: bool = True,
) -> Run:
    root = Path(tempfile.mkdtemp(prefix="agency-bench-rows-"))
    (root / "data").mkdir()
    children: list[Child] = []
    run = Run(kind)
    try:
        temporal_port, api_port = free_port(), free_port()
        # The API asks Temporal for live state and the executors' census: give it one.
        temporal = temporal_child(temporal_port, root / "logs").start()
        children.append(temporal)
        async with database(kind, admin_url, root) as url:
            await asyncio.to_thread(upgrade_database, url)
            key = await admin_key(url)
            now = now_utc()
            api = api_child(root, url, temporal_port, api_port)
            seeded = 0
            for size in sorted(sizes):
                started = time.perf_counter()
                await seed(url, seeded, size - seeded, now)
                seed_s = time.perf_counter() - started
                seeded = size
                stored = await count_tasks(url)
                if stored != size:
                    raise RuntimeError(f"seeded {stored} tasks, meant {size}")
                if api.process is None:
                    children.append(api.start())
                    await asyncio.to_thread(
                        wait_ready, f"http://127.0.0.1:{api_port}/health", api.process
                    )
                print(f"{kind}: {size} tasks stored in {seed_s:.1f} s; measuring", flush=True)
                run.sizes.append(
                    await measure_size(size, seed_s, url, api_port, key, clients, seconds)
                )
                api.check()
            if explain:
                task_id, cursor = await task_at(url, seeded // 2)
                run.plans = await explain_all(url, task_id, cursor)
    finally:
        stop_all(reversed(children))
        shutil.rmtree(root, ignore_errors=True)
    return run


def report(run: Run) -> str:
    names = [r.name for r in run.sizes[0].results] if run.sizes else []
    lines = [
        f"Reads as stored tasks grow ({run.database}); p50 / p95 / p99 ms, req/s",
        "",
        "| endpoint | " + " | ".join(f"{s.rows:,} rows" for s in run.sizes) + " |",
        "| --- | " + " | ".join("---:" for _ in run.sizes) + " |",
    ]
    for i, name in enumerate(names):
        cells = []
        for s in run.sizes:
            r = s.results[i]
            if not r.latencies_ms:
                # Every answer came after the window closed: slower than the window itself.
                cells.append(f"no answer within {r.seconds:.0f} s")
                continue
            cells.append(
                f"{r.pct(50):.1f} / {r.pct(95):.1f} / {r.pct(99):.1f}, {r.rps:.0f}/s"
                + (f" ({r.errors} errors)" if r.errors else "")
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    kpi = [
        f"{statistics.median(s.kpi_query_ms):.1f} / {max(s.kpi_query_ms):.1f}" for s in run.sizes
    ]
    lines.append("| KPI queries uncached, in-process (p50 / max ms) | " + " | ".join(kpi) + " |")
    for name in run.sizes[0].query_ms if run.sizes else []:
        cells = [f"{s.query_ms.get(name, float('nan')):.2f}" for s in run.sizes]
        lines.append(f"| query alone: {name} (median ms) | " + " | ".join(cells) + " |")
    seeds = [f"{s.seed_s:.1f} s" for s in run.sizes]
    lines.append("| seeding up to this size | " + " | ".join(seeds) + " |")
    if run.plans:
        largest = run.sizes[-1].rows if run.sizes else 0
        lines += ["", f"Query plans at {largest:,} rows ({run.database})", ""]
        for plan in run.plans:
            verdict = "reads in proportion to the table" if plan.scans else "stops at the page"
            lines += [f"{plan.name}: {verdict}", "", "```", plan.plan, "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL, help="PostgreSQL (trust)")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--no-explain", action="store_true")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    started = time.monotonic()
    # SIGTERM (say, from `timeout`) unwinds like Ctrl-C: the children and the database go.
    with stop_signals():
        run = asyncio.run(
            bench(
                args.database,
                sizes,
                args.clients,
                args.seconds,
                args.admin_url,
                explain=not args.no_explain,
            )
        )
    print(report(run))
    print(f"\n(run took {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
