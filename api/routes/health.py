"""GET /health: Temporal, the database and each executor, reported separately."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from agency.db import records
from api.deps import StateDep
from api.schemas import DependencyHealth, ExecutorHealthPublic, Health

router = APIRouter(tags=["health"])


async def _database(state: StateDep) -> DependencyHealth:
    try:
        async with state.sessions() as session:
            await asyncio.wait_for(records.ping(session), timeout=3)
    except Exception as err:
        return DependencyHealth(ok=False, detail=f"{type(err).__name__}"[:300])
    return DependencyHealth(ok=True, detail="reachable")


async def _executor(state: StateDep, url: str) -> ExecutorHealthPublic:
    try:
        response = await state.http.get(f"{url.rstrip('/')}/health", timeout=3)
        data = response.json()
        # An executor that answers but would refuse agents (no sandbox) is not healthy.
        ok = response.status_code == 200 and not data.get("problem")
        detail = data.get("problem") or f"{data.get('active_runs')} active"
        return ExecutorHealthPublic(
            url=url,
            ok=ok,
            sandbox=data.get("sandbox"),
            detail=detail,
            active_runs=data.get("active_runs"),
        )
    except Exception as err:
        return ExecutorHealthPublic(url=url, ok=False, detail=type(err).__name__)


async def _remember_executors(state: StateDep, executors: list[ExecutorHealthPublic]) -> None:
    """Keep the executors table current: what each executor looked like when last probed."""
    async with state.sessions() as session:
        for e in executors:
            await records.upsert_executor(
                session,
                url=e.url,
                status="ok" if e.ok else "down",
                sandbox=e.sandbox or "unknown",
                active_runs=e.active_runs or 0,
            )


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(state: StateDep) -> JSONResponse:
    temporal_ok, temporal_detail = await state.temporal.healthy()
    database, *executors = await asyncio.gather(
        _database(state), *(_executor(state, u) for u in state.settings.executor_urls)
    )
    if database.ok:
        await _remember_executors(state, executors)
    ok = temporal_ok and database.ok and all(e.ok for e in executors)
    body = Health(
        status="ok" if ok else "degraded",
        temporal=DependencyHealth(ok=temporal_ok, detail=temporal_detail),
        database=database,
        executors=executors,
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if ok else 503)
