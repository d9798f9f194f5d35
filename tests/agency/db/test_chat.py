"""Chat sessions and messages on SQLite and PostgreSQL: sequence numbers and replay."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agency.db import chat
from agency.db.reads import Reader


async def test_messages_after_a_sequence_number(
    sessions: async_sessionmaker[AsyncSession], reader: Reader
) -> None:
    async with sessions() as s:
        row = await chat.create_session(s, tenant="acme", created_by="alice", title="t")
        assert row.last_seq == 0
        await chat.append_message(s, row.id, role="user", content="hi", first_seq=1, seq=1)
        await chat.append_message(
            s,
            row.id,
            role="assistant",
            content="Hello there",
            first_seq=2,
            seq=4,
            tokens=["Hello", " there"],
            model="m",
            finish_reason="stop",
        )
        assert await chat.last_seq(s, row.id) == 4
        assert [m.seq for m in await chat.messages(reader, row.id)] == [1, 4]
        # A reply whose final frame is above N is returned whole (its tokens filter later).
        assert [m.seq for m in await chat.messages(reader, row.id, after_seq=2)] == [4]
        assert await chat.messages(reader, row.id, after_seq=4) == []
        stored = (await chat.messages(reader, row.id, after_seq=1))[0]
        assert stored.tokens == ["Hello", " there"] and stored.first_seq == 2


async def test_sessions_belong_to_their_tenant(
    sessions: async_sessionmaker[AsyncSession], reader: Reader
) -> None:
    async with sessions() as s:
        row = await chat.create_session(s, tenant="acme", created_by="alice")
        assert await chat.read_session(reader, row.id, "acme") is not None
        assert await chat.read_session(reader, row.id, "other") is None
        assert [x.id for x in await chat.list_sessions(reader, "acme")] == [row.id]
        assert await chat.list_sessions(reader, "other") == []


async def test_a_sequence_number_is_stored_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as s:
        row = await chat.create_session(s, tenant="acme", created_by="alice")
        await chat.append_message(s, row.id, role="user", content="a", first_seq=1, seq=1)
        with pytest.raises(IntegrityError):
            await chat.append_message(s, row.id, role="user", content="b", first_seq=1, seq=1)
