"""bench.scaling's machinery at the smallest size: one worker and one executor as
processes, two governed tasks, the raw anchor; every task completes, nothing is left."""

from __future__ import annotations

import os

import asyncpg

from bench import scaling
from bench.procs import DATABASE_PREFIX, DEFAULT_ADMIN_URL, CpuMeter, cpu_seconds


async def bench_databases() -> set[str]:
    connection = await asyncpg.connect(DEFAULT_ADMIN_URL)
    try:
        rows = await connection.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", f"{DATABASE_PREFIX}%"
        )
    finally:
        await connection.close()
    return {row["datname"] for row in rows}


def test_cpu_seconds_reads_proc_and_a_meter_counts_from_its_start() -> None:
    assert cpu_seconds(os.getpid()) > 0
    assert cpu_seconds(2**22 + 1) == 0.0  # above pid_max's default: no such process
    meter = CpuMeter()
    meter.start([os.getpid()])
    sum(i * i for i in range(200_000))  # some CPU of our own
    assert meter.read([os.getpid()]) > 0


async def test_one_worker_runs_every_task_and_the_run_cleans_up() -> None:
    before = await bench_databases()
    passes, anchor = await scaling.bench([1], tasks=2, concurrency=2, admin_url=DEFAULT_ADMIN_URL)
    assert [(p.label, p.tasks, len(p.latencies_s)) for p in passes] == [
        ("1 worker + 1 executor", 2, 2)
    ]
    # Each governed task ran on the worker and executor processes: they spent CPU on it.
    assert passes[0].cpu_agency_s > 0
    assert passes[0].cpu_temporal_s > 0
    assert (anchor.tasks, len(anchor.latencies_s)) == (2, 2)
    table = scaling.report(passes, anchor, 2)
    assert "| 1 worker + 1 executor |" in table
    assert "| raw one-activity workflow" in table
    # The fresh database was dropped (the processes and the temp dir went before it).
    assert await bench_databases() == before
