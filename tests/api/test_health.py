"""Dependencies going away and coming back: 503 problem+json (never 500) while the
database is stopped, and recovery by itself once it runs again.

The database here is a private PostgreSQL server (tests/support/private_postgres.py):
the machine's shared server is never stopped by a test."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from agency.asgi_thread import serve_app
from agency.db.migrate import upgrade_database
from agency.settings import Settings
from api.app import create_app
from tests.support.keys import bearer, make_key
from tests.support.private_postgres import PrivatePostgres, private_postgres

PROBLEM = "application/problem+json"


@pytest.fixture
async def pg_server() -> AsyncIterator[PrivatePostgres]:
    with private_postgres() as server:
        yield server


async def wait_for(http: httpx.AsyncClient, path: str, status: int, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while True:
        response = await http.get(path)
        if response.status_code == status:
            return
        assert time.monotonic() < deadline, f"{path} stayed {response.status_code}"
        await asyncio.sleep(0.3)


async def test_503_while_postgres_is_stopped_then_recovery(
    dev_env: WorkflowEnvironment, pg_server: PrivatePostgres, tmp_path: Path
) -> None:
    upgrade_database(pg_server.url)
    key = await make_key(pg_server.url, "watcher", "viewer")
    settings = Settings(
        data_dir=tmp_path,
        database_url=pg_server.url,
        temporal_address=dev_env.client.service_client.config.target_host,
        executor_urls=[],
    )
    with serve_app(create_app(settings)) as url:
        async with httpx.AsyncClient(base_url=url, headers=bearer(key), timeout=30) as http:
            assert (await http.get("/api/v1/tasks")).status_code == 200
            assert (await http.get("/health")).status_code == 200

            await asyncio.to_thread(pg_server.stop)
            for path in ("/api/v1/tasks", "/api/v1/tasks/some-id", "/api/v1/metrics"):
                response = await http.get(path)
                assert response.status_code == 503, (path, response.text)
                assert response.headers["content-type"].startswith(PROBLEM)
                assert response.json()["type"].endswith("/unavailable")
            health = await http.get("/health")
            assert health.status_code == 503
            assert health.json()["database"]["ok"] is False
            assert health.json()["temporal"]["ok"] is True

            await asyncio.to_thread(pg_server.start)
            await wait_for(http, "/api/v1/tasks", 200)
            await wait_for(http, "/health", 200)
