"""GET /health: each dependency on its own; executors and workflow workers as the pollers
Temporal reports for their queues (real temporalio Workers here); the stack from the state
file `agency up` writes, while its supervisor runs."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from agency.asgi_thread import free_port, serve_app
from agency.db.migrate import upgrade_database
from agency.settings import Settings
from agency.stack_state import PartState, StackState, write_stack_state
from api.app import create_app
from tests.api.outage_support import eventually
from tests.support.keys import bearer, make_key


@activity.defn(name="health-test-noop")
async def noop() -> None:
    """An executor's stand-in: it only has to poll the executors' queue."""


@workflow.defn(name="health-test-idle")
class Idle:
    """A workflow worker's stand-in: it only has to poll the workflow queue."""

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


@asynccontextmanager
async def pollers(client: Client, settings: Settings) -> AsyncIterator[None]:
    executor = Worker(
        client,
        task_queue=settings.executor_task_queue,
        activities=[noop],
        identity="4242@test-host executor",
    )
    worker = Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[Idle],
        workflow_runner=UnsandboxedWorkflowRunner(),
        identity="4343@test-host worker",
    )
    async with executor, worker:
        yield


@pytest.fixture
def settings(dev_env: WorkflowEnvironment, tmp_path: Path) -> Settings:
    """A migrated SQLite database and queues of its own on the shared dev server."""
    made = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'agency.db'}",
        temporal_address=dev_env.client.service_client.config.target_host,
        task_queue=f"health-wf-{uuid.uuid4()}",
        executor_task_queue=f"health-ex-{uuid.uuid4()}",
    )
    upgrade_database(made.effective_database_url)
    return made


@pytest.fixture
def api_url(settings: Settings) -> Iterator[str]:
    with serve_app(create_app(settings)) as url:
        yield url


def stack_file(path: Path, supervisor_pid: int) -> None:
    now = datetime.now(UTC)
    parts = [
        PartState(name=name, state="up", pid=pid, restarts=restarts, last_exit=None, since=now,
                  log=f"/tmp/{name}.log")
        for name, pid, restarts in (("temporal", 101, 0), ("executor", 102, 2), ("api", 103, 0))
    ]  # fmt: skip
    write_stack_state(path, StackState(supervisor_pid=supervisor_pid, updated_at=now, parts=parts))


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()  # reaped: the pid names no process any more
    return process.pid


async def test_health_reports_pollers_and_the_running_stack(
    dev_env: WorkflowEnvironment, settings: Settings, api_url: str
) -> None:
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        # Nobody polls the queues yet: Temporal and the database answer, yet degraded.
        first = await http.get("/health")
        assert first.status_code == 503, first.text
        body = first.json()
        assert body["status"] == "degraded"
        assert body["temporal"]["ok"] and body["database"]["ok"]
        assert body["executors"] == {
            "ok": False,
            "detail": "nobody polls this queue",
            "task_queue": settings.executor_task_queue,
            "pollers": [],
        }
        assert body["workers"]["ok"] is False and body["workers"]["pollers"] == []
        assert "stack" not in body  # no state file

        async with pollers(dev_env.client, settings):
            healthy = await eventually(
                lambda: http.get("/health"),
                lambda r: r.status_code == 200,
                what="/health with an executor and a worker polling",
            )
            body = healthy.json()
            assert body["status"] == "ok"
            [executor] = body["executors"]["pollers"]
            assert executor["identity"] == "4242@test-host executor"
            assert executor["active"] is True
            seen = datetime.fromisoformat(executor["last_access_time"])
            assert abs((datetime.now(UTC) - seen).total_seconds()) < 60
            assert [p["identity"] for p in body["workers"]["pollers"]] == ["4343@test-host worker"]

            # The dashboard's count comes from the same pollers.
            key = await make_key(settings.effective_database_url, "watcher", "viewer")
            kpis = (await http.get("/api/v1/metrics", headers=bearer(key))).json()
            assert (kpis["active_executors"], kpis["executors"]) == (1, 1)

            # A stack whose supervisor runs (this test's own process) is shown...
            stack_file(settings.stack_state_file, os.getpid())
            body = (await http.get("/health")).json()
            assert body["stack"]["supervisor_pid"] == os.getpid()
            parts = [
                (p["name"], p["state"], p["restarts"], p["pid"]) for p in body["stack"]["parts"]
            ]
            assert parts == [
                ("temporal", "up", 0, 101),
                ("executor", "up", 2, 102),
                ("api", "up", 0, 103),
            ]
            # ...a file left by a supervisor that is gone is history, not the stack.
            stack_file(settings.stack_state_file, dead_pid())
            assert "stack" not in (await http.get("/health")).json()
            # So is a file that is not a state file.
            settings.stack_state_file.write_text("{not json")
            assert (await http.get("/health")).status_code == 200


async def test_health_answers_in_bounded_time_without_temporal(
    settings: Settings,
) -> None:
    nowhere = settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    with serve_app(create_app(nowhere)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            started = time.monotonic()
            response = await http.get("/health")
            assert time.monotonic() - started < 10
    assert response.status_code == 503
    body: dict[str, Any] = response.json()
    assert body["status"] == "degraded"
    assert body["temporal"]["ok"] is False
    assert body["database"]["ok"] is True
    for queue in ("executors", "workers"):
        assert body[queue]["ok"] is False
        assert body[queue]["detail"].startswith("Temporal cannot be asked"), body[queue]
