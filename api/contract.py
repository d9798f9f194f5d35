"""The parts of the OpenAPI document that make it a contract a client (or schemathesis)
can rely on, applied to the document FastAPI generates (api.openapi calls
`complete_contract`):

- No string a request sends may hold NUL (U+0000): PostgreSQL cannot store it, and
  api.bounds refuses it in the path, the query and anywhere in a JSON body, property
  names included. Every string of a request (parameters and bodies) says so with a
  pattern, unless its own pattern, format or enumeration already excludes it.
- Request bodies declare what else they take: a closed model nothing
  (`additionalProperties: false`); an open one (a task spec keeps the fields CAWS adds)
  any JSON without NUL (`JsonValue`). Components a request and a response share are
  split (`<Name>-Input`) so that responses are described as they are sent.
- The task spec's own rules (api.submission_schema).
- Links from the answer of each creating POST (201, with an `id`) to the operations
  on what it created, so that clients and stateful tests can follow them.
- `x-enum-from: <name>` marks a schema whose values are this process's configuration
  (the model names): they are filled in as an `enum`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

from api.submission_schema import task_spec_schemas

NO_NUL = r"^[^\u0000]*$"
COMPONENTS = "#/components/schemas/"
JSON_VALUE = "JsonValue"
JSON_VALUE_SCHEMA: dict[str, Any] = {
    "description": "Any JSON value whose strings (and property names) hold no NUL",
    "anyOf": [
        {"type": "null"},
        {"type": "boolean"},
        {"type": "number"},
        {"type": "string", "pattern": NO_NUL},
        {"type": "array", "items": {"$ref": COMPONENTS + JSON_VALUE}},
        {
            "type": "object",
            "propertyNames": {"pattern": NO_NUL},
            "additionalProperties": {"$ref": COMPONENTS + JSON_VALUE},
        },
    ],
}
INPUT_SUFFIX = "-Input"
HTTP_METHODS = ("get", "put", "post", "delete", "patch")
DESCRIPTION = """

Conventions:

- Errors are RFC 9457 problems (`application/problem+json`).
- No string a request sends may contain NUL (U+0000); each string's schema says so.
- A method a path does not declare is answered 405 with an `Allow` header listing those
  it does (OPTIONS included).
