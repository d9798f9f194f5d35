"""End-to-end latency and throughput of a no-op governed task on the embedded stack,
beside a raw one-activity Temporal workflow on the same server in the same run.

    .venv/bin/python -m bench.e2e [--tasks 30] [--concurrency 6]

The governed task runs every phase for real: validation, plan review, a claim of an
executor host, a worktree and a sandboxed agent (`python3 -c pass`) on that host's own
task queue, result review, apply (auto mode commits to the repo) and a database record
at every transition.
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
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from agency.db import records
from agency.db.engine import make_engine, session_maker
from agency.db.migrate import upgrade_database
from agency.executor.worker import running_executor
from agency.settings import Settings
from agency.temporal_client import data_converter
from agency.worker import running_worker
from bench.raw_workflow import RawWorkflow, bench_noop
from council.validation import parse_task_spec
from domain import search_attributes
from domain.execution import ExecutorOptions
from domain.task import WORKFLOW_NAME, TaskInput, TaskResult


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


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


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
            spec = parse_task_spec(
                {
                    "id": "BENCH-0001",
                    "title": "no-op",
                    "risk_tier": 3,
                    "mode": "chore",
                    "scope": {"in": ["README.md"]},
                    "invariants": ["nothing changes"],
                    "acceptance": [{"id": "A1", "given": "g", "when": "w", "then": "t"}],
                    "repo": str(repo),
                    "agent": {"argv": ["python3", "-c", "pass"]},
                    "execution_mode": "auto",
                    "max_iterations": 1,
                }
            )

            async def governed(_: int) -> None:
                task_id = str(uuid.uuid4())
                async with sessions() as session:
                    await records.insert_task(
                        session,
                        task_id=task_id,
                        caws_id=spec.id,
                        title=spec.title,
                        risk_tier=3,
                        mode="chore",
                        execution_mode="auto",
                        max_iterations=1,
                        workflow_id=f"task-{task_id}",
                        spec={},
                        submitted_by="bench",
                        tenant="default",
                    )
                    await session.commit()
                result = await client.execute_workflow(
                    WORKFLOW_NAME,
                    TaskInput(
                        task_id=task_id,
                        spec=spec,
                        submitted_by="bench",
                        executors=ExecutorOptions(task_queue=settings.executor_task_queue),
                    ),
                    id=f"task-{task_id}",
                    task_queue=settings.task_queue,
                    result_type=TaskResult,
                )
                if result.phase not in ("completed", "rejected"):
                    raise RuntimeError(f"bench task ended {result.phase}: {result.error}")

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
            rows = []
            for name, factory in (
                ("governed no-op task", governed),
                ("raw one-activity workflow", raw),
            ):
                seq, _ = await timed(factory, tasks, 1)
                _, wall = await timed(factory, tasks, concurrency)
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
    finally:
        await engine.dispose()
        await env.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=6)
    args = parser.parse_args()
    asyncio.run(main(args.tasks, args.concurrency))
