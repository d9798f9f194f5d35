"""A small synchronous client of the task API (docs/api.md), shared by the CLI and the demo."""

from __future__ import annotations

import getpass
import os
from typing import Any
from urllib.parse import quote

import httpx

from agency.cli.errors import EXIT_BAD_INPUT, EXIT_FAILURE, CliError, Problem
from agency.settings import Settings

API = "/api/v1"
ADMIN_KEY_FILE = "admin.key"
# Bounded so that one listing request cannot ask the server for an unbounded page.
PAGE_SIZE = 100


def cli_actor() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        # No passwd entry (containers with arbitrary uids): fall back to the uid.
        user = f"uid{os.getuid()}"
    return f"cli:{user}"


def resolve_api_key(settings: Settings) -> str | None:
    """AGENCY_API_KEY wins; otherwise the admin key the API wrote into the data dir."""
    if settings.api_key is not None and settings.api_key.get_secret_value():
        return settings.api_key.get_secret_value()
    key_file = settings.data_dir / ADMIN_KEY_FILE
    try:
        key = key_file.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return key or None


class ApiClient:
    def __init__(
        self,
        base_url: str,
        *,
        actor: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"X-Agency-Actor": actor or cli_actor(), "Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_s)

    @classmethod
    def from_settings(cls, settings: Settings, base_url: str | None = None) -> ApiClient:
        return cls(base_url or settings.api_url, api_key=resolve_api_key(settings))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transport
    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(method, path, json=json, params=clean or None)
        except httpx.TransportError as exc:
            raise CliError(
                f"The API is not reachable at {self.base_url} ({_describe(exc)}).",
                EXIT_FAILURE,
                hint="Start the stack with `agency up`, or point AGENCY_API_URL at a running API.",
            ) from None
        if response.is_success:
            return _json_body(response) if response.content else None
        raise problem_error(response)

    # ----------------------------------------------------------------- endpoints
    def submit(self, spec: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", f"{API}/tasks", json=spec)

    def get_task(self, task_id: str) -> dict[str, Any]:
        return self.request("GET", f"{API}/tasks/{path_segment(task_id)}")

    def list_tasks(self, limit: int, **filters: str | None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while len(items) < limit:
            page = self.request(
                "GET",
                f"{API}/tasks",
                params={**filters, "limit": min(PAGE_SIZE, limit - len(items)), "cursor": cursor},
            )
            items.extend(page.get("items", []))
            cursor = page.get("next_cursor")
            if not cursor:
                break
        return items[:limit]

    def audit(self, task_id: str) -> list[dict[str, Any]]:
        return self.request("GET", f"{API}/tasks/{path_segment(task_id)}/audit").get("items", [])

    def intervene(self, task_id: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", f"{API}/tasks/{path_segment(task_id)}/{action}", json=body)


def path_segment(value: str) -> str:
    # A task id is one path segment; `/` or `..` in it must not reach another route.
    segment = quote(value, safe="")
    return segment.replace(".", "%2E") if segment in {".", ".."} else segment


def _describe(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connection refused"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return type(exc).__name__


def _json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise CliError(
            f"The API at {response.request.url} answered {response.status_code} "
            f"with a body that is not JSON: {response.text[:200]!r}",
            EXIT_FAILURE,
        ) from None


def problem_error(response: httpx.Response) -> CliError:
    """Turn an error response (problem+json, or whatever a proxy sent) into a CliError."""
    status = response.status_code
    exit_code = EXIT_BAD_INPUT if 400 <= status < 500 else EXIT_FAILURE
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = response.text.strip()[:500] or response.reason_phrase
        return CliError(f"HTTP {status}: {text}", exit_code)

    title = str(body.get("title") or response.reason_phrase or "error")
    detail = body.get("detail")
    message = f"{title} (HTTP {status})"
    if isinstance(detail, str) and detail and detail != title:
        message = f"{message}: {detail}"
    problems = [_problem(item) for item in body.get("errors") or [] if isinstance(item, dict)]
    # FastAPI's own 422 shape ({detail: [{loc, msg}]}) if a route answers before our handler.
    if isinstance(detail, list):
        problems += [_problem(item) for item in detail if isinstance(item, dict)]
    return CliError(message, exit_code, problems)


def _problem(item: dict[str, Any]) -> Problem:
    path = item.get("path")
    if path is None and isinstance(item.get("loc"), list):
        path = ".".join(str(part) for part in item["loc"])
    message = item.get("message") or item.get("msg") or ""
    return Problem(str(path or ""), str(message))


def default_client() -> ApiClient:
    return ApiClient.from_settings(Settings())
