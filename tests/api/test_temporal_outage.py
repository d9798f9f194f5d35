"""Temporal goes away and comes back under a running API: what needs Temporal answers 503
with Retry-After and leaves nothing half-written, reads are answered from the projection,
and once a server answers at the same address again the API's client works again.

The Temporal dev server here is the test's own, on a fixed port and with a database file,
so that a new server can take over the old one's address and workflows."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from agency.asgi_thread import free_port, serve_app
from agency.db.migrate import upgrade_database
from agency.settings import Settings
from api.app import create_app
from domain import search_attributes
from tests.api.outage_support import assert_unavailable, eventually
from tests.support.harness import TEMPORAL_BIN
from tests.support.keys import bearer, make_key
from tests.support.repos import task_spec


class TemporalServer:
    """A dev server that can be stopped and started again on the same port and data."""

    def __init__(self, port: int, database: Path) -> None:
        self.port = port
        self.database = database
        self.env: WorkflowEnvironment | None = None

    async def start(self) -> None:
        self.env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(TEMPORAL_BIN),
            data_converter=pydantic_data_converter,
            port=self.port,
            dev_server_database_filename=str(self.database),
            ui=False,
            search_attributes=search_attributes.ALL,
        )

    async def stop(self) -> None:
        if self.env is not None:
            await self.env.shutdown()
            self.env = None


@pytest.fixture
async def temporal(tmp_path: Path) -> AsyncIterator[TemporalServer]:
    server = TemporalServer(free_port(), tmp_path / "temporal.db")
    try:
        yield server
    finally:
        await server.stop()


async def task_count(http: httpx.AsyncClient) -> int:
    response = await http.get("/api/v1/tasks")
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


async def test_submit_and_intervene_across_a_temporal_restart(
    temporal: TemporalServer, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'agency.db'}",
        temporal_address=f"127.0.0.1:{temporal.port}",
        task_queue=f"temporal-outage-{uuid.uuid4()}",  # nobody polls: tasks stay queued
    )
    upgrade_database(settings.effective_database_url)
    key = await make_key(settings.effective_database_url, "operator", "operator")
    spec = task_spec(tmp_path / "repo")
    app = create_app(settings)
    with serve_app(app) as url:
        async with httpx.AsyncClient(base_url=url, headers=bearer(key), timeout=30) as http:
            # The API starts without Temporal: submitting is refused before anything is
            # written, and the first server that appears is connected to lazily.
            assert_unavailable(await http.post("/api/v1/tasks", json=spec), "temporal")
            assert await task_count(http) == 0
            await temporal.start()
            first = await http.post("/api/v1/tasks", json=spec)
            assert first.status_code == 201, first.text
            task: dict[str, Any] = first.json()
            client_before = app.state.agency.temporal._client
            assert client_before is not None

            await temporal.stop()
            # Writes that need Temporal: 503, and no row without a workflow stays behind.
            assert_unavailable(await http.post("/api/v1/tasks", json=spec), "temporal")
            assert await task_count(http) == 1
            for action in ("pause", "cancel"):
                response = await http.post(f"/api/v1/tasks/{task['id']}/{action}", json={})
                assert_unavailable(response, "temporal")
            # Reads: the projection, the whole answer without Temporal.
            read = await http.get(f"/api/v1/tasks/{task['id']}")
            assert read.status_code == 200, read.text
            assert read.json()["phase"] == "queued" and read.json()["live"] is False
            assert read.json()["live_unavailable"] is None
            health = await http.get("/health")
            assert health.status_code == 503
            assert health.json()["temporal"]["ok"] is False
            assert health.json()["database"]["ok"] is True

            # A new server at the same address, with the old one's data: the same client
            # reconnects by itself.
            await temporal.start()
            second = await eventually(
                lambda: http.post("/api/v1/tasks", json=spec),
                lambda r: r.status_code != 503,
                what="a submission after Temporal's restart",
            )
            assert second.status_code == 201, second.text
            cancel = await http.post(f"/api/v1/tasks/{task['id']}/cancel", json={})
            assert cancel.status_code == 202, cancel.text
            assert app.state.agency.temporal._client is client_before
            assert await task_count(http) == 2
