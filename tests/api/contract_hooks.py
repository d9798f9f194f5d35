"""Schemathesis hooks for the contract run (tests/api/test_openapi.py), loaded by the
`st` process through SCHEMATHESIS_HOOKS.

The OpenAPI document says every rule of a request that JSON Schema can say. A few rules
it cannot: they depend on the world (a file in the repository, the clock, which key the
run itself uses) or compare items of a list by one of their fields. For those, and only
for requests schemathesis generates as valid, these hooks make the data realistic, as a
person writing the request would; every such rule is listed here and, for the task spec,
in the schema's description (api.submission_schema.NOT_IN_SCHEMA). Invalid requests are
left exactly as generated.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import schemathesis
from schemathesis import GenerationMode

from council.credentials import credential_reason

# The run's own key: revoking it would turn the rest of the run into 401s.
OWN_KEY_ID = os.environ.get("AGENCY_CONTRACT_KEY_ID", "")
REPO = os.environ.get("AGENCY_CONTRACT_REPO", "")


def _positive(case: Any) -> bool:
    meta = case.meta
    return meta is not None and meta.generation.mode == GenerationMode.POSITIVE


@schemathesis.hook
def filter_case(context: Any, case: Any) -> bool:
    if case.operation.label == "DELETE /api/v1/keys/{key_id}":
        return (case.path_parameters or {}).get("key_id") != OWN_KEY_ID
    return True


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    if not _positive(case) or not isinstance(case.body, dict):
        return case
    if case.operation.label == "POST /api/v1/tasks":
        case.body = realistic_task(case.body)
        if case.headers and "Idempotency-Key" in case.headers:
            # A client uses a new key for each new request: reusing one for another body
            # is refused (422), as the Idempotency-Key draft says.
            case.headers["Idempotency-Key"] = uuid.uuid4().hex
    elif case.operation.label == "POST /api/v1/waivers":
        case.body = waiver_in_the_future(case.body)
    elif case.operation.label == "POST /api/v1/silences":
        case.body = silence_in_the_future(case.body)
    elif case.operation.label == "POST /api/v1/explorer/query":
        # SQL that the explorer runs (random text is refused, 422, as it should be).
        case.body = {**case.body, "sql": "SELECT id, phase FROM tasks ORDER BY created_at"}
    return case


def realistic_task(body: dict[str, Any]) -> dict[str, Any]:
    """A task as its submitter would write it, for the rules the schema cannot say."""
    body = dict(body)
    if REPO:
        body["repo"] = REPO  # a repository that exists, so that the task can run
        body["base_ref"] = "HEAD"
    body.pop("caws_spec", None)  # a CAWS spec file that exists in the repository
    body["waiver_ids"] = []  # waiver files that exist
    for key, field in (("acceptance", "id"), ("acceptance_criteria", "id"), ("gates", "name")):
        if isinstance(body.get(key), list):
            body[key] = _unique_by(body[key], field)  # unique ids within the list
    agent = body.get("agent")
    if isinstance(agent, dict):
        agent = body["agent"] = dict(agent)
        secrets = set(agent.get("secrets") or [])
        env = agent.get("env")
        if isinstance(env, dict):
            # Plain settings only: no credential, nothing also named as a secret.
            agent["env"] = {
                name: value
                for name, value in env.items()
                if name not in secrets and not credential_reason(name, value)
            }
    return body


def _unique_by(items: list[Any], field: str) -> list[Any]:
    seen: set[Any] = set()
    kept = []
    for item in items:
        key = item.get(field) if isinstance(item, dict) else None
        if key is None or key not in seen:
            kept.append(item)
            seen.add(key)
    return kept


def waiver_in_the_future(body: dict[str, Any]) -> dict[str, Any]:
    """A waiver expires after it is proposed (the clock is not in the schema)."""
    try:
        expires = datetime.fromisoformat(str(body.get("expires_at")))
    except ValueError:
        return body
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    if expires <= datetime.now(UTC) + timedelta(minutes=5):
        body = {**body, "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat()}
    return body


def silence_in_the_future(body: dict[str, Any]) -> dict[str, Any]:
    """A silence ends after now and after it starts, and matches a label once (neither
    the clock nor the uniqueness of a matcher's name is in the schema)."""
    matchers = body.get("matchers")
    if isinstance(matchers, list):
        body = {**body, "matchers": _unique_by(matchers, "name")}
    body = {k: v for k, v in body.items() if k != "starts_at"}
    return {**body, "ends_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}
