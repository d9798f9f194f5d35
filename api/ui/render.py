"""Rendering: the Jinja2 environment, pages and fragments, and errors as panels.

Every dashboard route uses `UiRoute`: what a route raises becomes a page (or, for an htmx
request, the panel alone) instead of JSON. A problem (api.problems) is rendered with its
status, title, detail and each field problem, exactly what an API client would read in
the problem+json; a request without a session goes to the sign-in page; an outage is the
API's 503 problem. Every answer carries the dashboard's security headers: a Content
Security Policy that allows nothing but this origin, no framing, no referrer to others.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from api.outages import is_outage
from api.problems import FieldProblem, Problem, ProblemError, invalid, outage_problem
from api.ui import present
from api.ui.session import COOKIE_PATH, CSRF_FIELD, UiUser

log = logging.getLogger("agency.api.ui")

STATIC = Path(__file__).parent / "static"
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
# htmx: no eval, no inline styles or scripts of its own, error answers swapped in (they
# are problem panels), no page snapshots in localStorage.
HTMX_CONFIG = json.dumps(
    {
        "includeIndicatorStyles": False,
        "allowEval": False,
        "allowScriptTags": False,
        "historyCacheSize": 0,
        "selfRequestsOnly": True,
        "responseHandling": [
            {"code": "204", "swap": False},
            {"code": "[2345]..", "swap": True, "error": False},
        ],
    },
    separators=(",", ":"),
)
NAV = (
    ("overview", "Overview", "/ui/", "viewer"),
    ("tasks", "Tasks", "/ui/tasks", "viewer"),
    ("trends", "Trends", "/ui/trends", "viewer"),
    ("chat", "Chat", "/ui/chat", "viewer"),
    ("models", "Models", "/ui/models", "viewer"),
    ("waivers", "Waivers", "/ui/waivers", "viewer"),
    ("alerts", "Alerts", "/ui/alerts", "viewer"),
    ("keys", "Keys", "/ui/keys", "admin"),
    ("explorer", "Explorer", "/ui/explorer", "admin"),
)


class SignInRequired(Exception):
    """No valid session: the page sends the browser to sign in."""


@cache
def _asset_versions() -> dict[str, str]:
    """Cache-busting query values: the vendored files' versions, our files' mtimes."""
    versions: dict[str, str] = {}
    manifest = json.loads((STATIC / "vendor" / "manifest.json").read_text())
    for package in manifest["packages"]:
        for item in package["files"]:
            versions[f"vendor/{item['path']}"] = item["sha256"][:12]
    for path in STATIC.glob("*"):
        if path.is_file():
            versions[path.name] = str(int(path.stat().st_mtime))
    return versions


def static_url(name: str) -> str:
    version = _asset_versions().get(name, "0")
    return f"{COOKIE_PATH}/static/{name}?v={version}"


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("api.ui", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        static=static_url,
        htmx_config=HTMX_CONFIG,
        csrf_field=CSRF_FIELD,
        nav=NAV,
        present=present,
    )
    env.filters.update(
        ts=present.timestamp,
        ago=present.ago,
        duration=present.duration,
        q=lambda value: quote(str(value), safe=""),
        tojson_attr=lambda value: Markup(json.dumps(value, separators=(",", ":"))),
    )
    return env


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def base_context(request: Request, user: UiUser | None) -> dict[str, Any]:
    return {
        "request": request,
        "user": user,
        "principal": user.principal if user else None,
        "csrf": user.csrf if user else "",
        "path": request.url.path,
        "now": datetime.now(UTC),
    }


def page(
    request: Request,
    template: str,
    user: UiUser | None,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    body = render(template, **base_context(request, user), **context)
    return HTMLResponse(body, status_code=status, headers=dict(headers or {}))


async def page_off_loop(
    request: Request, template: str, user: UiUser | None, **context: Any
) -> HTMLResponse:
    """`page` for a big page (a task with its diff): rendered on a worker thread, so the
    event loop keeps serving other requests and streams meanwhile."""
    body = await asyncio.to_thread(render, template, **base_context(request, user), **context)
    return HTMLResponse(body)


def fragment(
    request: Request,
    template: str,
    user: UiUser | None,
    *,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    return page(request, template, user, status=status, **context)


def problem_page(
    request: Request, problem: Problem, headers: Mapping[str, str] | None = None
) -> HTMLResponse:
    user: UiUser | None = getattr(request.state, "ui_user", None)
    template = "partials/problem.html" if is_htmx(request) else "error.html"
    return page(
        request,
        template,
        user,
        status=problem.status,
        headers=headers,
        problem=problem,
        title=problem.title,
    )


def sign_in_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = f"{COOKIE_PATH}/sign-in?next={quote(target, safe='')}"
    if is_htmx(request):
        return PlainTextResponse("sign in", status_code=401, headers={"HX-Redirect": location})
    if "text/event-stream" in request.headers.get("accept", ""):
        return PlainTextResponse("sign in", status_code=401)
    return RedirectResponse(location, status_code=303)


def _validation_problem(err: RequestValidationError) -> Problem:
    errors = [
        FieldProblem(
            path=".".join(
                str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path", "header")
            )
            or "request",
            message=str(e.get("msg")),
        )
        for e in err.errors()
    ]
    return invalid(errors).problem


class UiRoute(APIRoute):
    """A dashboard route: errors become pages or panels, security headers on every answer."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except SignInRequired:
                response = sign_in_redirect(request)
            except ProblemError as err:
                response = problem_page(request, err.problem, err.headers)
            except RequestValidationError as err:
                response = problem_page(request, _validation_problem(err))
            except Exception as err:
                if not is_outage(err):
                    log.exception("dashboard error: %s", type(err).__name__)
                    problem = Problem(
                        type="https://agent-agency.dev/problems/internal",
                        title="Internal error",
                        status=500,
                        detail="the server could not complete the request",
                    )
                    response = problem_page(request, problem)
                else:
                    outage = outage_problem(err)
                    response = problem_page(request, outage.problem, outage.headers)
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return route


def panel(
    request: Request, user: UiUser, template: str, *, status: int = 200, **context: Any
) -> Response:
    """A panel: alone for htmx, inside a page otherwise."""
    if is_htmx(request):
        return fragment(request, template, user, status=status, **context)
    return page(
        request,
        "panel_page.html",
        user,
        status=status,
        panel=template,
        nav_current="tasks",
        **context,
    )
