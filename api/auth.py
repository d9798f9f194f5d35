"""Who is calling: an API key (Bearer or X-API-Key) resolved to a principal with a role and
a tenant, the role checked per route, and the key's rate limit applied.

Routes do not use these functions directly; they take `ViewerDep`, `OperatorDep` or
`AdminDep` from api.deps. The role a route needs is also read back by api.openapi to
document its 401/403/429 answers and its security schemes (SECURITY_SCHEMES).

Each of those is one dependency that reads the request itself: every request pays for
every dependency FastAPI resolves (about 20 µs each here), and authentication runs on
every request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import HTTPConnection, Request

from agency.db import keys
from api.problems import forbidden, rate_limited, unauthorized
from api.ratelimit import STATE_KEY
from api.state import AppState

log = logging.getLogger("agency.api")

# `last_used_at` is written at most this often per key: a write per request would make
# every read a write.
TOUCH_INTERVAL_S = 60.0

KEY_HEADER = "x-api-key"
# The OpenAPI security schemes of the two ways to send a key (api.openapi adds them).
SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    "bearerKey": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "aa_<id>_<secret>",
        "description": "An API key as a bearer token: `Authorization: Bearer aa_…`.",
    },
    "apiKeyHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "The same API key in the `X-API-Key` header.",
    },
}


def presented_key(request: Request) -> str | None:
    """The key sent as `Authorization: Bearer …`, else as `X-API-Key`, else None."""
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
    return request.headers.get(KEY_HEADER)


@dataclass(frozen=True)
class Principal:
    """The caller: a key's principal name (what the audit log records), role and tenant."""

    actor: str
    tenant: str = "default"
    role: keys.Role = "viewer"
    key_id: str | None = None
    key_prefix: str | None = None

    def allows(self, role: keys.Role) -> bool:
        return keys.ROLE_RANK[self.role] >= keys.ROLE_RANK[role]


async def authenticate(request: Request) -> Principal:
    return await authenticate_key(request, presented_key(request))


async def authenticate_key(request: Request, raw: str | None) -> Principal:
    """The principal of key `raw` (found by the caller: a header, or the /codec cookie),
    with the key's rate limit applied to this request."""
    state: AppState = request.app.state.agency
    if not raw or not raw.strip():
        raise unauthorized("send an API key as `Authorization: Bearer …` or `X-API-Key`")
    row = await state.keys.verify(raw.strip())
    if row is None:
        # One answer for malformed, unknown, wrong and revoked keys: nothing to probe.
        raise unauthorized("the API key is not valid (unknown, malformed or revoked)")
    principal = Principal(
        actor=row.name,
        tenant=row.tenant,
        role=row.role,  # type: ignore[arg-type]
        key_id=row.id,
        key_prefix=row.prefix,
    )
    await charge_key(request, row.id, row.role)
    return principal


async def charge_key(connection: HTTPConnection, key_id: str, role: str) -> None:
    """Take this request from the key's rate limit (429 once it is spent) and note the
    key's use. An API request and a dashboard page or stream (api.ui.deps) are charged
    alike; on a Request the decision is kept for the RateLimit response headers."""
    state: AppState = connection.app.state.agency
    decision = await state.limiter.check(key_id, role)
    if isinstance(connection, Request):
        setattr(connection.state, STATE_KEY, decision)
    if not decision.allowed:
        raise rate_limited(
            f"the {role} limit is {decision.policy.quota} requests per "
            f"{decision.policy.window_s:g} s; retry after {decision.retry_after_s} s",
            decision.headers(),
        )
    await _touch(state, key_id)


async def _touch(state: AppState, key_id: str) -> None:
    now = time.monotonic()
    last = state.key_touched.get(key_id)
    if last is not None and now - last < TOUCH_INTERVAL_S:
        return
    state.key_touched[key_id] = now
    try:
        async with state.sessions() as session:
            await keys.touch(session, key_id)
    except Exception as err:  # bookkeeping only: never fail a request over it
        log.info("could not record use of key %s: %s", key_id, type(err).__name__)


def require(role: keys.Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency that authenticates the caller and refuses roles below `role` (403)."""

    async def dependency(request: Request) -> Principal:
        principal = await authenticate(request)
        if not principal.allows(role):
            raise forbidden(f"this needs the {role} role; the key is {principal.role}")
        return principal

    dependency.__name__ = f"require_{role}"
    dependency.required_role = role  # type: ignore[attr-defined]
    return dependency


require_viewer = require("viewer")
require_operator = require("operator")
require_admin = require("admin")
