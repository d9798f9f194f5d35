"""Signed provenance records: one row per task, pointing at its commit in the provenance
repository. The JWS is kept here too, so the database and git can be compared."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Text, bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from agency.db.reads import Reader
from agency.db.transaction import transaction
from agency.db.types import UTCDateTime, utcnow

TASK_ID_LENGTH = 64


class ProvenanceRecord(SQLModel, table=True):
    __tablename__ = "provenance_records"

    task_id: str = Field(primary_key=True, max_length=TASK_ID_LENGTH)
    kid: str = Field(max_length=100)
    record_sha256: str = Field(max_length=64)
    jws: str = Field(sa_type=Text)
    commit: str = Field(max_length=64)
    path: str = Field(max_length=500)
    outcome: str | None = Field(default=None, max_length=30)
    last_seq: int
    history_events: int
    signed_at: datetime = Field(sa_type=UTCDateTime())
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


async def get_provenance(session: AsyncSession, task_id: str) -> ProvenanceRecord | None:
    stmt = (
        select(ProvenanceRecord)
        .where(ProvenanceRecord.task_id == task_id)
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(stmt)).one_or_none()


PROVENANCE_OF_TASK = select(*ProvenanceRecord.__table__.c).where(  # type: ignore[attr-defined]
    ProvenanceRecord.task_id == bindparam("task_id")
)


async def read_provenance(reader: Reader, task_id: str) -> Row[Any] | None:
    """The task's stored record through the read path (the verifier's); get_provenance is
    the writer's own look-up inside its transaction."""
    return await reader.one(PROVENANCE_OF_TASK, {"task_id": task_id})


async def insert_provenance(session: AsyncSession, row: ProvenanceRecord) -> ProvenanceRecord:
    """Store the task's record and commit; if one is already stored (a retried activity),
    keep that one and return it: a task has exactly one record."""
    with contextlib.suppress(IntegrityError):  # one is stored already: that one stays
        async with transaction(session):
            await session.execute(insert(ProvenanceRecord).values(**row.model_dump()))
    stored = await get_provenance(session, row.task_id)
    if stored is None:  # the insert or the conflicting insert left a row; never None
        raise LookupError(f"no provenance record for {row.task_id}")
    return stored
