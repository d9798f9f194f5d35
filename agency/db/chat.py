"""Chat sessions and their messages: the tables and every read and write of them.

Every frame a chat WebSocket sends has a per-session sequence number. A user message is
one frame; an assistant reply is one frame per token and a final frame. Both are stored
as one row each: `first_seq..seq` is the reply's range (tokens at first_seq + i, the
final frame at seq), so a client that reconnects after sequence number N can be sent
exactly the frames above N, token by token, from the database alone.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    Row,
    Text,
    UniqueConstraint,
    bindparam,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from agency.db.reads import Reader
from agency.db.types import UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")
SESSION_ID_LENGTH = 36


def new_session_id() -> str:
    return str(uuid.uuid4())


class ChatSession(SQLModel, table=True):
    __tablename__ = "chat_sessions"
    __table_args__ = (Index("ix_chat_sessions_tenant_created_at", "tenant", "created_at"),)

    id: str = Field(default_factory=new_session_id, primary_key=True, max_length=SESSION_ID_LENGTH)
    tenant: str = Field(max_length=100)
    created_by: str = Field(max_length=200)
    title: str | None = Field(default=None, max_length=200)
    # The model asked for at creation; None follows the engine's current model.
    model: str | None = Field(default=None, max_length=200)
    # The highest sequence number stored for this session.
    last_seq: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class ChatMessageRow(SQLModel, table=True):
    __tablename__ = "chat_messages"
    __table_args__ = (
        UniqueConstraint("session_id", "seq", name="uq_chat_messages_session_id_seq"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    session_id: str = Field(
        max_length=SESSION_ID_LENGTH,
        sa_column_args=[
            ForeignKey("chat_sessions.id", name="fk_chat_messages_session_id_chat_sessions")
        ],
    )
    # The sequence number of the message's (last) frame, and of its first one.
    seq: int
    first_seq: int
    role: str = Field(max_length=20)
    content: str = Field(default="", sa_type=Text)
    # An assistant reply's token texts, in order (frame first_seq + i).
    tokens: list[str] = Field(default_factory=list, sa_type=JSON)
    model: str | None = Field(default=None, max_length=200)
    finish_reason: str | None = Field(default=None, max_length=20)
    # Measurements of the reply (prompt/generated tokens, rates); free-form.
    stats: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


async def create_session(
    session: AsyncSession,
    *,
    tenant: str,
    created_by: str,
    title: str | None = None,
    model: str | None = None,
) -> ChatSession:
    row = ChatSession(tenant=tenant, created_by=created_by, title=title, model=model)
    session.add(row)
    await session.commit()
    await session.refresh(row)
    return row


SESSION_BY_ID = select(*ChatSession.__table__.c).where(  # type: ignore[attr-defined]
    ChatSession.id == bindparam("session_id"),  # type: ignore[arg-type]
    ChatSession.tenant == bindparam("tenant"),  # type: ignore[arg-type]
)
SESSIONS_OF_TENANT = (
    select(*ChatSession.__table__.c)  # type: ignore[attr-defined]
    .where(ChatSession.tenant == bindparam("tenant"))  # type: ignore[arg-type]
    .order_by(ChatSession.created_at.desc(), ChatSession.id)  # type: ignore[attr-defined]
    .limit(bindparam("limit"))
)
MESSAGES_AFTER = (
    select(*ChatMessageRow.__table__.c)  # type: ignore[attr-defined]
    .where(
        ChatMessageRow.session_id == bindparam("session_id"),  # type: ignore[arg-type]
        ChatMessageRow.seq > bindparam("after_seq"),  # type: ignore[arg-type]
    )
    .order_by(ChatMessageRow.seq)  # type: ignore[arg-type]
)


async def read_session(reader: Reader, session_id: str, tenant: str) -> Row[Any] | None:
    """The chat session, or None if there is none of that id in `tenant`."""
    return await reader.one(SESSION_BY_ID, {"session_id": session_id, "tenant": tenant})


async def list_sessions(reader: Reader, tenant: str, limit: int = 100) -> list[Row[Any]]:
    """The tenant's sessions, newest first."""
    return await reader.all(SESSIONS_OF_TENANT, {"tenant": tenant, "limit": limit})


async def messages(reader: Reader, session_id: str, after_seq: int = 0) -> list[Row[Any]]:
    """The session's messages whose last frame is above `after_seq`, in order."""
    params = {"session_id": session_id, "after_seq": after_seq}
    return await reader.all(MESSAGES_AFTER, params, scan=True)


async def append_message(
    session: AsyncSession,
    session_id: str,
    *,
    role: str,
    content: str,
    first_seq: int,
    seq: int,
    tokens: list[str] | None = None,
    model: str | None = None,
    finish_reason: str | None = None,
    stats: dict[str, Any] | None = None,
) -> ChatMessageRow:
    """Store one message and move the session's last_seq to its last frame (commits)."""
    row = ChatMessageRow(
        session_id=session_id,
        role=role,
        content=content,
        first_seq=first_seq,
        seq=seq,
        tokens=tokens or [],
        model=model,
        finish_reason=finish_reason,
        stats=stats or {},
    )
    session.add(row)
    await session.execute(
        update(ChatSession)
        .where(ChatSession.id == session_id)  # type: ignore[arg-type]
        .values(last_seq=seq, updated_at=utcnow())
    )
    await session.commit()
    await session.refresh(row)
    return row


async def last_seq(session: AsyncSession, session_id: str) -> int:
    """The session's last frame, read by the writer that takes the next one."""
    result = await session.execute(
        select(ChatSession.last_seq).where(ChatSession.id == session_id)  # type: ignore[arg-type]
    )
    return int(result.scalar_one_or_none() or 0)
