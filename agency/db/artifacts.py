"""Artifacts: content too large or too sensitive for workflow history, shared by every host.

A run's diff is made on one executor host, judged by a workflow worker, applied by any
executor and shown by the API; a model agent's drafted patch is made by a worker and
applied on an executor. Workflow history carries only the artifact's id. Ids are content
addresses (`<kind>-<sha256>`), so a retried activity that stores the same bytes gets the
same id and writes nothing new.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from datetime import datetime

from sqlalchemy import LargeBinary, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from agency.db.transaction import transaction
from agency.db.types import UTCDateTime, utcnow

KINDS = ("diff", "patch")
ID_PATTERN = re.compile(r"^(diff|patch)-[0-9a-f]{64}$")


class Artifact(SQLModel, table=True):
    __tablename__ = "artifacts"

    id: str = Field(primary_key=True, max_length=80)
    kind: str = Field(max_length=20)
    size: int
    content: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class ArtifactNotFound(LookupError):
    pass


def artifact_id(kind: str, data: bytes) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown artifact kind {kind!r}")
    return f"{kind}-{hashlib.sha256(data).hexdigest()}"


async def put_artifact(session: AsyncSession, kind: str, data: bytes) -> str:
    """Store `data` (once) and commit; returns its id."""
    key = artifact_id(kind, data)
    if await session.get(Artifact, key) is not None:
        return key
    # IntegrityError: stored meanwhile by a concurrent attempt, the same bytes under the
    # same id.
    with contextlib.suppress(IntegrityError):
        async with transaction(session):
            await session.execute(
                insert(Artifact).values(id=key, kind=kind, size=len(data), content=data)
            )
    return key


async def get_artifact(session: AsyncSession, key: str) -> bytes:
    if not ID_PATTERN.match(key):
        raise ArtifactNotFound(f"not an artifact id: {key!r}")
    content = await session.scalar(select(Artifact.content).where(Artifact.id == key))
    if content is None:
        raise ArtifactNotFound(f"no artifact {key}")
    return bytes(content)
