"""The FastAPI application: task API, interventions, health."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from temporalio.client import Client

from agency.db.engine import make_engine, session_maker
from agency.settings import Settings
from api.deps import AppState
from api.problems import install_problem_handlers
from api.routes import health, interventions, tasks
from api.temporal_gateway import TemporalGateway


def create_app(settings: Settings, temporal_client: Client | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.effective_database_url)
        async with httpx.AsyncClient() as http:
            app.state.agency = AppState(
                settings=settings,
                sessions=session_maker(engine),
                temporal=TemporalGateway(settings, temporal_client),
                http=http,
            )
            try:
                yield
            finally:
                await engine.dispose()

    app = FastAPI(
        title="Agent Agency",
        version="0.1.0",
        description="Governed autonomous coding-agent tasks: submit, watch, intervene, audit.",
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    app.include_router(tasks.router)
    app.include_router(interventions.router)
    app.include_router(health.router)
    return app
