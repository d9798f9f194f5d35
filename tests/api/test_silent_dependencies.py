"""Dependencies that hang instead of refusing (a host that drops packets, a stuck
server): the API still answers in bounded time, 503 where it needs them and from the
projection where it can."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from agency.asgi_thread import serve_app
from agency.db.migrate import upgrade_database
from agency.settings import Settings
from api.app import create_app
from tests.api.outage_support import TaskWriter, assert_unavailable, silent_server
from tests.support.keys import bearer, make_key
from tests.support.repos import task_spec

# Connecting gives up after 5 s (agency.db.engine, api.temporal_gateway); some slack.
BOUND_S = 9.0
# A well-formed key: the API has to look it up to know whether it is valid.
SOME_KEY = f"aa_{'0' * 12}_{'A' * 43}"


async def timed(
    http: httpx.AsyncClient, method: str, path: str, **kwargs: object
) -> httpx.Response:
    started = time.monotonic()
    response = await http.request(method, path, **kwargs)  # type: ignore[arg-type]
    elapsed = time.monotonic() - started
    assert elapsed < BOUND_S, f"{method} {path} took {elapsed:.1f} s"
    return response


async def test_a_silent_database_is_503_in_bounded_time(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    with silent_server() as port:
        settings = Settings(
            data_dir=tmp_path,
            database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{port}/agency",
            temporal_address=dev_env.client.service_client.config.target_host,
            task_queue=f"silent-db-{uuid.uuid4()}",
        )
        with serve_app(create_app(settings)) as url:
            async with httpx.AsyncClient(
                base_url=url, headers=bearer(SOME_KEY), timeout=30
            ) as http:
                assert_unavailable(await timed(http, "GET", "/api/v1/tasks"), "database")
                health = await timed(http, "GET", "/health")
    assert health.status_code == 503
    assert health.json()["database"]["ok"] is False
    assert health.json()["temporal"]["ok"] is True


async def test_a_silent_temporal_is_503_for_writes_and_projection_for_reads(
    tmp_path: Path,
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'agency.db'}",
        task_queue=f"silent-temporal-{uuid.uuid4()}",
    )
    upgrade_database(settings.effective_database_url)
    key = await make_key(settings.effective_database_url, "operator", "operator")
    writer = TaskWriter(settings.effective_database_url)
    try:
        task_id = await writer.add_task()
        older_id = await writer.add_task(before_full_projection=True)
    finally:
        await writer.close()
    with silent_server() as port:
        silent = settings.model_copy(update={"temporal_address": f"127.0.0.1:{port}"})
        with serve_app(create_app(silent)) as url:
            async with httpx.AsyncClient(base_url=url, headers=bearer(key), timeout=30) as http:
                read = await timed(http, "GET", f"/api/v1/tasks/{task_id}")
                older = await timed(http, "GET", f"/api/v1/tasks/{older_id}")
                submit = await timed(http, "POST", "/api/v1/tasks", json=task_spec(tmp_path))
                pause = await timed(http, "POST", f"/api/v1/tasks/{task_id}/pause", json={})
                listed = await timed(http, "GET", "/api/v1/tasks")
                health = await timed(http, "GET", "/health")
    # The projection is the whole answer: Temporal is not asked.
    assert read.status_code == 200, read.text
    assert read.json()["live"] is False and read.json()["live_unavailable"] is None
    # A task stored before the projection held its whole state: the projection, saying
    # why the workflow's live state is missing.
    assert older.status_code == 200, older.text
    assert older.json()["live_unavailable"].startswith("Temporal is unavailable")
    assert_unavailable(submit, "temporal")
    assert_unavailable(pause, "temporal")
    listed_ids = {t["id"] for t in listed.json()["items"]}
    assert listed_ids == {task_id, older_id}  # nothing half-written
    assert health.status_code == 503 and health.json()["temporal"]["ok"] is False