- Each creating POST links (OpenAPI `links`) to the operations on what it created.
"""


def complete_contract(schema: dict[str, Any], choices: dict[str, list[str]]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in task_spec_schemas().items():
        if name in components and components[name] != definition:
            raise ValueError(f"the task spec's component {name} clashes with another")
        components[name] = definition
    components[JSON_VALUE] = copy.deepcopy(JSON_VALUE_SCHEMA)
    _fill_choices(schema, choices)
    for _, _, operation in _operations(schema):
        for parameter in operation.get("parameters", []):
            _without_null(parameter.get("schema", {}))
    _request_side_apart(schema)
    for node in _request_roots(schema):
        _storable(node)
    for name in _reachable(schema, list(_request_roots(schema))):
        if name != JSON_VALUE:
            _storable(components[name])
    _add_links(schema)
    info = schema.setdefault("info", {})
    info["description"] = (info.get("description") or "") + DESCRIPTION


# ------------------------------------------------------------------ walking the document
def _operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in schema.get("paths", {}).items():
        for method in HTTP_METHODS:
            if method in item:
                yield path, method, item[method]


def _request_roots(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for _, _, operation in _operations(schema):
        for parameter in operation.get("parameters", []):
            if "schema" in parameter:
                yield parameter["schema"]
        for media in operation.get("requestBody", {}).get("content", {}).values():
            if "schema" in media:
                yield media["schema"]


def _response_roots(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for _, _, operation in _operations(schema):
        for response in operation.get("responses", {}).values():
            for media in response.get("content", {}).values():
                if "schema" in media:
                    yield media["schema"]


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(COMPONENTS):
            yield ref[len(COMPONENTS) :]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _reachable(schema: dict[str, Any], roots: list[Any]) -> set[str]:
    components = schema["components"]["schemas"]
    seen: set[str] = set()
    stack = [name for root in roots for name in _refs(root)]
    while stack:
        name = stack.pop()
        if name in seen or name not in components:
            continue
        seen.add(name)
        stack.extend(_refs(components[name]))
    return seen


def _rename_refs(node: Any, names: dict[str, str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(COMPONENTS):
            target = ref[len(COMPONENTS) :]
            if target in names:
                node["$ref"] = COMPONENTS + names[target]
        for value in node.values():
            _rename_refs(value, names)
    elif isinstance(node, list):
        for value in node:
            _rename_refs(value, names)


def _request_side_apart(schema: dict[str, Any]) -> None:
    """Components both sides use get a request copy, so that what is said about requests
    (patterns against NUL, closed objects) does not change what responses promise."""
    components = schema["components"]["schemas"]
    requests = _reachable(schema, list(_request_roots(schema)))
    responses = _reachable(schema, list(_response_roots(schema)))
    shared = sorted((requests & responses) - {JSON_VALUE})
    names = {name: name + INPUT_SUFFIX for name in shared}
    for name in shared:
        components[names[name]] = copy.deepcopy(components[name])
    for name in requests - set(shared):
        _rename_refs(components[name], names)
    for name in shared:
        _rename_refs(components[names[name]], names)
    for root in _request_roots(schema):
        _rename_refs(root, names)


def _without_null(schema: dict[str, Any]) -> None:
    """A parameter is absent or a value: FastAPI's `null` for an optional one cannot be
    sent (the text `null` is not it), so it is not offered."""
    branches = schema.get("anyOf")
    if not isinstance(branches, list):
        return
    kept = [b for b in branches if b.get("type") != "null"]
    if len(kept) == 1:
        del schema["anyOf"]
        schema.update({k: v for k, v in kept[0].items() if k not in schema})
    else:
        schema["anyOf"] = kept


# ------------------------------------------------------------------------ storable input
def _types(node: dict[str, Any]) -> set[str]:
    kind = node.get("type")
    if isinstance(kind, str):
        return {kind}
    return set(kind) if isinstance(kind, list) else set()


def _storable(node: Any) -> None:
    """Patterns against NUL on strings; open objects take JsonValue, not anything."""
    if isinstance(node, list):
        for item in node:
            _storable(item)
        return
    if not isinstance(node, dict):
        return
    kinds = _types(node)
    if "string" in kinds and not {"pattern", "enum", "const", "format"} & set(node):
        node["pattern"] = NO_NUL
    if "object" in kinds:
        extra = node.get("additionalProperties", True)
        if extra is True:
            node["additionalProperties"] = {"$ref": COMPONENTS + JSON_VALUE}
        if extra is not False and "propertyNames" not in node:
            node["propertyNames"] = {"pattern": NO_NUL}
    for key, value in node.items():
        if key in ("properties", "patternProperties", "$defs"):
            for sub in value.values():
                _storable(sub)
        elif key not in ("enum", "const", "default", "examples", "example", "if", "not"):
            # `if` and `not` are conditions: a pattern there would change what they test.
            _storable(value)


def _fill_choices(node: Any, choices: dict[str, list[str]]) -> None:
    if isinstance(node, dict):
        source = node.get("x-enum-from")
        if isinstance(source, str):
            if source not in choices:
                raise ValueError(f"no choices given for x-enum-from: {source}")
            # On the string itself: an optional field's `null` stays allowed.
            strings = [b for b in node.get("anyOf", []) if b.get("type") == "string"]
            for target in strings or [node]:
                target["enum"] = list(choices[source])
        for value in node.values():
            _fill_choices(value, choices)
    elif isinstance(node, list):
        for value in node:
            _fill_choices(value, choices)


# ---------------------------------------------------------------------------------- links
_PARAMETER = re.compile(r"^\{([^{}/]+)\}")


def _add_links(schema: dict[str, Any]) -> None:
    """POST /x answering 201 with an `id` links to every operation on /x/{param}[/...]."""
    paths = schema.get("paths", {})
    for path, item in paths.items():
        created = item.get("post", {}).get("responses", {}).get("201")
        if created is None or not _has_id(schema, created):
            continue
        links: dict[str, Any] = {}
        for other, other_item in paths.items():
            rest = other[len(path) + 1 :] if other.startswith(path + "/") else ""
            match = _PARAMETER.match(rest)
            if match is None or "{" in rest[match.end() :]:
                continue
            for method, operation in other_item.items():
                if method not in HTTP_METHODS:
                    continue
                links[operation["operationId"]] = {
                    "operationId": operation["operationId"],
                    "parameters": {match.group(1): "$response.body#/id"},
                    "description": f"{method.upper()} {other} on what was created",
                }
        if links:
            created["links"] = links


def _has_id(schema: dict[str, Any], response: dict[str, Any]) -> bool:
    media = response.get("content", {}).get("application/json", {})
    ref = media.get("schema", {}).get("$ref", "")
    target = schema["components"]["schemas"].get(ref[len(COMPONENTS) :], {})
    return "id" in target.get("properties", {})
