"""The FastAPI application: task API, interventions, health."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI
from temporalio.client import Client

from agency.codec import EncryptionCodec
from agency.db.engine import make_engine, session_maker
from agency.db.key_cache import make_key_check
from agency.db.reads import make_reader
from agency.inference.catalog import Catalog
from agency.inference.chat import ChatService
from agency.inference.shared import shared_engine
from agency.settings import Settings
from agency.slo.spec import SloFile, load_slo_file
from agency.temporal_client import data_converter
from agency.temporal_security import temporal_security
from api.bounds import RequestBounds
from api.codec_cors import CodecCors
from api.deps import AppState
from api.methods import DeclaredMethods
from api.openapi import install_openapi
from api.problems import install_problem_handlers
from api.prometheus import install_metrics
from api.ratelimit import RateLimitHeaders
from api.routes import alerts as alert_routes
from api.routes import chat as chat_routes
from api.routes import codec as codec_routes
from api.routes import codec_login, explorer, health, interventions, keys, metrics, streams, tasks
from api.routes import models as model_routes
from api.routes import provenance as provenance_routes
from api.routes import slos as slo_routes
from api.routes import trends as trend_routes
from api.routes import waivers as waiver_routes
from api.shared_ratelimit import make_limiter
from api.stream_wakeups import make_wakeups
from api.temporal_gateway import TemporalGateway
from api.ui import install_ui

# Bounds on a request's database work when the server stops answering (PostgreSQL; see
# agency.db.engine): a statement, and the wait for a pooled connection. Connecting has
# its own bound (POSTGRES_CONNECT_TIMEOUT_S). The request then answers 503.
STATEMENT_TIMEOUT_S = 15.0
READ_TIMEOUT_S = 10.0
POOL_TIMEOUT_S = 10.0


def create_app(
    settings: Settings,
    temporal_client: Client | None = None,
    *,
    workflows: Sequence[type] = (),
    slo_file: SloFile | None = None,
) -> FastAPI:
    """`workflows`: the workflow classes `/replay` checks histories against (the entry
    point passes the task workflow; without them, replay answers 503). `slo_file`: the
    SLO file already read (the entry point reads it first); else read at start."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Temporal, codec and SLO settings that cannot work stop the API here, with their
        # reason, rather than turning every request into a 503.
        temporal_security(settings)
        app.state.slo_file = slo_file or load_slo_file(settings.slo_file)
        converter = data_converter(settings)
        codec = converter.payload_codec
        url = settings.effective_database_url
        engine = make_engine(
            url, command_timeout_s=STATEMENT_TIMEOUT_S, pool_timeout_s=POOL_TIMEOUT_S
        )
        reader = make_reader(
            url,
            command_timeout_s=READ_TIMEOUT_S,
            pool_timeout_s=POOL_TIMEOUT_S,
            pool_size=settings.database_pool_size,
        )
        key_check = make_key_check(url, reader)
        app.state.agency = AppState(
            settings=settings,
            sessions=session_maker(engine),
            reader=reader,
            keys=key_check,
            temporal=TemporalGateway(settings, temporal_client, converter),
            limiter=make_limiter(settings),
            # On PostgreSQL the key cache hears of changed keys on the streams' listener.
            wakeups=make_wakeups(settings, key_check.watchers()),
            codec=codec if isinstance(codec, EncryptionCodec) else None,
            workflows=tuple(workflows),
        )
        # The process's inference engine (models load on first use) and chat sessions.
        app.state.inference = shared_engine(settings)
        app.state.chat = ChatService(
            app.state.agency.sessions,
            app.state.agency.reader,
            app.state.inference,
            settings.inference_max_tokens,
        )
        try:
            yield
        finally:
            await app.state.chat.close()
            await app.state.agency.limiter.close()
            await app.state.agency.wakeups.close()
            await reader.close()
            await engine.dispose()

    app = FastAPI(
        title="Agent Agency",
        version="0.1.0",
        description="Governed autonomous coding-agent tasks: submit, watch, intervene, audit.",
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    app.include_router(tasks.router)
    app.include_router(streams.router)
    app.include_router(interventions.router)
    app.include_router(provenance_routes.router)
    app.include_router(waiver_routes.router)
    app.include_router(keys.router)
    app.include_router(model_routes.router)
    app.include_router(chat_routes.router)
    app.include_router(metrics.router)
    app.include_router(slo_routes.router)
    app.include_router(alert_routes.router)
    app.include_router(trend_routes.router)
    app.include_router(explorer.router)
    app.include_router(health.router)
    app.include_router(codec_routes.router)
    app.include_router(codec_login.router)
    # The dashboard (/ui): pages for browsers, not part of the OpenAPI document.
    install_ui(app)
    # Innermost: a method the OpenAPI document does not declare on a path is answered 405
    # with `Allow`, before any route can take the path for one of its own.
    app.add_middleware(DeclaredMethods, schema=lambda: app.openapi())
    app.add_middleware(RateLimitHeaders)
    # Outermost but for CORS: an oversized or unstorable request is refused before
    # anything else runs.
    app.add_middleware(RequestBounds, max_body_bytes=settings.max_body_bytes)
    # CORS for /codec only (the Temporal UI calls it from the browser), outside the rest
    # so that refusals (401, 413, 429) carry the headers the browser needs to read them.
    app.add_middleware(CodecCors, origin=settings.effective_temporal_ui_origin)
    # The model names a chat session may ask for are this configuration's.
    install_openapi(app, {"models": Catalog.build(settings.models, settings.model).names()})
    # GET /metrics, and the request metrics middleware (outermost: it counts refusals).
    install_metrics(app)
    return app
