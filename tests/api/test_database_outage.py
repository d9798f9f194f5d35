"""The database stops and starts again under a running API: 503 problem+json with
Retry-After (never 401 or 500) while it is away, the same requests answered once it is
back, and an open SSE stream that says it is reconnecting and then resumes where it was.

The database is a private PostgreSQL server (tests/support/private_postgres.py): the
machine's shared server is never stopped by a test."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from agency.asgi_thread import serve_app
from agency.db.migrate import upgrade_database
from agency.settings import Settings
from api.app import create_app
from tests.api.outage_support import (
    TaskWriter,
    assert_unavailable,
    eventually,
    read_stream,
)
from tests.support.keys import bearer, make_key
from tests.support.private_postgres import PrivatePostgres, private_postgres
from tests.support.repos import task_spec


@pytest.fixture
def pg_server() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        upgrade_database(server.url)
        yield server


@pytest.fixture
async def writer(pg_server: PrivatePostgres) -> AsyncIterator[TaskWriter]:
    made = TaskWriter(pg_server.url)
    try:
        yield made
    finally:
        await made.close()


def requests(task_id: str, repo: Path) -> list[tuple[str, str, object, int]]:
    """Reads and writes of every kind, each needing the database (if only for the key),
    with what each gets once the database is back (the task has finished by then)."""
    return [
        ("GET", "/api/v1/tasks", None, 200),
        ("GET", f"/api/v1/tasks/{task_id}", None, 200),
        ("GET", f"/api/v1/tasks/{task_id}/audit", None, 200),
        ("GET", f"/api/v1/tasks/{task_id}/events", None, 200),
        ("GET", "/api/v1/metrics", None, 200),
        ("GET", "/api/v1/keys/me", None, 200),
        ("POST", "/api/v1/tasks", task_spec(repo), 201),
        ("POST", f"/api/v1/tasks/{task_id}/pause", {}, 409),
        ("POST", "/api/v1/keys", {"name": f"k-{uuid.uuid4().hex[:8]}", "role": "viewer"}, 201),
    ]


async def send(http: httpx.AsyncClient, method: str, path: str, body: object) -> httpx.Response:
    return await http.request(method, path, json=body) if body is not None else await http.get(path)


async def test_requests_and_the_event_stream_across_a_database_restart(
    dev_env: WorkflowEnvironment, pg_server: PrivatePostgres, writer: TaskWriter, tmp_path: Path
) -> None:
    key = await make_key(pg_server.url, "operator-admin", "admin")
    settings = Settings(
        data_dir=tmp_path,
        database_url=pg_server.url,
        temporal_address=dev_env.client.service_client.config.target_host,
        task_queue=f"db-outage-{uuid.uuid4()}",
        executor_task_queue=f"db-outage-ex-{uuid.uuid4()}",
    )
    task_id = await writer.add_task()
    await writer.events(task_id, range(1, 4))
    with serve_app(create_app(settings)) as url:
        async with httpx.AsyncClient(base_url=url, headers=bearer(key), timeout=30) as http:
            assert (await http.get(f"/api/v1/tasks/{task_id}")).status_code == 200
            stream = read_stream(http, f"/api/v1/tasks/{task_id}/events", {})
            await stream.wait_for(lambda s: s.seqs() == [1, 2, 3], "the first three events")

            await asyncio.to_thread(pg_server.stop)
            for method, path, body, _ in requests(task_id, tmp_path / "repo"):
                assert_unavailable(await send(http, method, path, body), "database")
            health = await http.get("/health")
            assert health.status_code == 503
            assert health.json()["database"]["ok"] is False
            assert health.json()["temporal"]["ok"] is True
            await stream.wait_for(
                lambda s: len(s.named("reconnecting")) >= 2, "the stream saying it reconnects"
            )
            said = json.loads(stream.named("reconnecting")[0].data)
            assert said["unavailable"] == ["database"] and said["last_seq"] == 3
            assert stream.named("reconnecting")[0].retry is not None
            assert all(e.id is None for e in stream.named("reconnecting"))

            await asyncio.to_thread(pg_server.start)
            await writer.events(task_id, range(4, 6))
            await writer.events(task_id, range(6, 7), phase="completed")
            await stream.wait_for(lambda s: bool(s.named("end")), "the end of the stream")
            assert stream.status == 200
            assert stream.seqs() == [1, 2, 3, 4, 5, 6]  # none lost, none twice
            assert [e.id for e in stream.named("message")] == ["1", "2", "3", "4", "5", "6"]
            assert len(stream.named("resumed")) == 1
            order = [e.event for e in stream.events]
            assert order.index("resumed") > max(
                i for i, e in enumerate(order) if e == "reconnecting"
            )
            assert order.index("resumed") < [e.id for e in stream.events].index("4")

            # The same requests are answered again (the pools reconnect by themselves).
            for method, path, body, status in requests(task_id, tmp_path / "repo"):
                response = await eventually(
                    lambda m=method, p=path, b=body: send(http, m, p, b),
                    lambda r: r.status_code != 503,
                    what=f"{method} {path} after the restart",
                )
                assert response.status_code == status, (method, path, response.text)
            assert (await http.get("/health")).json()["database"]["ok"] is True
