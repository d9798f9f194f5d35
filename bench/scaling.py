"""Governed-task throughput as the workflow workers go 1 → 2 → 4, each a process of its
own (`python -m agency.worker`), with as many executors (`python -m agency.executor`,
each its own name and host queue) beside them, against one Temporal dev server and one
PostgreSQL database; a raw one-activity workflow on the same server is the anchor.

    .venv/bin/python -m bench.scaling [--workers 1,2,4] [--tasks 40] [--concurrency 16]
                                      [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]

Each pass starts its workers and executors, waits until Temporal lists every one of
them as a poller, warms them up, then runs `--tasks` no-op governed tasks (bench.e2e's
task: every phase for real, a sandboxed `python3 -c pass`, an auto-mode apply) with
`--concurrency` in flight, the same offered load for every worker count, and stops
them. CPU per task is the CPU time (/proc/<pid>/stat, children included) the pass's
workers and executors, the dev server and the database's server processes spent over
the measured tasks, divided by the tasks: on a machine with few cores it says why more
processes stop paying.

A fresh database is created on the server `--admin-url` names (trust auth) and dropped
afterwards; every process and the temporary directory go with it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from agency.asgi_thread import free_port
from agency.db.engine import make_engine, session_maker
from agency.db.migrate import upgrade_database
from agency.readiness import port_answers, task_queue_probe
from agency.settings import Settings
from agency.stack import stop_signals
from agency.temporal_client import connect
from bench.breakdown import percentile
from bench.e2e import make_repo, timed
from bench.governed_task import noop_spec as noop_spec_of
from bench.governed_task import run_governed_task
from bench.procs import (
    DEFAULT_ADMIN_URL,
    Child,
    CpuMeter,
    backend_pids,
    fresh_postgres,
    python_env,
    stop_all,
    temporal_child,
    wait_for,
)
from bench.raw_workflow import RawWorkflow, bench_noop
from council.spec import TaskSpec

READY_TIMEOUT_S = 90.0
# A governed no-op task takes about a second alone; anything near this is stuck.
TASK_TIMEOUT_S = 120.0


@dataclass
class Pass:
    """One worker count's measured run."""

    label: str
    tasks: int
    wall_s: float
    latencies_s: list[float]
    # CPU seconds over the measured tasks: our processes (workers and executors, or the
    # bench process for the raw workflow), the dev server, PostgreSQL's server processes.
    cpu_agency_s: float = 0.0
    cpu_temporal_s: float = 0.0
    cpu_postgres_s: float = 0.0

    @property
    def per_s(self) -> float:
        return self.tasks / self.wall_s

    def cpu_per_task_ms(self, seconds: float) -> float:
        return 1000 * seconds / self.tasks


def noop_spec(repo: Path) -> TaskSpec:
    """bench.e2e's no-op task, with the agent these figures were measured with."""
    return noop_spec_of(repo, agent=["python3", "-c", "pass"])


def governed_task(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    specs: asyncio.Queue[TaskSpec],
) -> Callable[[int], Awaitable[None]]:
    """A function that runs one governed task to its end as the API would start it: its
    row first, then its workflow (bench.e2e does the same in-process).

    Each task in flight has a repository of its own, taken from `specs` (one spec per
    repository): concurrent `git worktree add` and `prune` on one repository race (git
    reads another run's half-made worktree entry and fails the task: "failed to read
    .git/worktrees/<id>/commondir"), which is a bug of the executor's to fix, not a cost
    of scale to measure."""

    async def run(_: int) -> None:
        spec = await specs.get()
        try:
            await _run_one(client, sessions, settings, spec)
        finally:
            specs.put_nowait(spec)

    return run


async def _run_one(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    spec: TaskSpec,
) -> None:
    """One task: its row, then its workflow to the end; anything but completed fails."""
    await run_governed_task(
        client, sessions, settings, spec, execution_timeout=timedelta(seconds=TASK_TIMEOUT_S)
    )


