"""End-to-end latency and throughput of a no-op governed task on the embedded stack,
beside a raw one-activity Temporal workflow on the same server in the same run.

    .venv/bin/python -m bench.e2e [--tasks 30] [--concurrency 6]

The governed task runs every phase for real: validation, plan review, a claim of an
executor host, a worktree and a sandboxed agent (`python3 -c pass`) on that host's own
task queue, result review, apply (auto mode commits to the repo) and a database record
at every transition.

After the latency table, where the governed tasks' time went (bench.breakdown): p50/p95
per phase from the recorded phase events (task_events), and from each workflow's
history the events, activities and workflow tasks per task, with the time waiting on
task queues (scheduled → started) apart from the time working.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from agency import dev_server
from agency.db.engine import make_engine, session_maker
from agency.db.migrate import upgrade_database
from agency.db.models import TaskEvent
from agency.executor.worker import running_executor
from agency.gc_tuning import freeze_startup_heap
from agency.settings import Settings
from agency.temporal_client import data_converter
from agency.worker import running_worker
from bench.breakdown import (
    START,
    ActivitySpan,
    HistoryStats,
    by_type_table,
    history_stats,
    history_table,
    percentile,
    phase_durations,
    phase_table,
)
from bench.cpu import CpuTimes, child_pids, cpu_times
from bench.governed_task import noop_spec, run_governed_task
from bench.raw_workflow import RawWorkflow, bench_noop
from domain import search_attributes
from domain.phases import PHASES


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "README.md").write_text("bench\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"]):
        subprocess.run(["git", "-C", str(path), *args], check=True)
    subprocess.run(
        ["git", "-C", str(path), "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "i"],
        check=True,
    )
    return path


async def timed(coro_factory, n: int, concurrency: int) -> tuple[list[float], float]:  # type: ignore[no-untyped-def]
    latencies: list[float] = []
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with sem:
            started = time.perf_counter()
            await coro_factory(i)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return latencies, time.perf_counter() - started


_ACTIVITY_CLOSED = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: "activity_task_completed_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: "activity_task_failed_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: "activity_task_timed_out_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED: "activity_task_canceled_event_attributes",
}


LOCAL_MARKER = "core_local_activity"


def _at(event: HistoryEvent) -> datetime:
    return event.event_time.ToDatetime(tzinfo=UTC)


async def task_breakdown(
    client: Client, sessions: async_sessionmaker[AsyncSession], task_id: str
) -> tuple[dict[str, float], HistoryStats]:
    """One governed task: seconds per phase (its task_events) and its history's sums."""
    history = await client.get_workflow_handle(f"task-{task_id}").fetch_history()
    events = list(history.events)
    started, closed = _at(events[0]), _at(events[-1])
    scheduled: dict[int, tuple[str, datetime]] = {}
    begun: dict[int, datetime] = {}
    spans: list[ActivitySpan] = []
    wft_scheduled: dict[int, datetime] = {}
    wft_started: dict[int, tuple[int, datetime]] = {}
    wfts: list[ActivitySpan] = []
    local_activities = 0
    for e in events:
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = e.activity_task_scheduled_event_attributes.activity_type.name
            scheduled[e.event_id] = (name, _at(e))
        elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            begun[e.activity_task_started_event_attributes.scheduled_event_id] = _at(e)
        elif e.event_type in _ACTIVITY_CLOSED:
            sid = getattr(e, _ACTIVITY_CLOSED[e.event_type]).scheduled_event_id
            name, at = scheduled[sid]
            spans.append(ActivitySpan(name, at, begun.get(sid, at), _at(e)))
        elif e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            # The SDK's marker for a local activity's result (patch markers aside).
            local_activities += e.marker_recorded_event_attributes.marker_name == LOCAL_MARKER
        elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            wft_scheduled[e.event_id] = _at(e)
        elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            sid = e.workflow_task_started_event_attributes.scheduled_event_id
            wft_started[e.event_id] = (sid, _at(e))
        elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            sid, at = wft_started[e.workflow_task_completed_event_attributes.started_event_id]
            wfts.append(ActivitySpan("workflow task", wft_scheduled[sid], at, _at(e)))
    async with sessions() as session:
        rows = await session.execute(
            select(TaskEvent.at, TaskEvent.phase)
            .where(TaskEvent.task_id == task_id)
            .order_by(TaskEvent.seq)
        )
        phases = phase_durations([(at, phase) for at, phase in rows], started, closed)
    return phases, history_stats(len(events), spans, started, closed, wfts, local_activities)


def _merged(tables: list[list[tuple[str, float, float]]]) -> list[tuple[str, list[float]]]:
    # One row per name over the passes, each pass contributing its p50 and p95.
    names: list[str] = []
    for t in tables:
        names.extend(n for n, *_ in t if n not in names)
    by_pass = [{n: (a, b) for n, a, b in t} for t in tables]
    return [(n, [x for p in by_pass for x in p.get(n, (0.0, 0.0))]) for n in names]


