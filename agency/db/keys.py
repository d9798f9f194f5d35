"""API keys: the table and every read and write of it.

A key reads `aa_<id>_<secret>`: `aa_` makes it recognisable (secret scanners, logs), `<id>`
is public (12 hex digits; the primary key, shown in lists as the prefix `aa_<id>`) and
`<secret>` is 256 random bits. Only the SHA-256 of the whole key is stored: the secret is
random, not a password, so a slow hash would add latency and no safety. Verification
looks the row up by id and compares the digests in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import Index, Row, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from agency.db.reads import Reader
from agency.db.transaction import transaction
from agency.db.types import UTCDateTime, utcnow

Role = Literal["viewer", "operator", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
# viewer < operator < admin: a role may do everything the roles below it may.
ROLE_RANK: dict[str, int] = {role: rank for rank, role in enumerate(ROLES)}

KEY_MARK = "aa"
ID_HEX_DIGITS = 12
SECRET_BYTES = 32
# aa_ + 12 hex + _ + 43 url-safe base64 characters (32 bytes, unpadded).
KEY_PATTERN = re.compile(rf"^{KEY_MARK}_([0-9a-f]{{{ID_HEX_DIGITS}}})_([A-Za-z0-9_-]{{43}})$")
MAX_KEY_LENGTH = 64
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._@:+-]*$"
TENANT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class ApiKey(SQLModel, table=True):
    """One API key. `name` is the principal the audit log records for its requests."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_tenant_created_at", "tenant", "created_at"),)

    id: str = Field(primary_key=True, max_length=ID_HEX_DIGITS)
    prefix: str = Field(max_length=20)
    hash: str = Field(max_length=64)
    role: str = Field(max_length=20)
    tenant: str = Field(max_length=100)
    name: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime())


@dataclass(frozen=True)
class NewKey:
    """A key just made: the row, and the raw key, which exists nowhere else."""

    row: ApiKey
    raw: str


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def parse_key_id(raw: str) -> str | None:
    """The id part of a well-formed key, or None for anything else."""
    if len(raw) > MAX_KEY_LENGTH:
        return None
    match = KEY_PATTERN.match(raw)
    return match.group(1) if match else None


def matches(row: ApiKey | Row[Any], raw: str) -> bool:
    return hmac.compare_digest(row.hash, digest(raw))


def _generate() -> tuple[str, str]:
    key_id = secrets.token_hex(ID_HEX_DIGITS // 2)
    return key_id, f"{KEY_MARK}_{key_id}_{secrets.token_urlsafe(SECRET_BYTES)}"


async def create_key(
    session: AsyncSession, *, name: str, role: Role, tenant: str, attempts: int = 5
) -> NewKey:
    """Make a key and commit; returns the raw key (shown once, never stored)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    for _ in range(attempts):
        key_id, raw = _generate()
        row = ApiKey(
            id=key_id,
            prefix=f"{KEY_MARK}_{key_id}",
            hash=digest(raw),
            role=role,
            tenant=tenant,
            name=name,
            created_at=utcnow(),
        )
        try:
            await session.execute(insert(ApiKey).values(**row.model_dump()))
            await session.commit()
        except IntegrityError:
            # 48 random bits of id: a collision is rare, and a new draw settles it.
            await session.rollback()
            continue
        return NewKey(row=row, raw=raw)
    raise RuntimeError("could not draw an unused key id")


KEY_BY_ID = select(ApiKey).where(ApiKey.id == bindparam("key_id"))


async def read_key(reader: Reader, key_id: str) -> Row[Any] | None:
    """The key's row (revoked or not), or None."""
    return await reader.one(KEY_BY_ID, {"key_id": key_id})


async def verify(reader: Reader, raw: str) -> Row[Any] | None:
    """The active key `raw` is (a row of api_keys), or None (malformed, unknown, wrong
    secret or revoked), as of the read. The API checks keys through agency.db.key_cache:
    on SQLite this, through the reader (a revocation holds from the next request on);
    on PostgreSQL a row kept for up to a second and dropped on the change's notice."""
    key_id = parse_key_id(raw)
    if key_id is None:
        return None
    row = await reader.one(KEY_BY_ID, {"key_id": key_id})
    if row is None or not matches(row, raw) or row.revoked_at is not None:
        return None
    return row


async def list_keys(
    reader: Reader, *, tenant: str | None = None, include_revoked: bool = False
) -> list[Row[Any]]:
    """Keys, oldest first: of `tenant` (None: every tenant's), revoked ones too if asked."""
    stmt = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if tenant is not None:
        stmt = stmt.where(ApiKey.tenant == tenant)
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))  # type: ignore[union-attr]
    return await reader.all(stmt)


ACTIVE_ADMINS = select(func.count()).where(
    ApiKey.tenant == bindparam("tenant"),
    ApiKey.role == "admin",
    ApiKey.revoked_at.is_(None),  # type: ignore[union-attr]
)


async def count_active_admins(reader: Reader, tenant: str) -> int:
    row = await reader.one(ACTIVE_ADMINS, {"tenant": tenant})
    return int(row[0]) if row is not None else 0


async def revoke_key(
    session: AsyncSession, key_id: str, tenant: str | None = None
) -> ApiKey | None:
    """Mark the key revoked (once; a second revocation keeps the first time) and commit.
    None when no such key exists in `tenant`."""
    stmt = (
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))  # type: ignore[union-attr]
        .values(revoked_at=utcnow())
    )
    if tenant is not None:
        stmt = stmt.where(ApiKey.tenant == tenant)
    async with transaction(session):
        await session.execute(stmt)
    # The row as stored now (populate_existing: the session may hold an older one).
    found = select(ApiKey).where(ApiKey.id == key_id).execution_options(populate_existing=True)
    row = (await session.scalars(found)).one_or_none()
    if row is None or (tenant is not None and row.tenant != tenant):
        return None
    return row


async def touch(session: AsyncSession, key_id: str, at: datetime | None = None) -> None:
    """Record that the key was used (callers throttle this) and commit."""
    async with transaction(session):
        await session.execute(
            update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=at or utcnow())
        )
