"""The task event stream (SSE): every event once, in order, resumable with Last-Event-ID,
also across a restart of the API process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from agency.asgi_thread import free_port
from agency.cli.logs import follow_events, parse_sse
from tests.api.conftest import ApiUnderTest
from tests.support.harness import Harness
from tests.support.repos import task_spec

SSE = {"Accept": "text/event-stream"}
ROOT = Path(__file__).resolve().parents[2]


async def read_stream(
    http: httpx.AsyncClient,
    task_id: str,
    last_event_id: int | None = None,
    stop_when: Any = None,
) -> tuple[list[dict[str, Any]], bool]:
    """Events until the stream ends (True) or `stop_when(event)` (False)."""
    headers = dict(SSE)
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    events: list[dict[str, Any]] = []
    async with http.stream("GET", f"/api/v1/tasks/{task_id}/events", headers=headers) as r:
        assert r.status_code == 200, await r.aread()
        assert r.headers["content-type"].startswith("text/event-stream")
        lines: list[str] = []
        async for line in r.aiter_lines():
            lines.append(line)
            if line != "":
                continue
            for event in parse_sse(lines):
                if event.event == "end":
                    return events, True
                payload = json.loads(event.text)
                assert event.id == str(payload["seq"])
                events.append(payload)
                if stop_when is not None and stop_when(payload):
                    return events, False
            lines = []
    return events, False


async def test_the_stream_sends_every_event_once_and_ends_with_the_task(
    api: ApiUnderTest,
) -> None:
    task = (await api.http.post("/api/v1/tasks", json=task_spec(api.h.repo))).json()
    streamed, ended = await read_stream(api.http, task["id"])
    assert ended
    seqs = [e["seq"] for e in streamed]
    assert seqs == list(range(1, len(seqs) + 1))
    assert streamed[-1]["phase"] == "completed"
    stored = (await api.http.get(f"/api/v1/tasks/{task['id']}/events")).json()["items"]
    assert streamed == stored

    # Resuming in the middle gives exactly the rest; past the end, 204 (stop retrying).
    rest, ended = await read_stream(api.http, task["id"], last_event_id=3)
    assert ended and [e["seq"] for e in rest] == seqs[3:]
    done = await api.http.get(
        f"/api/v1/tasks/{task['id']}/events", headers={**SSE, "Last-Event-ID": str(seqs[-1])}
    )
    assert done.status_code == 204
    bad = await api.http.get(
        f"/api/v1/tasks/{task['id']}/events", headers={**SSE, "Last-Event-ID": "x1"}
    )
    assert bad.status_code == 422


@contextmanager
def api_process(h: Harness, port: int, data_dir: Path) -> Iterator[str]:
    """`python -m api` as its own process, as `agency up` runs it."""
    env = {
        **os.environ,
        "AGENCY_DATA_DIR": str(data_dir),
        "AGENCY_DATABASE_URL": h.settings.effective_database_url,
        "AGENCY_TEMPORAL_ADDRESS": h.settings.effective_temporal_address,
        "AGENCY_TASK_QUEUE": h.task_queue,
        "AGENCY_API_PORT": str(port),
        "AGENCY_EXECUTOR_TASK_QUEUE": h.settings.executor_task_queue,
        "PYTHONPATH": str(ROOT),
    }
    log = (data_dir / f"api-{time.monotonic_ns()}.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "api"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "the API process exited"
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code in (200, 503):
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the API process did not start"
            time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


async def test_a_follower_resumes_across_a_restart_of_the_api(
    api: ApiUnderTest, tmp_path: Path
) -> None:
    """`agency logs --follow`'s reader holds the stream while the API process is stopped
    and started again; it reconnects with Last-Event-ID and misses nothing."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    events: list[dict[str, Any]] = []
    reconnects: list[tuple[int, str]] = []
    waiting = threading.Event()

    def emit(event: dict[str, Any]) -> None:
        events.append(event)
        if event["phase"] == "awaiting_approval":
            waiting.set()

    with api_process(api.h, port, tmp_path):
        http = api.client(api.admin_key, base_url=url)
        strict = task_spec(api.h.repo, execution_mode="strict")
        task = (await http.post("/api/v1/tasks", json=strict)).json()
        follower = threading.Thread(
            target=follow_events,
            args=(url, api.admin_key, task["id"], emit),
            kwargs={"on_reconnect": lambda seq, why: reconnects.append((seq, why))},
            daemon=True,
        )
        follower.start()
        assert await asyncio.to_thread(waiting.wait, 60), "never reached awaiting_approval"
    # The API process is gone, with the stream open; the task waits for a human.
    seen_before_restart = len(events)
    with api_process(api.h, port, tmp_path):
        approve = await http.post(f"/api/v1/tasks/{task['id']}/approve", json={})
        assert approve.status_code == 202, approve.text
        await asyncio.to_thread(follower.join, 60)
        assert not follower.is_alive(), "the follower did not see the end of the task"
        stored = (await http.get(f"/api/v1/tasks/{task['id']}/events")).json()["items"]

    assert reconnects and reconnects[0][0] == events[seen_before_restart - 1]["seq"]
    assert [e["seq"] for e in events] == [e["seq"] for e in stored]  # none twice or missing
    assert events == stored
    assert events[-1]["phase"] == "completed"
