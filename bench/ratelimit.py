"""What a rate-limit decision costs per request: in the API process's memory (SQLite
deployments) and shared through PostgreSQL (api/shared_ratelimit.py, many replicas).

    .venv/bin/python -m bench.ratelimit [--requests 2000] [--concurrency 16]
        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]

Creates a throw-away database on the server at --admin-url, migrates it, and times
`check()` one request after another (p50, p99 per decision), then `--concurrency`
requests at once on distinct keys and on one key (the row lock queues those), beside a
bare `SELECT 1` on the same kind of connection: the floor of any round trip. Drops the
database at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from agency.db.engine import make_engine
from agency.db.migrate import upgrade_database_async
from api.ratelimit import Policy, RateLimiter
from api.shared_ratelimit import PostgresRateLimiter

ROLES = ("viewer", "operator", "admin")
# Never refused: the bench times decisions, not refusals.
POLICIES = {role: Policy(role, 10**9, 60.0) for role in ROLES}


async def timed(call: Callable[[], Awaitable[object]], n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        await call()
        out.append(time.perf_counter() - start)
    return out


def summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1e3
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3
    return f"{name:<44} p50 {p50:7.3f} ms   p99 {p99:7.3f} ms"


async def concurrent(limiter: PostgresRateLimiter, n: int, width: int, one_key: bool) -> float:
    """Decisions per second with `width` requests in flight."""

    async def lane(i: int) -> None:
        key = "hot" if one_key else f"lane-{i}"
        for _ in range(n // width):
            await limiter.check(key, "viewer")

    start = time.perf_counter()
    await asyncio.gather(*(lane(i) for i in range(width)))
    return (n // width * width) / (time.perf_counter() - start)


async def run(admin_url: str, n: int, width: int) -> None:
    name = f"agency_bench_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin_url).set(drivername="postgresql+asyncpg", database=name)
    url_text = url.render_as_string(hide_password=False)
    try:
        await upgrade_database_async(url_text)
        memory = RateLimiter(POLICIES)
        shared = PostgresRateLimiter(url_text, POLICIES)
        floor = make_engine(url_text, pool_pre_ping=False, isolation_level="AUTOCOMMIT")

        async def select_one() -> None:
            async with floor.connect() as connection:
                await connection.execute(text("SELECT 1"))

        try:
            await timed(lambda: shared.check("warm", "viewer"), 100)
            await timed(select_one, 100)
            print(
                summary(
                    "in memory (RateLimiter)", await timed(lambda: memory.check("k", "viewer"), n)
                )
            )
            print(
                summary(
                    "PostgreSQL (PostgresRateLimiter), one key",
                    await timed(lambda: shared.check("k", "viewer"), n),
                )
            )
            print(summary("PostgreSQL SELECT 1 (the round-trip floor)", await timed(select_one, n)))
            spread = await concurrent(shared, n, width, one_key=False)
            hot = await concurrent(shared, n, width, one_key=True)
            print(f"{width} in flight, distinct keys: {spread:8.0f} decisions/s")
            print(f"{width} in flight, one key:       {hot:8.0f} decisions/s")
        finally:
            await shared.close()
            await floor.dispose()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    asyncio.run(run(args.admin_url, args.requests, args.concurrency))


if __name__ == "__main__":
    main()
