"""API keys kept per process on PostgreSQL (agency/db/key_cache.py): a key revoked or
changed by any process is dropped by every other process's cache on the notice of
migration 0011's trigger, and never served past the TTL even without notices."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import Executable, Row, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agency.db import keys
from agency.db.event_notices import EventListener
from agency.db.key_cache import CachedKeys, ReaderKeys, make_key_check
from agency.db.reads import AsyncReader, Params, Reader, make_reader

# Longer than any test runs: a key dropped in time was dropped by a notice.
LONG_TTL_S = 3600.0
WITHIN_S = 10.0


@dataclass
class Replica:
    """What one API process holds for key checks: its reader, cache and listener."""

    reader: Reader
    keys: CachedKeys
    listener: EventListener


@asynccontextmanager
async def replica(url: str, ttl_s: float = LONG_TTL_S) -> AsyncIterator[Replica]:
    reader = make_reader(url)
    cache = CachedKeys(reader, ttl_s=ttl_s)
    listener = EventListener(url, watchers=cache.watchers())
    listener.start()
    try:
        deadline = time.monotonic() + WITHIN_S
        while not listener.connected:
            assert time.monotonic() < deadline, "the listener did not connect"
            await asyncio.sleep(0.01)
        yield Replica(reader, cache, listener)
    finally:
        await listener.close()
        await reader.close()


async def until_refused(cache: CachedKeys, raw: str) -> None:
    deadline = time.monotonic() + WITHIN_S
    while await cache.verify(raw) is not None:
        assert time.monotonic() < deadline, "the key is still accepted"
        await asyncio.sleep(0.01)


async def new_key(sessions: async_sessionmaker[AsyncSession], role: keys.Role = "viewer") -> str:
    async with sessions() as session:
        return (await keys.create_key(session, name="carol", role=role, tenant="acme")).raw


async def test_a_key_revoked_anywhere_fails_on_every_replica(
    pg_url: str, pg_sessions: async_sessionmaker[AsyncSession]
) -> None:
    raw = await new_key(pg_sessions)
    key_id = keys.parse_key_id(raw)
    assert key_id is not None
    async with replica(pg_url) as a, replica(pg_url) as b:
        for each in (a, b):
            assert await each.keys.verify(raw) is not None
            assert await each.keys.verify(raw) is not None
            assert each.keys.hits == 1  # the second check was served from memory
        # Revoked by a third process (as `agency keys revoke --direct` does).
        async with pg_sessions() as session:
            assert await keys.revoke_key(session, key_id) is not None
        # The TTL is an hour: only the notice can have dropped the key.
        await until_refused(a.keys, raw)
        await until_refused(b.keys, raw)


async def test_a_changed_role_is_served_after_the_notice(
    pg_url: str, pg_sessions: async_sessionmaker[AsyncSession]
) -> None:
    raw = await new_key(pg_sessions, role="viewer")
    key_id = keys.parse_key_id(raw)
    async with replica(pg_url) as a:
        found = await a.keys.verify(raw)
        assert found is not None and found.role == "viewer"
        async with pg_sessions() as session, session.begin():
            await session.execute(
                update(keys.ApiKey).where(keys.ApiKey.id == key_id).values(role="admin")
            )
        deadline = time.monotonic() + WITHIN_S
        while (found := await a.keys.verify(raw)) is not None and found.role != "admin":
            assert time.monotonic() < deadline, "the old role is still served"
            await asyncio.sleep(0.01)
        assert found is not None and found.role == "admin"


async def test_last_used_writes_send_no_notice(
    pg_url: str, pg_sessions: async_sessionmaker[AsyncSession]
) -> None:
    # `touch` runs once a minute per key and replica: it must not empty every cache.
    touched = keys.parse_key_id(await new_key(pg_sessions))
    revoked = keys.parse_key_id(await new_key(pg_sessions))
    assert touched is not None and revoked is not None
    notices: list[str] = []
    dsn = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    listening = await asyncpg.connect(dsn)
    try:
        await listening.add_listener("agency_api_keys", lambda *args: notices.append(args[-1]))
        async with pg_sessions() as session:
            await keys.touch(session, touched)
            await keys.revoke_key(session, revoked)
        deadline = time.monotonic() + WITHIN_S
        while not notices:
            assert time.monotonic() < deadline, "no notice for the revocation"
            await asyncio.sleep(0.01)
    finally:
        await listening.close()
    # Notices arrive in commit order: one for the touch would have come first.
    assert notices[0] == revoked


class ClockedReader:
    """The real reader, counting reads and running `during` while one is in flight."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.reads = 0
        self.during: Any = None

    async def one(self, statement: Executable, params: Params = None) -> Row[Any] | None:
        self.reads += 1
        row = await self.reader.one(statement, params)
        if self.during is not None:
            self.during()
        return row

    async def all(
        self, statement: Executable, params: Params = None, *, scan: bool = False
    ) -> list[Row[Any]]:
        return await self.reader.all(statement, params, scan=scan)

    async def close(self) -> None:
        await self.reader.close()


