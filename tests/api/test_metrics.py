"""KPIs: a snapshot as JSON, and one every second over SSE."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import cast

from agency.cli.logs import parse_sse
from api.kpis import KpiSnapshot, KpiSource, percentile
from api.state import AppState
from tests.api.conftest import ApiUnderTest
from tests.api.test_tasks import finished, wait_task
from tests.support.repos import task_spec


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.95) is None
    assert percentile([3.0], 0.95) == 3.0
    assert percentile([float(i) for i in range(1, 101)], 0.95) == 95.0


async def test_snapshot_after_a_completed_task(api: ApiUnderTest) -> None:
    empty = (await api.http.get("/api/v1/metrics")).json()
    assert empty["tasks_by_phase"] == {} and empty["success_rate"] is None
    assert empty["active_executors"] == empty["executors"] == 1

    task = (await api.http.post("/api/v1/tasks", json=task_spec(api.h.repo))).json()
    await wait_task(api.http, task["id"], finished)
    # The snapshot is cached for a second: the finished task shows within a bound.
    deadline = time.monotonic() + 10
    while (kpis := (await api.http.get("/api/v1/metrics")).json())["tasks_by_phase"] != {
        "completed": 1
    }:
        assert time.monotonic() < deadline, kpis
        await asyncio.sleep(0.1)
    assert kpis["running"] == 0 and kpis["finished_in_window"] == 1
    assert kpis["success_rate"] == 1.0
    assert kpis["p95_latency_s"] > 0 and kpis["throughput_per_min"] > 0


async def test_the_stream_sends_a_snapshot_every_second(api: ApiUnderTest) -> None:
    started = time.monotonic()
    snapshots = []
    async with api.http.stream(
        "GET", "/api/v1/metrics/stream?count=3", headers={"Accept": "text/event-stream"}
    ) as response:
        assert response.status_code == 200
        assert "RateLimit" in response.headers
        lines = [line async for line in response.aiter_lines()]
    for event in parse_sse(lines):
        assert event.event == "kpi"
        snapshots.append(json.loads(event.text))
    elapsed = time.monotonic() - started
    assert len(snapshots) == 3
    assert 1.8 <= elapsed < 10
    assert all(s["tenant"] == "default" for s in snapshots)


async def test_concurrent_requests_for_an_expired_snapshot_compute_it_once() -> None:
    class Counting(KpiSource):
        computed = 0

        async def _compute(self, tenant: str) -> KpiSnapshot:
            Counting.computed += 1
            await asyncio.sleep(0.05)  # the queries take a while: others arrive meanwhile
            snapshot = KpiSnapshot(
                at=datetime.now(UTC), tenant=tenant, window_s=3600, tasks_by_phase={},
                running=0, finished_in_window=0, throughput_per_min=0.0, success_rate=None,
                p95_latency_s=None, active_executors=0, executors=0,
            )  # fmt: skip
            self._snapshots[tenant] = (time.monotonic(), snapshot)
            return snapshot

    source = Counting(cast(AppState, None))
    got = await asyncio.gather(*(source.snapshot("default") for _ in range(20)))
    assert Counting.computed == 1 and all(s is got[0] for s in got)
    # Another tenant has its own snapshot.
    await source.snapshot("other")
    assert Counting.computed == 2
