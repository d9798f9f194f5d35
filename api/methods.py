"""405 with `Allow` for every method the OpenAPI document does not declare on a path.

A URL is matched against the document's paths as OpenAPI says: a concrete segment wins
over a templated one (`/api/v1/keys/me` is that path, not `/api/v1/keys/{key_id}`), and
the methods declared on the path that matched are the ones it supports (FastAPI's routes
answer no HEAD of their own, so HEAD is not among them). Any other method, OPTIONS
included, is answered 405 with those methods in `Allow` before routing: without this,
`DELETE /api/v1/keys/me` reached the `{key_id}` route and was refused 422 for its id,
and Starlette's own 405 named the methods of one route only.

URLs that match no documented path (the docs pages, `/codec/login`) are left to the
router. CORS preflights of /codec are answered outside, by api.codec_cors.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, partial
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from api.problems import TYPE_BASE, Problem, problem_response

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Request paths whose declared methods a process remembers (task ids make paths many).
PATHS_REMEMBERED = 4096

# (segments, with None for a template) -> the methods declared on that path, upper case.
PathTable = list[tuple[tuple[str | None, ...], frozenset[str]]]


def path_table(schema: dict[str, Any]) -> PathTable:
    table: PathTable = []
    for path, item in schema.get("paths", {}).items():
        segments = tuple(
            None if part.startswith("{") and part.endswith("}") else part
            for part in path.strip("/").split("/")
        )
        table.append((segments, frozenset(m.upper() for m in item if m in HTTP_METHODS)))
    return table


def declared_methods(table: PathTable, path: str) -> frozenset[str] | None:
    """The methods of the documented path `path` falls under; None when there is none."""
    parts = path.strip("/").split("/")
    best: tuple[tuple[bool, ...], frozenset[str]] | None = None
    for segments, methods in table:
        if len(segments) != len(parts):
            continue
        if any(s is not None and s != p for s, p in zip(segments, parts, strict=True)):
            continue
        if any(s is None and not p for s, p in zip(segments, parts, strict=True)):
            continue
        # Concrete before templated, segment by segment from the left.
        rank = tuple(s is not None for s in segments)
        if best is None or rank > best[0]:
            best = (rank, methods)
    return None if best is None else best[1]


def allow_header(methods: frozenset[str]) -> str:
    order = {m.upper(): i for i, m in enumerate(HTTP_METHODS)}
    return ", ".join(sorted(methods, key=lambda m: order.get(m, len(order))))


class DeclaredMethods:
    """ASGI middleware; `schema` returns the app's OpenAPI document (built once)."""

    def __init__(self, app: ASGIApp, schema: Callable[[], dict[str, Any]]) -> None:
        self.app = app
        self._schema = schema
        self._methods: Callable[[str], frozenset[str] | None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._methods is None:
            # The table is fixed once built, so a path's answer is too: remembered for
            # the paths seen lately (a scan of every documented path was about 4% of a
            # task read's time in the API process, docs/benchmarks.md).
            self._methods = lru_cache(maxsize=PATHS_REMEMBERED)(
                partial(declared_methods, path_table(self._schema()))
            )
        methods = self._methods(scope.get("path", ""))
        if methods is None or scope.get("method", "GET") in methods:
            await self.app(scope, receive, send)
            return
        problem = Problem(
            type=TYPE_BASE + "method-not-allowed",
            title="Method Not Allowed",
            status=405,
            detail=f"this path supports {allow_header(methods)}",
        )
        response = problem_response(problem, {"Allow": allow_header(methods)})
        await response(scope, receive, send)
