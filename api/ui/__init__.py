"""The dashboard: server-rendered pages under /ui, served by the API process.

Pages are Jinja2 templates (api/ui/templates) made better by htmx and its SSE extension
(partial and live updates); everything reads with JavaScript off, and acts through
plain forms. Front-end files are vendored, pinned and checked against
static/vendor/manifest.json; no page loads anything from another host.

Reads and actions go through the API's own route functions (api.ui.reuse): the same
roles, tenants, validation and audit. Signing in exchanges an API key, or a one-time
link, for a session cookie (api.ui.session). None of these routes is in the API's
OpenAPI document.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.responses import RedirectResponse
from starlette.staticfiles import StaticFiles

from api.ui.render import STATIC
from api.ui.session import COOKIE_PATH

__all__ = ["install_ui"]


def install_ui(app: FastAPI) -> None:
    from api.ui import (
        routes_alerts,
        routes_auth,
        routes_chat,
        routes_explorer,
        routes_pages,
        routes_task,
        routes_tasks,
        routes_trends,
    )

    app.include_router(routes_auth.router)
    app.include_router(routes_auth.links_router)
    app.include_router(routes_pages.router)
    # The list's fixed paths (/tasks/stream, /tasks/bulk) before a task's /tasks/{id}.
    app.include_router(routes_tasks.router)
    app.include_router(routes_task.router)
    app.include_router(routes_chat.router)
    app.include_router(routes_alerts.router)
    app.include_router(routes_chat.socket_router)
    app.include_router(routes_trends.router)
    app.include_router(routes_explorer.router)
    app.mount(f"{COOKIE_PATH}/static", StaticFiles(directory=STATIC), name="ui-static")

    @app.get(COOKIE_PATH, include_in_schema=False)
    async def ui_root() -> RedirectResponse:
        return RedirectResponse(f"{COOKIE_PATH}/", status_code=308)
