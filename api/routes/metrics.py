"""KPIs for dashboards: one snapshot as JSON, or a snapshot every second over SSE."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from agency.metrics.http import count_dependency_error
from api.deps import StateDep, ViewerDep
from api.kpis import KpiSnapshot, KpiSource
from api.outages import is_database_unavailable
from api.routes.streams import PING_INTERVAL_S, SSE

log = logging.getLogger("agency.api")

router = APIRouter(prefix="/api/v1/metrics", tags=["metrics"])

INTERVAL_S = 1.0
MAX_SNAPSHOTS = 86_400
# One event of the stream (OpenAPI 3.1: a text/event-stream schema describes one event):
# `kpi`, its data a KpiSnapshot as JSON, its id the snapshot's number from 0.
KPI_EVENT = {
    "type": "object",
    "required": ["event", "data", "id"],
    "properties": {
        "event": {"const": "kpi"},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {"$ref": "#/components/schemas/KpiSnapshot"},
        },
        "id": {"type": "string", "pattern": "^[0-9]+$"},
        "retry": {"type": "integer", "minimum": 0},
    },
}


def kpi_source(request: Request, state: StateDep) -> KpiSource:
    source = getattr(request.app.state, "kpis", None)
    if source is None:
        source = request.app.state.kpis = KpiSource(state)
    return source


@router.get("", response_model=KpiSnapshot)
async def metrics_snapshot(request: Request, state: StateDep, principal: ViewerDep) -> KpiSnapshot:
    """The key figures of the caller's tenant, now."""
    return await kpi_source(request, state).snapshot(principal.tenant)


@router.get(
    "/stream",
    responses={
        200: {
            "description": "A `kpi` event with a KpiSnapshot (JSON) every second",
            "content": {SSE: {"schema": KPI_EVENT}},
        }
    },
    response_class=EventSourceResponse,
)
async def metrics_stream(
    request: Request,
    state: StateDep,
    principal: ViewerDep,
    count: Annotated[
        int | None,
        Query(ge=1, le=MAX_SNAPSHOTS, description="stop after this many snapshots"),
    ] = None,
) -> EventSourceResponse:
    """Key figures of the caller's tenant every second: tasks by phase, throughput,
    success rate, p95 latency and active executors."""
    source = kpi_source(request, state)
    return EventSourceResponse(_snapshots(source, principal.tenant, count), ping=PING_INTERVAL_S)


async def _snapshots(
    source: KpiSource, tenant: str, count: int | None
) -> AsyncIterator[ServerSentEvent]:
    sent = 0
    loop = asyncio.get_running_loop()
    while count is None or sent < count:
        started = loop.time()
        try:
            snapshot = await source.snapshot(tenant)
        except Exception as err:
            if not is_database_unavailable(err):
                raise
            count_dependency_error("database", "stream_retried")
            log.info("metrics stream waits for the database")
        else:
            yield ServerSentEvent(data=snapshot.model_dump_json(), event="kpi", id=str(sent))
            sent += 1
            if count is not None and sent >= count:
                return
        await asyncio.sleep(max(0.0, INTERVAL_S - (loop.time() - started)))