async def test_without_notices_a_revoked_key_fails_once_the_ttl_is_over(
    pg_url: str, pg_sessions: async_sessionmaker[AsyncSession]
) -> None:
    # No listener at all: the TTL alone bounds how long a revoked key is served.
    raw = await new_key(pg_sessions)
    key_id = keys.parse_key_id(raw)
    assert key_id is not None
    now = [100.0]
    reader = ClockedReader(AsyncReader(pg_url))
    cache = CachedKeys(reader, ttl_s=1.0, clock=lambda: now[0])
    try:
        assert await cache.verify(raw) is not None
        async with pg_sessions() as session:
            await keys.revoke_key(session, key_id)
        now[0] += 0.999  # within the TTL of the read: still the row it read
        assert await cache.verify(raw) is not None and reader.reads == 1
        now[0] += 0.001  # the TTL is counted from when that read was sent
        assert await cache.verify(raw) is None and reader.reads == 2
    finally:
        await reader.close()


async def test_a_read_overtaken_by_a_notice_is_not_kept(
    pg_url: str, pg_sessions: async_sessionmaker[AsyncSession]
) -> None:
    # The row may predate the change the notice announces: used once, never again.
    raw = await new_key(pg_sessions)
    key_id = keys.parse_key_id(raw)
    assert key_id is not None
    reader = ClockedReader(AsyncReader(pg_url))
    cache = CachedKeys(reader, ttl_s=LONG_TTL_S)
    try:
        reader.during = lambda: cache.notified(key_id)
        assert await cache.verify(raw) is not None
        reader.during = None
        assert await cache.verify(raw) is not None
        assert reader.reads == 2  # the first row was not kept
        assert await cache.verify(raw) is not None
        assert reader.reads == 2  # the second was
        cache.reset()  # the listener reconnected: anything may have changed
        assert await cache.verify(raw) is not None
        assert reader.reads == 3
    finally:
        await reader.close()


async def test_a_cached_row_lets_no_wrong_secret_through(
    pg_url: str, pg_sessions: async_sessionmaker[AsyncSession]
) -> None:
    raw = await new_key(pg_sessions)
    reader = AsyncReader(pg_url)
    cache = CachedKeys(reader, ttl_s=LONG_TTL_S)
    try:
        assert await cache.verify(raw) is not None
        wrong = raw[:-1] + ("A" if raw[-1] != "A" else "B")
        for candidate in (wrong, raw + "x", raw[:15], "", "aa__"):
            assert await cache.verify(candidate) is None, candidate
        assert cache.hits >= 1
    finally:
        await reader.close()


async def test_sqlite_checks_through_its_reader(
    sessions: async_sessionmaker[AsyncSession], db_url: str, reader: Reader
) -> None:
    check = make_key_check(db_url, reader)
    if "sqlite" in db_url:
        assert isinstance(check, ReaderKeys) and not check.watchers()
    else:
        assert isinstance(check, CachedKeys) and list(check.watchers()) == ["agency_api_keys"]
    raw = await new_key(sessions)
    key_id = keys.parse_key_id(raw)
    assert key_id is not None
    assert await check.verify(raw) is not None
    async with sessions() as session:
        await keys.revoke_key(session, key_id)
    check.forget(key_id)  # what the API's own revocation does
    assert await check.verify(raw) is None
    row = await check.row(key_id)
    assert row is not None and row.revoked_at is not None