def print_breakdown(
    passes: list[tuple[str, list[tuple[dict[str, float], HistoryStats]]]],
) -> None:
    """The governed tasks' breakdown, one p50/p95 column pair per pass."""
    heads = " | ".join(f"p50 {label} | p95 {label}" for label, _ in passes)
    rule = " | ".join("---: | ---:" for _ in passes)
    phases = [phase_table([p for p, _ in tasks], (START, *PHASES)) for _, tasks in passes]
    print("\nWhere a governed task's time goes (phases from task_events, ms)\n")
    print(f"| phase | {heads} |")
    print(f"| --- | {rule} |")
    for name, values in _merged(phases):
        print(f"| {name} | " + " | ".join(f"{v * 1000:.0f}" for v in values) + " |")
    hist = [history_table([s for _, s in tasks]) for _, tasks in passes]
    print("\nFrom the workflow history (per task)\n")
    print(f"| measure | {heads} |")
    print(f"| --- | {rule} |")
    for name, values in _merged(hist):
        scale = 1000 if "(s)" in name else 1
        label = name.replace("(s)", "(ms)")
        print(f"| {label} | " + " | ".join(f"{v * scale:.0f}" for v in values) + " |")
    for label, tasks in passes:
        print(f"\nActivities by type, mean per task ({label})\n")
        print("| activity | count | scheduled → started (ms) | started → closed (ms) |")
        print("| --- | ---: | ---: | ---: |")
        for name, n, q, w in by_type_table([s for _, s in tasks]):
            print(f"| {name} | {n:.1f} | {q * 1000:.0f} | {w * 1000:.0f} |")


def print_cpu(cpu: list[tuple[str, CpuTimes]], tasks: int) -> None:
    """CPU per task over the sequential pass: what contention does not inflate."""
    print("\nCPU per task, sequential pass (ms)\n")
    print(
        "| workload | this process (workers, client) | its children (git, sandbox, agent)"
        " | Temporal dev server | total |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, t in cpu:
        cells = [t.own, t.children, t.others, t.total]
        print(f"| {name} | " + " | ".join(f"{c / tasks * 1000:.0f}" for c in cells) + " |")


async def main(tasks: int, concurrency: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="agency-bench-"))
    settings = Settings(
        data_dir=tmp / "data",
        task_queue=f"bench-{uuid.uuid4()}",
        executor_task_queue=f"bench-executors-{uuid.uuid4()}",
    )
    settings.data_dir.mkdir(parents=True)
    upgrade_database(settings.effective_database_url)
    repo = make_repo(tmp / "repo")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        data_converter=data_converter(settings),
        ui=False,
        search_attributes=search_attributes.ALL,
        dev_server_extra_args=dev_server.dynamic_config_args(),
    )
    engine = make_engine(settings.effective_database_url)
    sessions = session_maker(engine)
    client: Client = env.client
    try:
        async with (
            running_executor(client, settings),
            running_worker(client, settings),
            Worker(
                client,
                task_queue=settings.task_queue + "-raw",
                workflows=[RawWorkflow],
                activities=[bench_noop],
            ),
        ):
            spec = noop_spec(repo)

            ran: list[str] = []  # the governed tasks of the current pass

            async def governed(_: int) -> None:
                task_id = str(uuid.uuid4())
                ran.append(task_id)
                await run_governed_task(
                    client,
                    sessions,
                    settings,
                    spec,
                    task_id=task_id,
                    ends=("completed", "rejected"),
                )

            async def raw(i: int) -> None:
                await client.execute_workflow(
                    "BenchRaw",
                    i,
                    id=f"raw-{uuid.uuid4()}",
                    task_queue=settings.task_queue + "-raw",
                    result_type=int,
                )

            await governed(0)  # warm-up: imports, first worktree, connection pools
            await raw(0)
            # As the worker's and the executor's entry points do once they are up.
            freeze_startup_heap()
            server = child_pids("temporal")
            cpu: list[tuple[str, CpuTimes]] = []
            rows = []
            passes: list[tuple[str, list[str]]] = []
            for name, factory in (
                ("governed no-op task", governed),
                ("raw one-activity workflow", raw),
            ):
                ran.clear()
                before = cpu_times(server)
                seq, _ = await timed(factory, tasks, 1)
                cpu.append((name, cpu_times(server) - before))
                if factory is governed:
                    passes.append(("sequential", list(ran)))
                    ran.clear()
                _, wall = await timed(factory, tasks, concurrency)
                if factory is governed:
                    passes.append((f"at concurrency {concurrency}", list(ran)))
                rows.append(
                    (
                        name,
                        statistics.median(seq) * 1000,
                        percentile(seq, 95) * 1000,
                        tasks / wall,
                    )
                )
            print(f"\n{tasks} tasks each; throughput at concurrency {concurrency}\n")
            print("| workload | p50 latency (ms) | p95 latency (ms) | throughput (tasks/s) |")
            print("| --- | ---: | ---: | ---: |")
            for name, p50, p95, tput in rows:
                print(f"| {name} | {p50:.0f} | {p95:.0f} | {tput:.2f} |")
            (_, governed_p50, _, governed_tput), (_, _, _, raw_tput) = rows
            print(
                f"\ngoverned against its targets: p50 {governed_p50:.0f} ms (target < 300 ms);"
                f" throughput {governed_tput / raw_tput:.0%} of the raw workflow's"
                " (target ≥ 30%)"
            )
            print_cpu(cpu, tasks)
            print_breakdown(
                [
                    (label, [await task_breakdown(client, sessions, t) for t in ids])
                    for label, ids in passes
                ]
            )
    finally:
        await engine.dispose()
        await env.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=6)
    args = parser.parse_args()
    asyncio.run(main(args.tasks, args.concurrency))
