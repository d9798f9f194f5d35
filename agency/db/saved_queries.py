"""Saved explorer queries: a name, the SQL, its parameters, an owner, maybe a role it is
shared with. A query is seen by its owner, and, when shared with a role, by every key of
the same tenant with that role or a higher one; only its owner deletes it."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Text, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from agency.db.keys import ROLE_RANK, ROLES
from agency.db.types import UTCDateTime, utcnow


class SavedQuery(SQLModel, table=True):
    __tablename__ = "saved_queries"
    __table_args__ = (Index("ix_saved_queries_tenant_created_at", "tenant", "created_at"),)

    id: str = Field(primary_key=True, max_length=16)
    tenant: str = Field(max_length=100)
    name: str = Field(max_length=200)
    sql: str = Field(sa_type=Text)
    params: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    owner: str = Field(max_length=200)
    # None: the owner's alone; else the lowest role that sees it.
    shared_with: str | None = Field(default=None, max_length=20)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


def visible_to(row: SavedQuery, actor: str, role: str) -> bool:
    if row.owner == actor:
        return True
    return row.shared_with is not None and ROLE_RANK[role] >= ROLE_RANK[row.shared_with]


async def save_query(
    session: AsyncSession,
    *,
    tenant: str,
    owner: str,
    name: str,
    sql: str,
    params: dict[str, Any],
    shared_with: str | None,
) -> SavedQuery:
    if shared_with is not None and shared_with not in ROLES:
        raise ValueError(f"unknown role {shared_with!r}")
    row = SavedQuery(
        id=secrets.token_hex(6),
        tenant=tenant,
        owner=owner,
        name=name,
        sql=sql,
        params=params,
        shared_with=shared_with,
    )
    session.add(row)
    await session.commit()
    return row


async def list_queries(
    session: AsyncSession, *, tenant: str, actor: str, role: str
) -> list[SavedQuery]:
    rows = await session.execute(
        select(SavedQuery)
        .where(SavedQuery.tenant == tenant)  # type: ignore[arg-type]
        .order_by(SavedQuery.created_at, SavedQuery.id)  # type: ignore[arg-type]
    )
    return [r for r in rows.scalars() if visible_to(r, actor, role)]


async def get_query(
    session: AsyncSession, query_id: str, *, tenant: str, actor: str, role: str
) -> SavedQuery | None:
    row = await session.get(SavedQuery, query_id)
    if row is None or row.tenant != tenant or not visible_to(row, actor, role):
        return None
    return row


async def delete_query(session: AsyncSession, query_id: str, *, tenant: str, owner: str) -> bool:
    """Delete the owner's query; False when there is none of theirs by that id."""
    result = await session.execute(
        delete(SavedQuery).where(
            SavedQuery.id == query_id,  # type: ignore[arg-type]
            SavedQuery.tenant == tenant,  # type: ignore[arg-type]
            SavedQuery.owner == owner,  # type: ignore[arg-type]
        )
    )
    await session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]
