"""1,000 strict tasks waiting for a human at once: what it costs the stack to hold them,
how the API answers meanwhile, and how fast they finish once approved.

    .venv/bin/python -m bench.waiting [--tasks 1000] [--database-url URL]
                                      [--concurrency 16] [--clients 4] [--seconds 10]
                                      [--post-rate 5] [--sample 20] [--timeout 3600]

The stack is `agency up`'s (bench/process_stack.py): a Temporal dev server, the API,
one workflow worker and one executor, each its own process on loopback, SQLite in a
temporary data dir; with --database-url postgresql+asyncpg://…/NAME the benchmark creates
database NAME (refusing one that exists) and drops it afterwards. Steps:

1. the processes' memory (VmRSS) with nothing submitted;
2. submit N strict no-op tasks (`python3 -c pass` on a one-file repository) through
   POST /api/v1/tasks, --concurrency at a time, and wait until all N await approval:
   tasks/s to get there, and each task's time from created to awaiting (its updated_at);
3. while the N wait: the memory again (the workflow worker's growth / N is the cost of
   a waiting task), the history of a sample of tasks, and the API's latency with
   --clients keep-alive clients for --seconds each (bench.load): GET one task and GET a
   page of 50 closed loop, POST another strict task at --post-rate a second (those
   join the waiting ones);
4. approve every waiting task through the API (--concurrency at a time) and wait until
   all are completed: tasks/s, and each task's time from its approval being sent to its
   completion (updated_at, so not rounded to the polling interval);
5. the sampled tasks' history once completed, and the memory once more.

Every step is bounded by --timeout in all; a task that fails or is rejected on the way
stops the run with its error. Every process is stopped and the temporary directory
removed however the run ends (Ctrl-C included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from agency.stack import StackError, stop_signals
from agency.temporal_client import connect, workflow_id_for
from bench.api import make_repo
from bench.breakdown import percentile
from bench.fresh_database import fresh_database
from bench.history_size import LIMIT_BYTES, LIMIT_EVENTS, HistorySize, history_size, sample
from bench.load import Result, build_request, run_load
from bench.process_stack import BenchStack, running_stack
from bench.rss import rss_bytes
from bench.task_api import (
    Progress,
    api_client,
    approve,
    created_at,
    in_phase,
    strict_task,
    submit,
    updated_at,
    wait_for_phase,
)

PARTS = ("worker", "executor", "api", "temporal")


@dataclass
class Report:
    tasks: int
    database: str
    # The step under way, for the message when --timeout cuts the run short.
    stage: str = "starting"
    # Memory of each part (bytes): nothing submitted, all N waiting, all completed.
    rss_idle: dict[str, int] = field(default_factory=dict)
    rss_waiting: dict[str, int] = field(default_factory=dict)
    rss_completed: dict[str, int] = field(default_factory=dict)
    # Submission to approval: wall seconds for all N, and each task's seconds.
    to_approval_s: float = 0.0
    to_approval_each_s: list[float] = field(default_factory=list)
    # API latency while they wait.
    latency: list[Result] = field(default_factory=list)
    # Approval to completion: how many were approved (N and the POSTed ones), wall
    # seconds for all, and each task's seconds.
    approved: int = 0
    approve_503: int = 0  # approvals the API answered 503 (sent again)
    to_completed_s: float = 0.0
    to_completed_each_s: list[float] = field(default_factory=list)
    history_waiting: list[HistorySize] = field(default_factory=list)
    history_completed: list[HistorySize] = field(default_factory=list)


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def memory(stack: BenchStack) -> dict[str, int]:
    return {part: rss_bytes(stack.pid(part)) for part in PARTS}


async def latency_while_waiting(
    stack: BenchStack, task_id: str, body: bytes, clients: int, seconds: float, post_rate: float
) -> list[Result]:
    """GET one task and GET a page closed loop (as bench.api's saturation); POST a task
    at `post_rate` a second (open loop): a closed loop would add hundreds of tasks to
    the ones waiting, and the approval figures would no longer be about N."""
    auth = {"Authorization": f"Bearer {stack.admin_key}"}
    port = stack.settings.api_port
    cases = [
        ("GET /api/v1/tasks/{id}", build_request("GET", f"/api/v1/tasks/{task_id}", auth), 200),
        ("GET /api/v1/tasks?limit=50", build_request("GET", "/api/v1/tasks?limit=50", auth), 200),
        ("POST /api/v1/tasks (strict)", build_request("POST", "/api/v1/tasks", auth, body), 201),
    ]
    rates = [None, None, post_rate]
    return [
        await run_load(name, port, request, ok, clients, seconds, rate)
        for (name, request, ok), rate in zip(cases, rates, strict=True)
    ]


async def histories(stack: BenchStack, ids: list[str]) -> list[HistorySize]:
    client = await connect(stack.settings)
    return [await history_size(client, workflow_id_for(task_id)) for task_id in ids]


async def measure(
    stack: BenchStack,
    repo: Path,
    report: Report,
    *,
    concurrency: int,
    clients: int,
    seconds: float,
    post_rate: float,
    sample_size: int,
) -> None:
    """Steps 1 to 5 of the module's docstring, filling `report`."""
    n = report.tasks
    body = strict_task(repo)
    report.rss_idle = memory(stack)
    async with api_client(stack.api_url, stack.admin_key, concurrency) as http:
        report.stage = f"submitting {n} strict tasks, {concurrency} at a time"
        say(report.stage)
        began = time.time()
        ids = await submit(http, body, n, concurrency)
        report.stage = f"waiting for {n} tasks to await approval"
        waiting = await wait_for_phase(
            http, ids, "awaiting_approval", Progress("awaiting approval", n)
        )
        reached = [updated_at(item) for item in waiting.values()]
        report.to_approval_s = max(reached).timestamp() - began
        report.to_approval_each_s = [
            (updated_at(item) - created_at(item)).total_seconds() for item in waiting.values()
        ]
        report.rss_waiting = memory(stack)
        sampled = sample(ids, sample_size)
        report.history_waiting = await histories(stack, sampled)

        report.stage = f"API latency, {clients} clients, {seconds:g} s each"
        say(f"all {n} await approval; {report.stage}")
        report.latency = await latency_while_waiting(
            stack, ids[0], json.dumps(body).encode(), clients, seconds, post_rate
        )
        # The POSTed tasks wait for approval too; they are approved with the others.
        submitted = set(ids)
        everyone = ids + sorted(set(await in_phase(http, None)) - submitted)
        await wait_for_phase(
            http, everyone, "awaiting_approval", Progress("awaiting approval", len(everyone))
        )

        report.stage = f"approving {len(everyone)} tasks and waiting for their completion"
        say(report.stage)
        sent, report.approve_503 = await approve(http, everyone, concurrency)
        done = await wait_for_phase(
            http, everyone, "completed", Progress("completed", len(everyone))
        )
        first_sent = min(sent.values())
        report.approved = len(everyone)
        report.to_completed_s = (
            max(updated_at(i) for i in done.values()) - first_sent
        ).total_seconds()
        report.to_completed_each_s = [
            (updated_at(done[task_id]) - at).total_seconds() for task_id, at in sent.items()
        ]
        report.history_completed = await histories(stack, sampled)
        report.rss_completed = memory(stack)
    restarted = stack.restarts()
    if restarted:
        raise RuntimeError(f"parts restarted during the run (a crash): {restarted}")


class BenchTimeout(RuntimeError):
    """The run did not finish within --timeout; the message says where it was."""


@contextmanager
def scratch_dir() -> Iterator[Path]:
    work = Path(tempfile.mkdtemp(prefix="agency-bench-waiting-"))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(
    tasks: int,
    *,
    database_url: str | None = None,
    concurrency: int = 16,
    clients: int = 4,
    seconds: float = 10.0,
    post_rate: float = 5.0,
    sample_size: int = 20,
    timeout_s: float = 3600.0,
) -> Report:
    """The whole benchmark: a stack of its own, measured, stopped and removed."""
    report = Report(tasks=tasks, database="PostgreSQL" if database_url else "SQLite")
    with (
        scratch_dir() as work,
        fresh_database(database_url) as url,
        running_stack(work / "data", url) as stack,
    ):
        repo = make_repo(work / "repo")
        say(f"stack up: API {stack.api_url}, Temporal {stack.temporal_address}")
        began = time.monotonic()
        try:
            asyncio.run(
                asyncio.wait_for(
                    measure(
                        stack,
                        repo,
                        report,
                        concurrency=concurrency,
                        clients=clients,
                        seconds=seconds,
                        post_rate=post_rate,
                        sample_size=sample_size,
                    ),
                    timeout_s,
                )
            )
        except TimeoutError:
            raise BenchTimeout(
                f"gave up after {time.monotonic() - began:.0f} s (--timeout {timeout_s:g}) "
                f"while {report.stage}"
            ) from None
    return report


# ------------------------------------------------------------------------- the report
def _pcts(values: list[float]) -> str:
    return f"{percentile(values, 50):.2f} | {percentile(values, 95):.2f}"


def _history_rows(label: str, sizes: list[HistorySize]) -> list[str]:
    events = [float(s.events) for s in sizes]
    size = [float(s.bytes) for s in sizes]
    return [
        f"| {label} | {percentile(events, 50):.0f} | {max(events):.0f} | "
        f"{percentile(size, 50) / 1024:.1f} | {max(size) / 1024:.1f} |"
    ]


def tables(r: Report) -> str:
    n = r.tasks
    lines = [
        f"\n{n} strict tasks waiting for approval ({r.database}; one worker, one executor)\n",
        "| step | wall (s) | tasks/s | p50 per task (s) | p95 per task (s) |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| submitted → awaiting approval | {r.to_approval_s:.1f} | "
        f"{n / r.to_approval_s:.1f} | {_pcts(r.to_approval_each_s)} |",
        f"| approved → completed ({r.approved} tasks) | {r.to_completed_s:.1f} | "
        f"{r.approved / r.to_completed_s:.1f} | {_pcts(r.to_completed_each_s)} |",
        f"\nApprovals answered 503 (no answer from the workflow within the API's wait; "
        f"sent again): {r.approve_503}",
        f"\nAPI latency while {n} wait (reads closed loop; POST paced)\n",
        "| request | req/s | p50 ms | p95 ms | p99 ms | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for res in r.latency:
        lines.append(
            f"| {res.name} | {res.rps:.0f} | {res.pct(50):.1f} | {res.pct(95):.1f} | "
            f"{res.pct(99):.1f} | {res.errors} |"
        )
    lines += [
        "\nMemory (VmRSS, MiB)\n",
        f"| process | idle | {n} waiting | per waiting task (KiB) | all completed |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for part in PARTS:
        idle, held, after = r.rss_idle[part], r.rss_waiting[part], r.rss_completed[part]
        lines.append(
            f"| {part} | {idle / 2**20:.1f} | {held / 2**20:.1f} | "
            f"{(held - idle) / n / 1024:.1f} | {after / 2**20:.1f} |"
        )
    k = len(r.history_waiting)
    lines += [
        f"\nTemporal history per task (a sample of {k}; limits {LIMIT_EVENTS} events, "
        f"{LIMIT_BYTES // 2**20} MB)\n",
        "| when | events p50 | events max | KiB p50 | KiB max |",
        "| --- | ---: | ---: | ---: | ---: |",
        *_history_rows("awaiting approval", r.history_waiting),
        *_history_rows("completed", r.history_completed),
    ]
    return "\n".join(lines)


def as_json(r: Report) -> str:
    figures = asdict(r)
    figures["latency"] = [
        {
            "name": x.name,
            "rps": x.rps,
            "p50_ms": x.pct(50),
            "p95_ms": x.pct(95),
            "p99_ms": x.pct(99),
            "errors": x.errors,
        }
        for x in r.latency
    ]
    return json.dumps(figures, indent=2, default=str)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--database-url", default=None, help="postgresql+asyncpg://…/NEW_DB")
    parser.add_argument("--concurrency", type=int, default=16, help="submissions, approvals")
    parser.add_argument("--clients", type=int, default=4, help="API latency clients")
    parser.add_argument("--seconds", type=float, default=10.0, help="per latency case")
    parser.add_argument("--post-rate", type=float, default=5.0, help="POSTs/s while waiting")
    parser.add_argument("--sample", type=int, default=20, help="tasks whose history is read")
    parser.add_argument("--timeout", type=float, default=3600.0, help="for the whole run (s)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args(argv)
    started = datetime.now().astimezone()
    try:
        with stop_signals():
            report = run(
                args.tasks,
                database_url=args.database_url,
                concurrency=args.concurrency,
                clients=args.clients,
                seconds=args.seconds,
                post_rate=args.post_rate,
                sample_size=args.sample,
                timeout_s=args.timeout,
            )
    except (StackError, RuntimeError) as err:  # BenchTimeout and BenchTaskError included
        print(f"bench.waiting: {err}", file=sys.stderr)
        return 1
    print(f"bench.waiting, {started:%Y-%m-%d %H:%M %Z}")
    print(tables(report))
    if args.json:
        print(as_json(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