@dataclass
class Rig:
    """The long-lived parts of a run: the server, the database, the settings children get."""

    root: Path
    settings: Settings
    temporal: Child
    admin_url: str | None  # None: SQLite, no server processes to meter

    def child_env(self, **extra: str) -> dict[str, str]:
        s = self.settings
        return python_env(
            AGENCY_DATA_DIR=str(s.data_dir),
            AGENCY_DATABASE_URL=s.effective_database_url,
            AGENCY_TEMPORAL_ADDRESS=s.effective_temporal_address,
            AGENCY_TASK_QUEUE=s.task_queue,
            AGENCY_EXECUTOR_TASK_QUEUE=s.executor_task_queue,
            # Several processes of a kind on one machine: no fixed metrics ports to fight for.
            AGENCY_WORKER_METRICS_PORT="0",
            AGENCY_WORKER_SDK_METRICS_PORT="0",
            AGENCY_EXECUTOR_METRICS_PORT="0",
            AGENCY_EXECUTOR_SDK_METRICS_PORT="0",
            **extra,
        )

    def start_pool(self, count: int) -> list[Child]:
        """`count` executors and `count` workflow workers, started and polling."""
        logs = self.root / "logs"
        children: list[Child] = []
        try:
            for i in range(count):
                name = f"w{count}-{i}"
                env = self.child_env(AGENCY_EXECUTOR_NAME=f"host-{name}")
                children.append(
                    Child(
                        f"executor-{name}",
                        [sys.executable, "-m", "agency.executor"],
                        env,
                        logs / f"executor-{name}.log",
                    ).start()
                )
                children.append(
                    Child(
                        f"worker-{name}",
                        [sys.executable, "-m", "agency.worker"],
                        self.child_env(),
                        logs / f"worker-{name}.log",
                    ).start()
                )
            s = self.settings
            for child in children:
                queue, kind = (
                    (s.executor_task_queue, "activity")
                    if child.name.startswith("executor")
                    else (s.task_queue, "workflow")
                )
                probe = task_queue_probe(s, queue, kind)  # type: ignore[arg-type]
                wait_for(
                    lambda c=child, p=probe: p(c.pid) is None,
                    READY_TIMEOUT_S,
                    f"{child.name} polling {queue}",
                    child,
                )
        except BaseException:
            stop_all(children)
            raise
        return children

    async def database_pids(self) -> list[int]:
        if self.admin_url is None:
            return []
        name = make_url(self.settings.effective_database_url).database or ""
        return await backend_pids(self.admin_url, name)


async def measure(
    label: str,
    rig: Rig,
    run: Callable[[int], Awaitable[None]],
    tasks: int,
    concurrency: int,
    ours: list[int],
) -> Pass:
    """`tasks` runs of `run` at `concurrency`, with the CPU the processes spent."""
    meters = {name: CpuMeter() for name in ("agency", "temporal", "postgres")}
    meters["agency"].start(ours)
    meters["temporal"].start([rig.temporal.pid])
    meters["postgres"].start(await rig.database_pids())
    latencies, wall = await timed(run, tasks, concurrency)
    return Pass(
        label,
        tasks,
        wall,
        latencies,
        cpu_agency_s=meters["agency"].read(ours),
        cpu_temporal_s=meters["temporal"].read([rig.temporal.pid]),
        cpu_postgres_s=meters["postgres"].read(await rig.database_pids()),
    )


async def run_passes(
    rig: Rig, worker_counts: list[int], tasks: int, concurrency: int
) -> tuple[list[Pass], Pass]:
    """A pass per worker count, then the raw workflow on the same server."""
    s = rig.settings
    specs: asyncio.Queue[TaskSpec] = asyncio.Queue()
    for i in range(max(concurrency, 2 * max(worker_counts, default=1))):
        specs.put_nowait(noop_spec(make_repo(rig.root / f"repo-{i}")))
    client = await connect(s, "bench")
    engine = make_engine(s.effective_database_url)
    passes: list[Pass] = []
    try:
        governed = governed_task(client, session_maker(engine), s, specs)
        for count in worker_counts:
            pool = await asyncio.to_thread(rig.start_pool, count)
            try:
                # Warm-up: imports, first worktree, every process's connection pools.
                await timed(governed, 2 * count, 2 * count)
                label = f"{count} worker{'s' if count > 1 else ''} + {count} executor"
                label += "s" if count > 1 else ""
                done = await measure(
                    label, rig, governed, tasks, concurrency, [c.pid for c in pool]
                )
                for child in pool:
                    child.check()  # a pass that lost a process measured something else
                passes.append(done)
            finally:
                await asyncio.to_thread(stop_all, pool)
        raw_queue = f"{s.task_queue}-raw"

        async def raw(i: int) -> None:
            await client.execute_workflow(
                "BenchRaw", i, id=f"raw-{uuid.uuid4()}", task_queue=raw_queue, result_type=int
            )

        async with Worker(
            client, task_queue=raw_queue, workflows=[RawWorkflow], activities=[bench_noop]
        ):
            await timed(raw, concurrency, concurrency)
            # The raw workflow's worker is this process: its CPU includes the load generator.
            anchor = await measure(
                "raw one-activity workflow (in-process worker)",
                rig,
                raw,
                tasks,
                concurrency,
                [os.getpid()],
            )
    finally:
        await engine.dispose()
    return passes, anchor


