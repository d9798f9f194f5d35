"""Async HTTP client of the executor service, used by the Temporal activities.

Every failure is an ExecutorError carrying the HTTP status (0 when the executor could
not be reached) and whether retrying can help, so activities can map it onto a
retryable or non-retryable ApplicationError without knowing HTTP.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel

from agency.executor.schemas import (
    ApplyRequest,
    ApplyResult,
    ExecuteRequest,
    ExecutorHealth,
    GatesRequest,
    RunState,
    RunStatus,
)
from council.spec import GateSpec

Action = Literal["suspend", "resume", "cancel"]
M = TypeVar("M", bound=BaseModel)


class ExecutorError(Exception):
    def __init__(self, status: int, detail: str, *, type: str | None = None) -> None:
        super().__init__(f"executor error {status}: {detail}" if status else detail)
        self.status = status
        self.detail = detail
        self.type = type

    @property
    def retryable(self) -> bool:
        # Unreachable (0) or failing (5xx, e.g. 503 no sandbox) executors may recover or be
        # replaced; a 4xx means the request itself is wrong or not applicable now.
        return self.status == 0 or self.status >= 500


class ExecutorClient:
    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self._timeout = timeout
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout)

    async def __aenter__(self) -> ExecutorClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------------ API
    async def execute(self, req: ExecuteRequest) -> RunStatus:
        """Start the run (or get the existing run with that run_id: the call is idempotent)."""
        return await self._call(RunStatus, "POST", "/execute", json=req.model_dump(mode="json"))

    async def get(self, run_id: str, wait_s: float = 0, since: RunState | None = None) -> RunStatus:
        """The run's status; with wait_s > 0 (≤30), waits that long for its state to differ
        from `since` (the state last seen; default: the state when the request arrives)."""
        params: dict[str, str | float] = {}
        if wait_s > 0:
            params["wait"] = wait_s
            if since is not None:
                params["since"] = since
        # The server holds a long poll open for up to wait_s; the read timeout must allow it.
        return await self._call(
            RunStatus,
            "GET",
            f"/runs/{run_id}",
            params=params or None,
            read_s=self._timeout + wait_s,
        )

    async def run_gates(self, run_id: str, gates: list[GateSpec]) -> RunStatus:
        body = GatesRequest(gates=gates).model_dump(mode="json")
        return await self._call(RunStatus, "POST", f"/runs/{run_id}/gates", json=body)

    async def control(self, run_id: str, action: Action) -> RunStatus:
        return await self._call(RunStatus, "POST", f"/runs/{run_id}/{action}")

    async def apply(self, run_id: str, req: ApplyRequest) -> ApplyResult:
        body = req.model_dump(mode="json")
        return await self._call(ApplyResult, "POST", f"/runs/{run_id}/apply", json=body)

    async def discard(self, run_id: str) -> None:
        await self._call(RunStatus, "DELETE", f"/runs/{run_id}")

    async def artifact(self, artifact_id: str) -> str:
        response = await self._send("GET", f"/artifacts/{artifact_id}")
        return response.text

    async def health(self) -> ExecutorHealth:
        return await self._call(ExecutorHealth, "GET", "/health")

    # ------------------------------------------------------------------ plumbing
    async def _call(self, model: type[M], method: str, url: str, **kwargs: Any) -> M:
        response = await self._send(method, url, **kwargs)
        try:
            return model.model_validate_json(response.content)
        except ValueError as exc:
            raise ExecutorError(
                response.status_code, f"unexpected response from the executor: {exc}"
            ) from exc

    async def _send(
        self, method: str, url: str, *, read_s: float | None = None, **kwargs: Any
    ) -> httpx.Response:
        try:
            response = await self._http.request(
                method, url, timeout=read_s if read_s is not None else self._timeout, **kwargs
            )
        except httpx.TransportError as exc:
            raise ExecutorError(0, f"cannot reach the executor: {exc!r}") from exc
        if response.status_code >= 400:
            raise _error(response)
        return response


def _error(response: httpx.Response) -> ExecutorError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "detail" in body:
        return ExecutorError(response.status_code, str(body["detail"]), type=body.get("type"))
    return ExecutorError(response.status_code, response.text[:2000] or response.reason_phrase)
