"""The overview's figures: tiles (now, and over the last 24 h) and hourly series.

Task figures come from the API's KPI code (api.kpis.task_figures, over a 24 h window);
executors from its KPI source (Temporal's pollers of the executors' queue), workflow
workers from the same census of the workflow queue (api.pollers), interventions from
the task events of kind `intervention`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select
from starlette.requests import HTTPConnection

from agency.db.models import Task, TaskEvent
from agency.db.reads import Reader
from api.kpis import KpiSource, percentile, task_figures
from api.pollers import pollers
from domain.phases import TERMINAL_PHASES

log = logging.getLogger("agency.api.ui")

DAY_S = 24 * 3600
HOURS = 24
MAX_ROWS = 20_000
WORKER_PROBE_TTL_S = 5.0
CENSUS_TIMEOUT_S = 4.0


@dataclass
class Tiles:
    running: int
    waiting: int
    awaiting_approval: int
    paused: int
    done_24h: int
    completed_24h: int
    success_rate: float | None
    p95_s: float | None
    interventions_24h: int
    executors: int
    workers: int
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


def kpi_source(connection: HTTPConnection) -> KpiSource:
    """The API's KPI source (shared with /api/v1/metrics)."""
    source = getattr(connection.app.state, "kpis", None)
    if source is None:
        source = connection.app.state.kpis = KpiSource(connection.app.state.agency)
    return source


async def _workers(connection: HTTPConnection) -> int:
    cached = getattr(connection.app.state, "ui_workers", None)
    if cached is not None and time.monotonic() - cached[0] < WORKER_PROBE_TTL_S:
        return int(cached[1])
    state = connection.app.state.agency
    try:
        async with asyncio.timeout(CENSUS_TIMEOUT_S):
            found = await pollers(
                await state.temporal.client(), state.settings.task_queue, "workflow"
            )
        count = sum(p.active for p in found)
    except Exception as err:  # Temporal away: no worker can be seen taking work
        log.info("worker census failed: %s", type(err).__name__)
        count = 0
    connection.app.state.ui_workers = (time.monotonic(), count)
    return count


async def _count(reader: Reader, statement: Select[Any]) -> int:
    """The figure a COUNT statement answers (a count may scan: off the event loop)."""
    rows = await reader.all(statement, scan=True)
    return int(rows[0][0] or 0) if rows else 0


async def tiles(connection: HTTPConnection, tenant: str) -> Tiles:
    state = connection.app.state.agency
    now = datetime.now(UTC)
    since = now - timedelta(seconds=DAY_S)
    reader = state.reader
    figures = await task_figures(reader, tenant, now, window_s=DAY_S)
    paused = await _count(
        reader,
        select(func.count()).where(
            Task.tenant == tenant,
            Task.paused.is_(True),  # type: ignore[attr-defined]
            Task.phase.not_in(sorted(TERMINAL_PHASES)),  # type: ignore[attr-defined]
        ),
    )
    interventions = await _count(
        reader,
        select(func.count())
        .select_from(TaskEvent)
        .join(Task, Task.id == TaskEvent.task_id)
        .where(Task.tenant == tenant, TaskEvent.kind == "intervention", TaskEvent.at >= since),
    )
    snapshot, workers = await asyncio.gather(
        kpi_source(connection).snapshot(tenant), _workers(connection)
    )
    by_phase: dict[str, int] = figures["tasks_by_phase"]  # type: ignore[assignment]
    finished = int(figures["finished_in_window"])  # type: ignore[arg-type]
    success = figures["success_rate"]
    awaiting = by_phase.get("awaiting_approval", 0)
    return Tiles(
        running=int(figures["running"]),  # type: ignore[arg-type]
        waiting=awaiting + int(paused or 0),
        awaiting_approval=awaiting,
        paused=int(paused or 0),
        done_24h=finished,
        completed_24h=round(float(success) * finished) if success is not None else 0,  # type: ignore[arg-type]
        success_rate=success,  # type: ignore[arg-type]
        p95_s=figures["p95_latency_s"],  # type: ignore[arg-type]
        interventions_24h=int(interventions or 0),
        executors=snapshot.active_executors,
        workers=workers,
        at=now,
    )


async def hourly(connection: HTTPConnection, tenant: str) -> dict[str, Any]:
    """The last 24 h by hour (x: the start of each hour, Unix seconds)."""
    state = connection.app.state.agency
    now = datetime.now(UTC)
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(hours=HOURS)
    rows = await state.reader.all(
        select(Task.phase, Task.created_at, Task.updated_at)
        .where(Task.tenant == tenant, or_(Task.created_at >= start, Task.updated_at >= start))
        .limit(MAX_ROWS),
        scan=True,
    )
    moments = await state.reader.all(
        select(TaskEvent.at)
        .join(Task, Task.id == TaskEvent.task_id)
        .where(Task.tenant == tenant, TaskEvent.kind == "intervention", TaskEvent.at >= start)
        .limit(MAX_ROWS),
        scan=True,
    )

    def bucket(moment: datetime) -> int | None:
        index = int((moment - start).total_seconds() // 3600)
        return index if 0 <= index < HOURS else None

    submitted = [0] * HOURS
    completed = [0] * HOURS
    failed = [0] * HOURS
    durations: list[list[float]] = [[] for _ in range(HOURS)]
    interventions = [0] * HOURS
    for phase, created, updated in rows:
        i = bucket(created)
        if i is not None:
            submitted[i] += 1
        if phase in TERMINAL_PHASES:
            j = bucket(updated)
            if j is not None:
                if phase == "completed":
                    completed[j] += 1
                else:
                    failed[j] += 1
                durations[j].append(max(0.0, (updated - created).total_seconds()))
    for (moment,) in moments:
        k = bucket(moment)
        if k is not None:
            interventions[k] += 1
    return {
        "x": [int((start + timedelta(hours=h)).timestamp()) for h in range(HOURS)],
        "submitted": submitted,
        "completed": completed,
        "failed": failed,
        "interventions": interventions,
        "p95_s": [
            round(p, 3) if (p := percentile(d, 0.95)) is not None else None for d in durations
        ],
    }
