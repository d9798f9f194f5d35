"""GET /metrics (Prometheus exposition) and the middleware that measures every request.

/metrics sits beside /health, outside /api/v1 and outside the OpenAPI document (it is
for scrapers, not API clients), and like /health it asks for no key: Prometheus scrapes
without credentials on the private network where the API runs, and the answer holds
counts and timings by route, never a task, an actor or a key. An operator who exposes
the API's port publicly puts /metrics behind the same proxy rule as /health.

Requests are labelled with the matched route's path template (`/api/v1/tasks/{task_id}`),
never the URL itself, so ten thousand task ids are one series; a URL that matches no
route is UNMATCHED, one series whatever was asked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agency.metrics.http import UNMATCHED, observe_request

# A client that went away before any response (nginx's convention for "closed request").
CLIENT_CLOSED = 499

router = APIRouter(tags=["metrics"], include_in_schema=False)


@router.get("/metrics")
async def prometheus_metrics(request: Request) -> Response:
    """This process's metrics, in the text format (or OpenMetrics when asked for)."""
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(REGISTRY), headers={"Content-Type": content_type})


def route_template(scope: Scope, mounts: tuple[str, ...] = ()) -> str:
    """The path template of the route the router matched, or UNMATCHED. Read after the
    app ran: the router writes the route into the request's scope. FastAPI's router does
    not for a mounted app (the dashboard's static files), which is named by its mount
    point, one of `mounts`."""
    route = scope.get("route")
    if isinstance(route, Mount):
        return f"{route.path}/{{path}}"
    template = getattr(route, "path_format", None)
    if isinstance(template, str):
        return template
    path = scope.get("path", "")
    for prefix in mounts:
        if path.startswith(prefix + "/"):
            return f"{prefix}/{{path}}"
    return UNMATCHED


class HttpMetrics:
    """ASGI middleware: each HTTP request counted and timed by route template, method
    and status (agency.metrics.http). Outermost but for Starlette's error handler, so
    that refusals by the other middleware (413, 405, 429) are counted too."""

    def __init__(self, app: ASGIApp, routes: Callable[[], Sequence[BaseRoute]]) -> None:
        self.app = app
        self._routes = routes
        self._mounts: tuple[str, ...] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._mounts is None:  # the routes are all there by the first request
            self._mounts = tuple(r.path for r in self._routes() if isinstance(r, Mount))
        started = time.perf_counter()
        # An exception before any response becomes Starlette's 500, outside this one.
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except asyncio.CancelledError:
            status = CLIENT_CLOSED if status == 500 else status
            raise
        finally:
            observe_request(
                route_template(scope, self._mounts),
                scope["method"],
                status,
                time.perf_counter() - started,
            )


def install_metrics(app: FastAPI) -> None:
    """/metrics, and the middleware; called last, so the middleware is outermost."""
    app.include_router(router)
    app.add_middleware(HttpMetrics, routes=lambda: app.routes)
