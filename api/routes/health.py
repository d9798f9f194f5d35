"""GET /health: Temporal, the database, executors, workflow workers and the local stack,
each reported on its own.

Every probe runs at the same time as the others and within PROBE_TIMEOUT_S: a dependency
that hangs fails its own entry, it does not make the answer late. The answer is 200 when
Temporal and the database answer and at least one executor and one workflow worker poll
their queues (api.pollers); otherwise 503 with the same body, saying what is missing.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from agency.db.engine import ping
from agency.stack_state import StackState, StackStateError, is_running, read_stack_state
from api.deps import StateDep
from api.health_schemas import (
    DependencyHealth,
    Health,
    PollerPublic,
    PollersHealth,
    StackHealth,
    StackPartPublic,
)
from api.pollers import QueueKind, pollers
from api.state import AppState
from api.temporal_gateway import describe

log = logging.getLogger("agency.api")

router = APIRouter(tags=["health"])

PROBE_TIMEOUT_S = 5.0


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(state: StateDep) -> JSONResponse:
    """Each dependency's state; 503 (same body) when the stack cannot run tasks now."""
    settings = state.settings
    temporal, database, executors, workers, stack = await asyncio.gather(
        _temporal(state),
        _database(state),
        _pollers(state, settings.executor_task_queue, "activity"),
        _pollers(state, settings.task_queue, "workflow"),
        _stack(settings.stack_state_file),
    )
    ok = temporal.ok and database.ok and executors.ok and workers.ok
    body = Health(
        status="ok" if ok else "degraded",
        temporal=temporal,
        database=database,
        executors=executors,
        workers=workers,
        stack=stack,
    )
    # No stack supervisor here: the entry is left out rather than sent as null.
    content = body.model_dump(mode="json", exclude={"stack"} if stack is None else None)
    return JSONResponse(content, status_code=200 if ok else 503)


async def _temporal(state: AppState) -> DependencyHealth:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            ok, detail = await state.temporal.healthy()
    except TimeoutError:
        return DependencyHealth(ok=False, detail="no answer in time")
    return DependencyHealth(ok=ok, detail=detail)


async def _database(state: AppState) -> DependencyHealth:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S), state.sessions() as session:
            await ping(session)
    except Exception as err:  # any failure to answer is "down", with its kind
        return DependencyHealth(ok=False, detail=type(err).__name__)
    return DependencyHealth(ok=True, detail="reachable")


async def _pollers(state: AppState, task_queue: str, kind: QueueKind) -> PollersHealth:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            found = await pollers(await state.temporal.client(), task_queue, kind)
    except Exception as err:  # without Temporal nobody can be seen polling
        return PollersHealth(
            ok=False,
            detail=f"Temporal cannot be asked: {describe(err)}",
            task_queue=task_queue,
            pollers=[],
        )
    active = sum(p.active for p in found)
    return PollersHealth(
        ok=active > 0,
        detail=f"{active} active" if active else "nobody polls this queue",
        task_queue=task_queue,
        pollers=[
            PollerPublic(identity=p.identity, last_access_time=p.last_access_time, active=p.active)
            for p in found
        ],
    )


async def _stack(path: Path) -> StackHealth | None:
    try:
        # A worker thread: a state file on a hung file system must not stall the loop.
        found = await asyncio.wait_for(asyncio.to_thread(_running_stack, path), PROBE_TIMEOUT_S)
    except (StackStateError, TimeoutError) as err:
        log.info("stack state %s not shown: %s", path, err)
        return None
    if found is None:
        return None
    return StackHealth(
        supervisor_pid=found.supervisor_pid,
        updated_at=found.updated_at,
        parts=[
            StackPartPublic(name=p.name, state=p.state, restarts=p.restarts, pid=p.pid)
            for p in found.parts
        ],
    )


def _running_stack(path: Path) -> StackState | None:
    """The state file's stack, if its supervisor still runs (else the file is history)."""
    state = read_stack_state(path)
    return state if state is not None and is_running(state) else None
