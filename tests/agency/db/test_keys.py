"""API key storage on SQLite and PostgreSQL: hashed, verified, revoked."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agency.db import keys
from agency.db.reads import Reader


async def test_a_new_key_is_stored_only_as_a_hash(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        new = await keys.create_key(session, name="alice", role="operator", tenant="acme")
    raw = new.raw
    assert raw.startswith("aa_") and len(raw) == 3 + 12 + 1 + 43
    assert keys.parse_key_id(raw) == new.row.id
    async with sessions() as session:
        rows = (await session.execute(text("SELECT * FROM api_keys"))).all()
    assert len(rows) == 1
    secret = raw.split("_", 2)[2]
    assert all(secret not in str(value) for value in rows[0])
    assert keys.digest(raw) in rows[0]


async def test_verify_accepts_the_key_and_nothing_near_it(
    sessions: async_sessionmaker[AsyncSession], reader: Reader
) -> None:
    async with sessions() as session:
        new = await keys.create_key(session, name="bob", role="viewer", tenant="default")
    found = await keys.verify(reader, new.raw)
    assert found is not None and (found.id, found.role, found.name) == (new.row.id, "viewer", "bob")
    wrong = new.raw[:-1] + ("A" if new.raw[-1] != "A" else "B")
    for candidate in (wrong, new.raw + "x", new.row.prefix, "", "aa__", "Bearer " + new.raw):
        assert await keys.verify(reader, candidate) is None, candidate


async def test_revocation_is_immediate_and_keeps_the_first_time(
    sessions: async_sessionmaker[AsyncSession], reader: Reader
) -> None:
    async with sessions() as session:
        new = await keys.create_key(session, name="carol", role="admin", tenant="acme")
        assert await keys.verify(reader, new.raw) is not None
        assert await keys.count_active_admins(reader, "acme") == 1
        assert await keys.revoke_key(session, new.row.id, tenant="other") is None
        first = await keys.revoke_key(session, new.row.id, tenant="acme")
        assert first is not None and first.revoked_at is not None
        again = await keys.revoke_key(session, new.row.id)
        assert again is not None and again.revoked_at == first.revoked_at
        assert await keys.verify(reader, new.raw) is None
        assert await keys.count_active_admins(reader, "acme") == 0
        assert await keys.list_keys(reader, tenant="acme") == []
        assert len(await keys.list_keys(reader, tenant="acme", include_revoked=True)) == 1


async def test_touch_records_last_use(
    sessions: async_sessionmaker[AsyncSession], reader: Reader
) -> None:
    async with sessions() as session:
        new = await keys.create_key(session, name="dave", role="viewer", tenant="default")
        assert new.row.last_used_at is None
        await keys.touch(session, new.row.id)
        row = await keys.read_key(reader, new.row.id)
        assert row is not None and row.last_used_at is not None


async def test_unknown_roles_are_refused(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        with pytest.raises(ValueError, match="role"):
            await keys.create_key(session, name="x", role="root", tenant="t")  # type: ignore[arg-type]
