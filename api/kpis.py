"""Key figures for the dashboard: tasks by phase, throughput, success rate, p95 latency and
active executors, for one tenant, from the projection and the pollers of the executors'
queue (api.pollers)."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import func, select

from agency.db.models import Task
from agency.db.reads import Reader
from agency.db.types import utcnow
from api.pollers import pollers
from api.state import AppState
from domain.phases import TERMINAL_PHASES

log = logging.getLogger("agency.api")

WINDOW_S = 3600
# Finished tasks read per snapshot for the latency percentile (newest first).
LATENCY_SAMPLE = 5000
EXECUTOR_PROBE_TTL_S = 5.0
# Connecting to Temporal and asking it, together: a snapshot is never held up longer.
CENSUS_TIMEOUT_S = 4.0
SNAPSHOT_TTL_S = 1.0


class KpiSnapshot(BaseModel):
    at: datetime
    tenant: str
    window_s: int = Field(description="the window throughput, success and latency cover")
    tasks_by_phase: dict[str, int]
    running: int = Field(description="tasks not in a terminal phase")
    finished_in_window: int
    throughput_per_min: float = Field(description="tasks finished per minute in the window")
    success_rate: float | None = Field(
        description="completed / finished in the window; null when none finished"
    )
    p95_latency_s: float | None = Field(
        description="95th percentile of submit-to-finish time in the window"
    )
    active_executors: int = Field(
        description="executors polling their queue now (0 while Temporal cannot be asked)"
    )
    executors: int = Field(description="executors Temporal has seen polling in recent minutes")


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


async def task_figures(
    reader: Reader, tenant: str, now: datetime, window_s: int = WINDOW_S
) -> dict[str, object]:
    by_phase_rows = await reader.all(
        select(Task.phase, func.count()).where(Task.tenant == tenant).group_by(Task.phase),
        scan=True,
    )
    by_phase = {phase: int(count) for phase, count in by_phase_rows}
    since = now - timedelta(seconds=window_s)
    finished = await reader.all(
        select(Task.phase, Task.created_at, Task.updated_at)
        .where(
            Task.tenant == tenant,
            Task.phase.in_(sorted(TERMINAL_PHASES)),  # type: ignore[attr-defined]
            Task.updated_at >= since,
        )
        .order_by(Task.updated_at.desc())  # type: ignore[attr-defined]
        .limit(LATENCY_SAMPLE),
        scan=True,
    )
    completed = sum(1 for phase, _, _ in finished if phase == "completed")
    latencies = [max(0.0, (done - created).total_seconds()) for _, created, done in finished]
    p95 = percentile(latencies, 0.95)
    return {
        "tasks_by_phase": by_phase,
        "running": sum(n for phase, n in by_phase.items() if phase not in TERMINAL_PHASES),
        "finished_in_window": len(finished),
        "throughput_per_min": round(len(finished) / (window_s / 60), 4),
        "success_rate": round(completed / len(finished), 4) if finished else None,
        "p95_latency_s": round(p95, 3) if p95 is not None else None,
    }


class KpiSource:
    """Snapshots per tenant, cached for a second (many dashboards, one query set), and the
    executors' pollers, asked of Temporal at most every few seconds."""

    def __init__(self, state: AppState) -> None:
        self._state = state
        self._snapshots: dict[str, tuple[float, KpiSnapshot]] = {}
        self._executors: tuple[float, int, int] | None = None
        self._lock = asyncio.Lock()
        self._computing: dict[str, asyncio.Lock] = {}

    async def snapshot(self, tenant: str) -> KpiSnapshot:
        cached = self._fresh(tenant)
        if cached is not None:
            return cached
        # One computation per tenant at a time: the requests that find the snapshot
        # expired wait for the one computing it rather than each running the queries
        # (at a million tasks the count by phase reads every row of the tenant's).
        async with self._computing.setdefault(tenant, asyncio.Lock()):
            return self._fresh(tenant) or await self._compute(tenant)

    def _fresh(self, tenant: str) -> KpiSnapshot | None:
        cached = self._snapshots.get(tenant)
        if cached is not None and time.monotonic() - cached[0] < SNAPSHOT_TTL_S:
            return cached[1]
        return None

    async def _compute(self, tenant: str) -> KpiSnapshot:
        now = utcnow()
        figures = await task_figures(self._state.reader, tenant, now)
        active, total = await self._executor_counts()
        snapshot = KpiSnapshot(
            at=now,
            tenant=tenant,
            window_s=WINDOW_S,
            active_executors=active,
            executors=total,
            **figures,  # type: ignore[arg-type]
        )
        self._snapshots[tenant] = (time.monotonic(), snapshot)
        return snapshot

    async def _executor_counts(self) -> tuple[int, int]:
        async with self._lock:
            if (
                self._executors is not None
                and time.monotonic() - self._executors[0] < EXECUTOR_PROBE_TTL_S
            ):
                return self._executors[1], self._executors[2]
            try:
                async with asyncio.timeout(CENSUS_TIMEOUT_S):
                    found = await pollers(
                        await self._state.temporal.client(),
                        self._state.settings.executor_task_queue,
                        "activity",
                    )
            except Exception as err:  # Temporal down: no executor can be seen taking work
                log.info("executor census failed: %s", type(err).__name__)
                found = []
            active = sum(p.active for p in found)
            self._executors = (time.monotonic(), active, len(found))
            return active, len(found)
