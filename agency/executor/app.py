"""The executor's HTTP service: runs agents and gates in sandboxed worktrees for the workers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import uvicorn
from fastapi import Depends, FastAPI, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from agency.executor.errors import ExecutorProblem
from agency.executor.layout import Layout
from agency.executor.paths import gate_problems, request_problems, run_id_problem
from agency.executor.runs import RunManager
from agency.executor.sandbox import Sandbox
from agency.executor.schemas import (
    RUN_ID_PATTERN,
    ApplyRequest,
    ApplyResult,
    ExecuteRequest,
    ExecutorHealth,
    GatesRequest,
    RunState,
    RunStatus,
)
from agency.settings import Settings

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
MAX_WAIT_S = 30.0


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of this service is reported."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = None


_PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {PROBLEM_JSON: {}}} for code in (404, 409, 422, 503)
}


def problem_response(
    status: int, title: str, detail: str, type_: str = "about:blank", **extra: Any
) -> JSONResponse:
    body = Problem(type=type_, title=title, status=status, detail=detail, **extra)
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, media_type=PROBLEM_JSON
    )


def _runs(request: Request) -> RunManager:
    return request.app.state.runs  # type: ignore[no-any-return]


Runs = Annotated[RunManager, Depends(_runs)]


def _run_id(run_id: Annotated[str, Path(pattern=RUN_ID_PATTERN)]) -> str:
    if problem := run_id_problem(run_id):
        raise RequestValidationError([_error(("path", "run_id"), problem)])
    return run_id


RunId = Annotated[str, Depends(_run_id)]


def _error(loc: tuple[str | int, ...], msg: str) -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": "value_error"}


def create_app(settings: Settings, *, bwrap_path: str | None = None) -> FastAPI:
    """The app; `bwrap_path` overrides where bubblewrap is looked for (None: the default)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        layout = Layout(settings.executor_data_dir.resolve())
        sandbox = Sandbox.detect(
            bwrap_path=bwrap_path,
            allow_unsandboxed=settings.allow_unsandboxed,
            # Other runs' worktrees, logs and records are none of an agent's business.
            hidden=(layout.workspaces, layout.logs, layout.runs, layout.artifacts),
        )
        if sandbox.problem:
            log.warning("%s", sandbox.problem)
        runs = RunManager(settings, sandbox, layout)
        await runs.start()
        app.state.runs = runs
        app.state.sandbox = sandbox
        try:
            yield
        finally:
            await runs.close()

    app = FastAPI(title="Agent Agency executor", version="1", lifespan=lifespan)
    _install_error_handlers(app)

    @app.post("/execute", status_code=202, responses=_PROBLEMS)
    async def execute(req: ExecuteRequest, runs: Runs, response: Response) -> RunStatus:
        if problems := request_problems(req):
            raise RequestValidationError([_error(loc, msg) for loc, msg in problems])
        status, created = await runs.execute(req)
        if not created:
            response.status_code = 200
        return status

    @app.get("/runs/{run_id}", responses=_PROBLEMS)
    async def get_run(
        run_id: RunId,
        runs: Runs,
        wait: Annotated[float, Query(ge=0, le=MAX_WAIT_S)] = 0,
        since: Annotated[RunState | None, Query()] = None,
    ) -> RunStatus:
        """The run's status; with `wait`, a long poll until the state differs from `since`
        (default: the state when the request arrives) or the run is terminal."""
        if wait > 0:
            return await runs.wait(run_id, wait, since)
        return runs.status(run_id)

    @app.post("/runs/{run_id}/gates", status_code=202, responses=_PROBLEMS)
    async def run_gates(
        run_id: RunId, req: GatesRequest, runs: Runs, response: Response
    ) -> RunStatus:
        if problems := gate_problems(req.gates, ("body", "gates")):
            raise RequestValidationError([_error(loc, msg) for loc, msg in problems])
        status, started = await runs.run_gates(run_id, req.gates)
        if not started:
            response.status_code = 200
        return status

    @app.post("/runs/{run_id}/suspend", responses=_PROBLEMS)
    async def suspend(run_id: RunId, runs: Runs) -> RunStatus:
        return await runs.suspend(run_id)

    @app.post("/runs/{run_id}/resume", responses=_PROBLEMS)
    async def resume(run_id: RunId, runs: Runs) -> RunStatus:
        return await runs.resume(run_id)

    @app.post("/runs/{run_id}/cancel", responses=_PROBLEMS)
    async def cancel(run_id: RunId, runs: Runs) -> RunStatus:
        return await runs.cancel(run_id)

    @app.post("/runs/{run_id}/apply", responses=_PROBLEMS)
    async def apply(run_id: RunId, req: ApplyRequest, runs: Runs) -> ApplyResult:
        return await runs.apply(run_id, req)

    @app.delete("/runs/{run_id}", responses=_PROBLEMS)
    async def discard(run_id: RunId, runs: Runs) -> RunStatus:
        return await runs.discard(run_id)

    @app.get(
        "/artifacts/{artifact_id}",
        response_class=FileResponse,
        responses={200: {"content": {"text/plain": {}}}, **_PROBLEMS},
    )
    async def artifact(artifact_id: str, runs: Runs) -> FileResponse:
        path = runs.artifact_path(artifact_id)
        return FileResponse(path, media_type="text/plain; charset=utf-8")

    @app.get("/health")
    async def health(request: Request, runs: Runs) -> ExecutorHealth:
        sandbox: Sandbox = request.app.state.sandbox
        return ExecutorHealth(
            status="ok",
            sandbox=sandbox.kind,
            active_runs=runs.active_runs(),
            problem=sandbox.problem,
        )

    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ExecutorProblem)
    async def executor_problem(_: Request, exc: ExecutorProblem) -> JSONResponse:
        return problem_response(exc.status, exc.title, exc.detail, exc.type)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in exc.errors()
        ]
        detail = "; ".join(".".join(str(p) for p in e["loc"]) + ": " + e["msg"] for e in errors)
        return problem_response(
            422, "Invalid request", detail, "urn:agency:executor:invalid", errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(exc.status_code, str(exc.detail), str(exc.detail))

    @app.exception_handler(Exception)
    async def internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled executor error", exc_info=exc)
        return problem_response(500, "Internal error", "the executor failed; see its log")


def main() -> None:
    """Serve the executor on settings.executor_host:executor_port."""
    settings = Settings()
    logging.basicConfig(level=logging.INFO)
    uvicorn.run(create_app(settings), host=settings.executor_host, port=settings.executor_port)
