"""Rate limits shared through PostgreSQL: two limiters on one database are two API
replicas, and a key's budget is one budget across them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from agency.db.engine import make_engine
from agency.db.migrate import upgrade_database_async
from agency.settings import Settings
from api.ratelimit import Policy, RateLimiter
from api.shared_ratelimit import PostgresRateLimiter, make_limiter
from tests.support.db_fixtures import pg_url

__all__ = ["pg_url"]

ROLES = ("viewer", "operator", "admin")


def policies(quota: int, window_s: float = 60.0) -> dict[str, Policy]:
    return {role: Policy(role, quota, window_s) for role in ROLES}


@pytest.fixture
async def migrated(pg_url: str) -> str:
    await upgrade_database_async(pg_url)
    return pg_url


@pytest.fixture
async def replicas(migrated: str) -> AsyncIterator[list[PostgresRateLimiter]]:
    limiters = [PostgresRateLimiter(migrated, policies(quota=5)) for _ in range(2)]
    try:
        yield limiters
    finally:
        for limiter in limiters:
            await limiter.close()


async def age_buckets(url: str, seconds: float) -> None:
    """Move every bucket's last count `seconds` into the past (time passing, no sleep)."""
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "UPDATE rate_limit_buckets "
                    "SET updated_at = updated_at - make_interval(secs => :s)"
                ),
                {"s": seconds},
            )
    finally:
        await engine.dispose()


async def test_one_budget_across_replicas(replicas: list[PostgresRateLimiter]) -> None:
    a, b = replicas
    decisions = [await (a if i % 2 else b).check("key-1", "viewer") for i in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0]
    refused = decisions[-1]
    # The same headers as the in-memory limiter: 5 per 60 s, one token back in 12 s.
    assert refused.headers()["RateLimit-Policy"] == '"viewer";q=5;w=60'
    assert refused.headers()["Retry-After"] == "12"
    # Another key has its own budget.
    assert (await a.check("key-2", "viewer")).remaining == 4


async def test_concurrent_requests_never_overspend(
    replicas: list[PostgresRateLimiter],
) -> None:
    a, b = replicas
    decisions = await asyncio.gather(
        *(limiter.check("key-1", "viewer") for _ in range(10) for limiter in (a, b))
    )
    assert sum(d.allowed for d in decisions) == 5


async def test_the_bucket_refills_by_the_database_clock(
    migrated: str, replicas: list[PostgresRateLimiter]
) -> None:
    a, b = replicas
    for _ in range(5):
        assert (await a.check("key-1", "viewer")).allowed
    assert not (await b.check("key-1", "viewer")).allowed
    await age_buckets(migrated, 24.0)  # two tokens back at 5 per 60 s
    assert [(await b.check("key-1", "viewer")).allowed for _ in range(3)] == [
        True,
        True,
        False,
    ]
    await age_buckets(migrated, 3600.0)  # never more than the quota
    assert (await a.check("key-1", "viewer")).remaining == 4


async def test_prune_drops_only_full_buckets(
    migrated: str, replicas: list[PostgresRateLimiter]
) -> None:
    a, _ = replicas
    await a.check("old", "viewer")
    await age_buckets(migrated, 61.0)
    await a.check("fresh", "viewer")
    await a._prune()
    engine = make_engine(migrated)
    try:
        async with engine.connect() as connection:
            keys = (await connection.execute(text("SELECT key_id FROM rate_limit_buckets"))).all()
    finally:
        await engine.dispose()
    assert [k.key_id for k in keys] == ["fresh"]


async def test_sqlite_keeps_the_in_memory_limiter(tmp_path: Path, migrated: str) -> None:
    sqlite = Settings(data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path}/a.db")
    assert isinstance(make_limiter(sqlite), RateLimiter)
    shared = make_limiter(Settings(data_dir=tmp_path, database_url=migrated))
    try:
        assert isinstance(shared, PostgresRateLimiter)
    finally:
        await shared.close()


async def test_a_keys_concurrent_requests_share_one_spend(
    migrated: str, replicas: list[PostgresRateLimiter]
) -> None:
    # Twenty requests of one key at once on one API: one statement spends for all of
    # them, the first five (in order of arrival) get the five tokens there are.
    a, _ = replicas
    decisions = await asyncio.gather(*(a.check("key-1", "viewer") for _ in range(20)))
    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 15
    assert [d.remaining for d in decisions[:5]] == [4, 3, 2, 1, 0]
    assert all(d.remaining == 0 and d.retry_after_s >= 1 for d in decisions[5:])
    engine = make_engine(migrated)
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(text("SELECT tokens, granted FROM rate_limit_buckets"))
            ).one()
    finally:
        await engine.dispose()
    # One spend took all five: twenty statements would have left granted at 0.
    assert row.granted == 5 and row.tokens < 1
    # The next request starts a spend of its own, and is refused by the same bucket.
    assert not (await a.check("key-1", "viewer")).allowed


async def test_a_spend_on_a_connection_that_does_not_wait_for_the_disk(
    replicas: list[PostgresRateLimiter],
) -> None:
    # synchronous_commit=off on the limiter's own connections only (shared_ratelimit.py).
    a, _ = replicas
    async with a._engine.connect() as connection:
        setting = (await connection.execute(text("SHOW synchronous_commit"))).scalar()
    assert setting == "off"
