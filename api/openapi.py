"""The OpenAPI document, completed: every answer a route can give, with its headers.

FastAPI documents what a route declares. The answers that come from the machinery around
routes are added here, for every route alike (including routes added later), from what
the route depends on:

- authenticated routes (ViewerDep/OperatorDep/AdminDep): their security schemes (a key
  as a bearer token or in `X-API-Key`), 401, 429 and 503 with `Retry-After` (the key is
  checked in the database), 403 when the role is above viewer, and the `RateLimit` and
  `RateLimit-Policy` headers on their answers;
- routes with a body: 413; routes with parameters or a body: 422; routes with a path
  parameter: 404.

Every error answer is `application/problem+json` with the Problem schema.

What the server refuses is said in the schema too (api.contract: no NUL in any string
sent, no undeclared property, links from a created resource to its operations), and a
method a path does not declare is answered 405 with `Allow` (api.methods).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from agency.db.keys import ROLE_RANK
from api.auth import SECURITY_SCHEMES
from api.contract import complete_contract
from api.problems import PROBLEM_JSON, Problem

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
BODY_METHODS = {"post", "put", "patch"}

HEADERS: dict[str, dict[str, Any]] = {
    "RateLimit": {
        "description": 'The key\'s remaining quota, e.g. `"operator";r=599;t=1` '
        "(r = requests left, t = seconds until the quota is full again); "
        "draft-ietf-httpapi-ratelimit-headers.",
        "schema": {"type": "string"},
    },
    "RateLimit-Policy": {
        "description": 'The key\'s quota policy, e.g. `"operator";q=600;w=60` '
        "(q requests per w seconds, as a token bucket).",
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "WWW-Authenticate": {
        "description": "The authentication scheme expected (Bearer).",
        "schema": {"type": "string"},
    },
    "Allow": {
        "description": "On 405: the methods the path supports.",
        "schema": {"type": "string"},
    },
}
RATE_HEADERS = {
    "RateLimit": {"$ref": "#/components/headers/RateLimit"},
    "RateLimit-Policy": {"$ref": "#/components/headers/RateLimit-Policy"},
}

STANDARD: dict[str, tuple[str, dict[str, Any]]] = {
    "401": (
        "No API key, or a malformed, unknown or revoked one",
        {"WWW-Authenticate": {"$ref": "#/components/headers/WWW-Authenticate"}},
    ),
    "403": ("The key's role may not do this", {}),
    "404": ("Not found (or not in the key's tenant)", {}),
    "413": ("The request body is larger than the limit", {}),
    "422": ("Invalid request; every problem listed with its field path", {}),
    "429": (
        "The key's rate limit is used up",
        {"Retry-After": {"$ref": "#/components/headers/Retry-After"}, **RATE_HEADERS},
    ),
    "503": (
        "A dependency (database, Temporal) is unavailable; the problem's `unavailable` "
        "lists which; retry after `Retry-After` seconds",
        {"Retry-After": {"$ref": "#/components/headers/Retry-After"}},
    ),
}


def _required_role(dependant: Dependant) -> str | None:
    """The highest role any dependency of the route requires (None: no authentication)."""
    found: str | None = None
    stack = list(dependant.dependencies)
    while stack:
        dep = stack.pop()
        role = getattr(dep.call, "required_role", None)
        if role is not None and (found is None or ROLE_RANK[role] > ROLE_RANK[found]):
            found = role
        stack.extend(dep.dependencies)
    return found


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": PROBLEM_REF}}


def _is_problem(response: dict[str, Any]) -> bool:
    for media in response.get("content", {}).values():
        ref = media.get("schema", {}).get("$ref", "")
        if ref.endswith(("/Problem", "/HTTPValidationError")):
            return True
    return False


def _complete(operation: dict[str, Any], method: str, path: str, role: str | None) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for response in responses.values():
        if _is_problem(response):
            response["content"] = _problem_content()
    wanted: list[str] = []
    has_body = "requestBody" in operation
    if has_body or method in BODY_METHODS:
        wanted.append("413")
    if has_body or operation.get("parameters"):
        wanted.append("422")
    if "{" in path:
        wanted.append("404")
    if role is not None:
        wanted += ["401", "429", "503"]
        if ROLE_RANK[role] > ROLE_RANK["viewer"]:
            wanted.append("403")
    for code in wanted:
        description, headers = STANDARD[code]
        response = responses.setdefault(code, {"description": description})
        response["content"] = _problem_content()
        if headers:
            response.setdefault("headers", {}).update(headers)
    if role is not None:
        for code, response in responses.items():
            if code.startswith("2"):
                response.setdefault("headers", {}).update(RATE_HEADERS)
        operation["security"] = [{name: []} for name in SECURITY_SCHEMES]
        operation["x-required-role"] = role


def _api_routes(app: FastAPI) -> Iterator[Any]:
    """Every API route with its effective path, included routers flattened. Newer FastAPI
    keeps included routers as one route each and flattens them with iter_route_contexts."""
    iterate = getattr(routing, "iter_route_contexts", None)
    if iterate is None:
        yield from (r for r in app.routes if isinstance(r, APIRoute))
        return
    for context in iterate(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context


def build_openapi(app: FastAPI, choices: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """`choices`: the values of schemas marked `x-enum-from: <name>` (this process's
    configuration, such as the model names)."""
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schemas["Problem"].pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    components.setdefault("headers", {}).update(HEADERS)
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    for route in _api_routes(app):
        if not route.include_in_schema:
            continue
        role = _required_role(route.dependant)
        path_item = schema.get("paths", {}).get(route.path_format, {})
        for method in route.methods:
            operation = path_item.get(method.lower())
            if operation is not None:
                _complete(operation, method.lower(), route.path_format, role)
    # FastAPI's own validation shapes are never sent (errors are problems).
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    complete_contract(schema, choices or {})
    return schema


def install_openapi(app: FastAPI, choices: dict[str, list[str]] | None = None) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app, choices)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
