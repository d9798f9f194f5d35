"""RFC 9457 problem details for every error the API returns; never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from agency.metrics.http import count_unavailable
from api.outages import Dependency, TemporalUnavailableError, down_dependency, is_outage

log = logging.getLogger("agency.api")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://agent-agency.dev/problems/"
# What a 503 asks clients to wait: outages of a few seconds (a restart, a failover) are
# the common case, and a retry that finds the dependency still down is cheap.
RETRY_AFTER_S = 5
NAMES: dict[Dependency, str] = {"database": "the database", "temporal": "Temporal"}


class FieldProblem(BaseModel):
    path: str
    message: str
    rule: str | None = Field(
        default=None,
        description="A stable rule id: the CAWS kernel's (e.g. "
        "`spec.schema.mode.development_removed`) where CAWS has the rule, `agency.*` for ours",
    )


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldProblem] | None = None
    unavailable: list[str] | None = Field(
        default=None,
        description="On 503: the dependencies that are down (`database`, `temporal`)",
    )


class ProblemError(Exception):
    def __init__(
        self,
        status: int,
        kind: str,
        title: str,
        detail: str | None = None,
        errors: list[FieldProblem] | None = None,
        headers: dict[str, str] | None = None,
        unavailable: list[str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.problem = Problem(
            type=TYPE_BASE + kind,
            title=title,
            status=status,
            detail=detail,
            errors=errors,
            unavailable=unavailable,
        )
        self.headers = headers


def not_found(what: str) -> ProblemError:
    return ProblemError(404, "not-found", "Not found", f"{what} not found")


def conflict(detail: str) -> ProblemError:
    return ProblemError(409, "conflict", "Intervention does not apply", detail)


def unavailable(detail: str, *down: Dependency) -> ProblemError:
    """503 with Retry-After; `down` names the dependencies that are down, when known."""
    count_unavailable(*down)  # every 503 of an outage is made here
    return ProblemError(
        503,
        "unavailable",
        "A dependency is unavailable",
        detail,
        headers={"Retry-After": str(RETRY_AFTER_S)},
        unavailable=list(down) or None,
    )


def outage_problem(exc: BaseException) -> ProblemError:
    """The 503 for an exception that `api.outages.is_outage` recognises."""
    down = down_dependency(exc)
    if down is None:
        return unavailable("a dependency did not answer")
    return unavailable(f"{NAMES[down]} is unavailable", down)


def invalid(errors: list[FieldProblem], detail: str | None = None) -> ProblemError:
    summary = detail or f"{len(errors)} problem(s) in the request"
    return ProblemError(422, "invalid-request", "Invalid request", summary, errors)


def unauthorized(detail: str) -> ProblemError:
    return ProblemError(
        401,
        "unauthorized",
        "Authentication required",
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="agency"'},
    )


def forbidden(detail: str) -> ProblemError:
    return ProblemError(403, "forbidden", "Not allowed for this key's role", detail)


def too_large(limit: int) -> ProblemError:
    return ProblemError(
        413, "payload-too-large", "Request body too large", f"the limit is {limit} bytes"
    )


def rate_limited(detail: str, headers: dict[str, str]) -> ProblemError:
    return ProblemError(429, "rate-limited", "Too many requests", detail, headers=headers)


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or str(loc[0] if loc else "")


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(_: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(exc.problem, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            FieldProblem(path=_loc_to_path(tuple(e.get("loc", ()))), message=str(e.get("msg")))
            for e in exc.errors()
        ]
        return problem_response(invalid(errors).problem)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # FastAPI's answer to a body it cannot decode: a request problem like any other.
            body = FieldProblem(path="body", message=str(exc.detail))
            return problem_response(invalid([body]).problem)
        kind = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        problem = Problem(
            type=TYPE_BASE + kind,
            title=str(exc.detail) if exc.status_code < 500 else "Server error",
            status=exc.status_code,
        )
        return problem_response(problem, getattr(exc, "headers", None))

    async def _dependency(request: Request, exc: Exception) -> JSONResponse:
        if is_outage(exc):
            problem = outage_problem(exc)
            log.warning("%s: %s", problem.problem.detail, type(exc).__name__)
            return problem_response(problem.problem, problem.headers)
        return await _unexpected(request, exc)

    # Registered by class (not only under Exception) so that Starlette answers them like
    # any handled error instead of re-raising them to the server as crashes.
    for kind in _outage_classes():
        app.add_exception_handler(kind, _dependency)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # Logged for operators; the client gets no internals.
        log.exception("unhandled error: %s", type(exc).__name__)
        problem = Problem(
            type=TYPE_BASE + "internal",
            title="Internal error",
            status=500,
            detail="the server could not complete the request",
        )
        return problem_response(problem)


def _outage_classes() -> tuple[type[BaseException], ...]:
    """The exception classes an outage can surface as (api.outages sorts them out)."""
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeoutError
    from temporalio.client import RPCTimeoutOrCancelledError
    from temporalio.service import RPCError

    found: list[type[BaseException]] = [
        DBAPIError,
        PoolTimeoutError,
        OSError,
        TimeoutError,
        RPCError,
        RPCTimeoutOrCancelledError,
        TemporalUnavailableError,
    ]
    try:
        import asyncpg
    except ImportError:  # a SQLite-only installation
        return tuple(found)
    # asyncpg's own errors escape SQLAlchemy unwrapped while connecting.
    return (*found, asyncpg.PostgresError, asyncpg.InterfaceError)