def report(passes: list[Pass], anchor: Pass, concurrency: int) -> str:
    base = passes[0].per_s if passes else 1.0
    lines = [
        f"Throughput at concurrency {concurrency} ({anchor.tasks} tasks a pass)",
        "",
        "| processes | tasks/s | vs 1 worker | p50 latency (ms) | p95 latency (ms) "
        "| CPU ms/task: workers + executors | dev server | PostgreSQL | total |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for p in [*passes, anchor]:
        total = p.cpu_agency_s + p.cpu_temporal_s + p.cpu_postgres_s
        ratio = f"{p.per_s / base:.2f}" if p is not anchor else "-"
        lines.append(
            f"| {p.label} | {p.per_s:.2f} | {ratio} "
            f"| {statistics.median(p.latencies_s) * 1000:.0f} "
            f"| {percentile(p.latencies_s, 95) * 1000:.0f} "
            f"| {p.cpu_per_task_ms(p.cpu_agency_s):.0f} "
            f"| {p.cpu_per_task_ms(p.cpu_temporal_s):.0f} "
            f"| {p.cpu_per_task_ms(p.cpu_postgres_s):.0f} "
            f"| {p.cpu_per_task_ms(total):.0f} |"
        )
    return "\n".join(lines)


async def bench(
    worker_counts: list[int],
    tasks: int,
    concurrency: int,
    admin_url: str | None,
) -> tuple[list[Pass], Pass]:
    """The whole run; admin_url None runs on SQLite (tests; not what the figures use)."""
    root = Path(tempfile.mkdtemp(prefix="agency-bench-scaling-"))
    temporal: Child | None = None
    try:
        port = free_port()
        temporal = temporal_child(port, root / "logs").start()
        async with _database(admin_url, root) as url:
            settings = Settings(
                data_dir=root / "data",
                database_url=url,
                temporal_address=f"127.0.0.1:{port}",
                task_queue=f"bench-{uuid.uuid4()}",
                executor_task_queue=f"bench-executors-{uuid.uuid4()}",
            )
            settings.data_dir.mkdir(parents=True)
            await asyncio.to_thread(upgrade_database, url)
            await asyncio.to_thread(
                wait_for,
                lambda: port_answers("127.0.0.1", port),
                READY_TIMEOUT_S,
                "Temporal",
                temporal,
            )
            rig = Rig(root, settings, temporal, admin_url)
            return await run_passes(rig, worker_counts, tasks, concurrency)
    finally:
        if temporal is not None:
            temporal.stop()
        shutil.rmtree(root, ignore_errors=True)


@asynccontextmanager
async def _database(admin_url: str | None, root: Path) -> AsyncIterator[str]:
    if admin_url is None:
        yield f"sqlite+aiosqlite:///{root / 'agency.db'}"
        return
    async with fresh_postgres(admin_url) as url:
        yield url


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument("--tasks", type=int, default=40, help="measured tasks a pass")
    parser.add_argument("--concurrency", type=int, default=16, help="tasks in flight")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL, help="PostgreSQL (trust)")
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.workers.split(",")]
    admin = args.admin_url if args.database == "postgresql" else None
    started = time.monotonic()
    # SIGTERM (say, from `timeout`) unwinds like Ctrl-C: the children and the database go.
    with stop_signals():
        passes, anchor = asyncio.run(bench(counts, args.tasks, args.concurrency, admin))
    print(report(passes, anchor, args.concurrency))
    print(f"\n(run took {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
