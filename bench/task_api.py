"""The task API as a benchmark drives it: submit many tasks, follow them by phase through
the list endpoint, approve them; over real HTTP with an API key, bounded concurrency."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.api import task_body

PAGE = 200  # the list endpoint's largest page
POLL_S = 0.5
ENDED_BADLY = ("failed", "rejected", "canceled")


class BenchTaskError(RuntimeError):
    """A task ended otherwise than the benchmark needs; the message says which and why."""


def strict_task(repo: Path) -> dict[str, Any]:
    """A no-op task (`python3 -c pass`, no gates) that waits for a human: strict mode."""
    return {**task_body(repo), "execution_mode": "strict", "max_iterations": 1}


def api_client(base_url: str, key: str, connections: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        headers={"Authorization": f"Bearer {key}"},
        timeout=120,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


async def bounded(n: int, concurrency: int, one: Callable[[int], Any]) -> list[Any]:
    """one(0) … one(n-1), at most `concurrency` at a time, results in order."""
    gate = asyncio.Semaphore(concurrency)

    async def run(i: int) -> Any:
        async with gate:
            return await one(i)

    return list(await asyncio.gather(*(run(i) for i in range(n))))


async def submit(
    http: httpx.AsyncClient, body: dict[str, Any], n: int, concurrency: int
) -> list[str]:
    """Submit `n` copies of `body`; their task ids, in submission order."""

    async def one(_: int) -> str:
        response = await http.post("/api/v1/tasks", json=body)
        if response.status_code != 201:
            raise BenchTaskError(f"submission refused: {response.status_code} {response.text}")
        return str(response.json()["id"])

    return await bounded(n, concurrency, one)


async def in_phase(http: httpx.AsyncClient, phase: str | None) -> dict[str, dict[str, Any]]:
    """Every task now in `phase` (None: every task), by id (all pages of the list)."""
    found: dict[str, dict[str, Any]] = {}
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": PAGE}
        if phase is not None:
            params["phase"] = phase
        if cursor:
            params["cursor"] = cursor
        response = await http.get("/api/v1/tasks", params=params)
        response.raise_for_status()
        page = response.json()
        found.update({item["id"]: item for item in page["items"]})
        cursor = page.get("next_cursor")
        if not cursor:
            return found


async def wait_for_phase(
    http: httpx.AsyncClient,
    ids: Collection[str],
    phase: str,
    progress: Callable[[int], None] = lambda _n: None,
) -> dict[str, dict[str, Any]]:
    """Poll until every task of `ids` is in `phase`; their list items. A task that ended
    badly on the way stops the wait with its error (the caller bounds the time)."""
    wanted = set(ids)
    while True:
        there = {i: item for i, item in (await in_phase(http, phase)).items() if i in wanted}
        progress(len(there))
        if len(there) == len(wanted):
            return there
        for bad in (b for b in ENDED_BADLY if b != phase):
            ended = [item for i, item in (await in_phase(http, bad)).items() if i in wanted]
            if ended:
                first = ended[0]
                raise BenchTaskError(
                    f"{len(ended)} task(s) {bad} instead of reaching {phase}; "
                    f"task {first['id']}: {first.get('error')}"
                )
        await asyncio.sleep(POLL_S)


async def approve(
    http: httpx.AsyncClient, ids: list[str], concurrency: int
) -> tuple[dict[str, datetime], int]:
    """Approve every task; when each approval was first sent (UTC, the clock the API's
    updated_at uses on this machine), and how many answers were 503.

    A 503 is the API giving up on the workflow's answer (api/routes/interventions.py,
    UPDATE_TIMEOUT_S) while Temporal still holds the update: it is sent again, and a 409
    then means the first one was taken after all (nothing awaits approval any more)."""
    sent: dict[str, datetime] = {}
    unavailable = 0

    async def one(i: int) -> None:
        nonlocal unavailable
        task_id = ids[i]
        sent[task_id] = datetime.now(UTC)
        retried = False
        while True:
            response = await http.post(f"/api/v1/tasks/{task_id}/approve", json={"reason": "bench"})
            if response.status_code == 202 or (retried and response.status_code == 409):
                return
            if response.status_code != 503:
                raise BenchTaskError(f"approve {task_id}: {response.status_code} {response.text}")
            unavailable += 1
            retried = True
            await asyncio.sleep(POLL_S)

    await bounded(len(ids), concurrency, one)
    return sent, unavailable


def updated_at(item: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(item["updated_at"])


def created_at(item: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(item["created_at"])


class Progress:
    """A line now and then on stderr, so a long wait shows it is moving."""

    def __init__(self, what: str, total: int, every_s: float = 10.0) -> None:
        self.what, self.total, self.every_s = what, total, every_s
        self.began = self.last = time.monotonic()

    def __call__(self, n: int) -> None:
        now = time.monotonic()
        if now - self.last >= self.every_s:
            self.last = now
            print(
                f"  {self.what}: {n}/{self.total} after {now - self.began:.0f} s", file=sys.stderr
            )
