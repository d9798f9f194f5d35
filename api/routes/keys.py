"""/api/v1/keys: admins create, list and revoke the API keys of their tenant.

A new key is shown once, in the creation response; the database keeps its hash only.
Revocation takes effect on the key's next request (every request checks the database).
Keys for a new tenant are made with `agency keys create --direct`, by whoever can reach
the database: no key of one tenant can mint keys for another.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Row

from agency.db import keys
from api.deps import AdminDep, SessionDep, StateDep, ViewerDep
from api.problems import Problem, ProblemError, not_found

router = APIRouter(prefix="/api/v1/keys", tags=["keys"])

KeyId = Annotated[str, Path(pattern=r"^[0-9a-f]{12}$", description="the key id (12 hex digits)")]
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {
        "model": Problem,
        "description": "No such key in the caller's tenant (revoked keys included: once "
        "revoked, a key is listed by GET /api/v1/keys?include_revoked=true only)",
    },
}
REVOKE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    409: {"model": Problem, "description": "Refused: it would leave the tenant without admin"},
}


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=200,
        pattern=keys.NAME_PATTERN,
        description="The principal the audit log names for this key's actions",
    )
    role: keys.Role = "viewer"


class KeyPublic(BaseModel):
    id: str
    prefix: str = Field(description="How the key starts: enough to recognise it, not to use it")
    name: str
    role: keys.Role
    tenant: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class KeyCreated(KeyPublic):
    key: str = Field(description="The API key. Shown this once; only its hash is stored.")


class KeyList(BaseModel):
    items: list[KeyPublic]


class WhoAmI(BaseModel):
    name: str
    role: keys.Role
    tenant: str
    key_id: str | None
    prefix: str | None


def key_public(row: keys.ApiKey | Row[Any]) -> KeyPublic:
    return KeyPublic(
        id=row.id,
        prefix=row.prefix,
        name=row.name,
        role=row.role,  # type: ignore[arg-type]
        tenant=row.tenant,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


@router.post("", status_code=201, response_model=KeyCreated)
async def create_key(session: SessionDep, principal: AdminDep, body: KeyCreate) -> KeyCreated:
    """Create a key in the caller's tenant. The response is the only place the key appears."""
    new = await keys.create_key(session, name=body.name, role=body.role, tenant=principal.tenant)
    return KeyCreated(**key_public(new.row).model_dump(), key=new.raw)


@router.get("", response_model=KeyList)
async def list_keys(
    state: StateDep,
    principal: AdminDep,
    include_revoked: Annotated[bool, Query(description="also list revoked keys")] = False,
) -> KeyList:
    """The tenant's keys, oldest first (prefixes only; keys are never shown again)."""
    rows = await keys.list_keys(
        state.reader, tenant=principal.tenant, include_revoked=include_revoked
    )
    return KeyList(items=[key_public(r) for r in rows])


@router.get("/me", response_model=WhoAmI)
async def who_am_i(principal: ViewerDep) -> WhoAmI:
    """The key making this request: its principal name, role and tenant."""
    return WhoAmI(
        name=principal.actor,
        role=principal.role,
        tenant=principal.tenant,
        key_id=principal.key_id,
        prefix=principal.key_prefix,
    )


@router.get("/{key_id}", response_model=KeyPublic, responses=ERRORS)
async def get_key(state: StateDep, principal: AdminDep, key_id: KeyId) -> KeyPublic:
    """An active key of the tenant. A revoked key is gone from here (DELETE removed it),
    as HTTP has it; the list with `include_revoked` keeps its record."""
    row = await keys.read_key(state.reader, key_id)
    if row is None or row.tenant != principal.tenant or row.revoked_at is not None:
        raise not_found(f"key {key_id}")
    return key_public(row)


@router.delete("/{key_id}", response_model=KeyPublic, responses=REVOKE_ERRORS)
async def revoke_key(
    state: StateDep, session: SessionDep, principal: AdminDep, key_id: KeyId
) -> KeyPublic:
    """Revoke a key: its next request is refused (401). Revoking twice is harmless."""
    row = await keys.read_key(state.reader, key_id)
    if row is None or row.tenant != principal.tenant:
        raise not_found(f"key {key_id}")
    if (
        row.revoked_at is None
        and row.role == "admin"
        and await keys.count_active_admins(state.reader, principal.tenant) <= 1
    ):
        raise ProblemError(
            409,
            "last-admin-key",
            "Refused: last admin key",
            "this is the tenant's last active admin key; create another admin key first",
        )
    revoked = await keys.revoke_key(session, key_id, tenant=principal.tenant)
    if revoked is None:
        raise not_found(f"key {key_id}")
    state.limiter.forget(key_id)
    state.keys.forget(key_id)
    return key_public(revoked)
