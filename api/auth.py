"""Who is calling: an API key (Bearer or X-API-Key) resolved to a principal with a role and
a tenant, the role checked per route, and the key's rate limit applied.

Routes do not use these functions directly; they take `ViewerDep`, `OperatorDep` or
`AdminDep` from api.deps. The role a route needs is also read back by api.openapi to
document its 401/403/429 answers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from agency.db import keys
from api.problems import forbidden, rate_limited, unauthorized
from api.ratelimit import STATE_KEY
from api.state import SessionDep, StateDep

log = logging.getLogger("agency.api")

# `last_used_at` is written at most this often per key: a write per request would make
# every read a write.
TOUCH_INTERVAL_S = 60.0

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearerKey",
    bearerFormat="aa_<id>_<secret>",
    description="An API key as a bearer token: `Authorization: Bearer aa_…`.",
)
header_scheme = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="apiKeyHeader",
    description="The same API key in the `X-API-Key` header.",
)


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


async def authenticate(
    request: Request,
    state: StateDep,
    session: SessionDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    x_api_key: Annotated[str | None, Depends(header_scheme)],
) -> Principal:
    raw = bearer.credentials if bearer is not None else x_api_key
    if not raw:
        raise unauthorized("send an API key as `Authorization: Bearer …` or `X-API-Key`")
    row = await keys.verify(session, raw.strip())
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
    decision = state.limiter.take(row.id, row.role)
    setattr(request.state, STATE_KEY, decision)
    if not decision.allowed:
        raise rate_limited(
            f"the {row.role} limit is {decision.policy.quota} requests per "
            f"{decision.policy.window_s:g} s; retry after {decision.retry_after_s} s",
            decision.headers(),
        )
    await _touch(state, session, row.id)
    return principal


async def _touch(state: StateDep, session: SessionDep, key_id: str) -> None:
    now = time.monotonic()
    last = state.key_touched.get(key_id)
    if last is not None and now - last < TOUCH_INTERVAL_S:
        return
    state.key_touched[key_id] = now
    try:
        await keys.touch(session, key_id)
    except Exception as err:  # bookkeeping only: never fail a request over it
        log.info("could not record use of key %s: %s", key_id, type(err).__name__)


def require(role: keys.Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency that authenticates the caller and refuses roles below `role` (403)."""

    async def dependency(
        principal: Annotated[Principal, Depends(authenticate)],
    ) -> Principal:
        if not principal.allows(role):
            raise forbidden(f"this needs the {role} role; the key is {principal.role}")
        return principal

    dependency.__name__ = f"require_{role}"
    dependency.required_role = role  # type: ignore[attr-defined]
    return dependency


require_viewer = require("viewer")
require_operator = require("operator")
require_admin = require("admin")
