"""Request bounds enforced before any route runs (ASGI middleware).

- A body larger than the limit is answered 413, whether it announces its length or is
  sent chunked (the body is read up to the limit, then handed on unchanged).
- NUL characters and unpaired UTF-16 surrogates are refused (422) in the path, the query
  string and JSON bodies: no field of this API can hold them, and the databases cannot
  store them (PostgreSQL rejects NUL in text, UTF-8 cannot encode a lone surrogate), so
  letting them through would turn a bad request into a server error.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import FieldProblem, ProblemError, invalid, problem_response, too_large

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _unstorable(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _json_is_unstorable(body: bytes) -> bool:
    try:
        value: Any = json.loads(body)
    except (ValueError, RecursionError):
        return False  # not JSON (or absurdly deep): the route's own parsing answers that
    # Iterative: a deeply nested body must not exhaust the stack here.
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _unstorable(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class RequestBounds:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path: bytes = scope.get("raw_path") or scope.get("path", "").encode()
        query: bytes = scope.get("query_string", b"")
        if b"%00" in raw_path or b"%00" in query or "\x00" in scope.get("path", ""):
            await self._refuse(scope, receive, send, invalid(_nul_problem("path or query")))
            return
        if scope.get("method") not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._refuse(scope, receive, send, too_large(self.max_body_bytes))
            return
        body, more, disconnected = await self._read_body(receive)
        if more:
            await self._refuse(scope, receive, send, too_large(self.max_body_bytes))
            return
        if _is_json(scope) and body and _json_is_unstorable(body):
            await self._refuse(scope, receive, send, invalid(_nul_problem("body")))
            return
        await self.app(scope, _replay(body, receive, disconnected), send)

    async def _read_body(self, receive: Receive) -> tuple[bytes, bool, bool]:
        """(body, whether more than the limit was sent, whether the client disconnected)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b"".join(chunks), False, True
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return b"", True, False
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), False, False

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, err: ProblemError) -> None:
        await problem_response(err.problem, err.headers)(scope, receive, send)


def _nul_problem(where: str) -> list[FieldProblem]:
    return [
        FieldProblem(
            path=where,
            message="NUL characters and unpaired surrogates are not accepted",
        )
    ]


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    # FastAPI parses bodies without a content type as JSON too.
    return True


def _replay(body: bytes, receive: Receive, disconnected: bool) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if disconnected:
            return {"type": "http.disconnect"}
        return await receive()

    return replay
