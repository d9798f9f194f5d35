"""Rate limits shared by every API process, kept in PostgreSQL (agency/db/rate_limits.py).

Several API processes behind one load balancer must spend one budget per key: with the
buckets in each process's memory a key would get its quota once per replica. Here each
request spends its token with one statement (one round trip, on a connection kept for
it, autocommit, no pre-ping) and answers the same `Decision`, headers and 429 as the
in-memory limiter.

`make_limiter` picks: PostgreSQL → shared; SQLite → in memory (api/ratelimit.py), where
one API process serves the stack and a write per request would queue behind SQLite's
single writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from agency.db import rate_limits
from agency.db.engine import is_sqlite, make_engine
from agency.settings import Settings
from api.ratelimit import Decision, Limiter, Policy, RateLimiter, decide, policies_from

log = logging.getLogger("agency.api")

# Bounds of one spend (the same as the API's reads): a database that stops answering
# turns requests into 503s, never into requests that hang.
COMMAND_TIMEOUT_S = 10.0
POOL_TIMEOUT_S = 10.0
# Pruning is bookkeeping: at most this often per process.
PRUNE_EVERY_S = 300.0


class PostgresRateLimiter:
    def __init__(self, url: str | URL, policies: dict[str, Policy]) -> None:
        self._policies = policies
        self._window_s = max(p.window_s for p in policies.values())
        self._engine: AsyncEngine = make_engine(
            url,
            pool_pre_ping=False,
            isolation_level="AUTOCOMMIT",
            command_timeout_s=COMMAND_TIMEOUT_S,
            pool_timeout_s=POOL_TIMEOUT_S,
        )
        self._pruned_at = time.monotonic()
        self._pruning: asyncio.Task[Any] | None = None

    def policy(self, role: str) -> Policy:
        return self._policies[role]

    async def check(self, key: str, role: str) -> Decision:
        policy = self._policies[role]
        try:
            spent = await self._spend(key, policy)
        except DBAPIError as err:
            if not err.connection_invalidated:
                raise
            # The server dropped the pooled connection (a restart). Trying again on a fresh
            # one may spend a second token if the first statement did commit: the rarer,
            # cheaper error than failing the request.
            spent = await self._spend(key, policy)
        self._maybe_prune()
        return decide(policy, spent.tokens, spent.allowed)

    async def _spend(self, key: str, policy: Policy) -> rate_limits.Spent:
        async with self._engine.connect() as connection:
            return await rate_limits.spend(connection, key, policy.quota, policy.rate)

    def _maybe_prune(self) -> None:
        now = time.monotonic()
        if now - self._pruned_at < PRUNE_EVERY_S or self._pruning is not None:
            return
        self._pruned_at = now
        self._pruning = asyncio.get_running_loop().create_task(self._prune())

    async def _prune(self) -> None:
        try:
            async with self._engine.connect() as connection:
                gone = await rate_limits.prune(connection, self._window_s)
            log.debug("pruned %d full rate-limit buckets", gone)
        except Exception as err:  # bookkeeping only: the next prune tries again
            log.info("could not prune rate-limit buckets: %s", type(err).__name__)
        finally:
            self._pruning = None

    def forget(self, key: str) -> None:
        # A revoked key cannot authenticate, so it spends nothing more; its row goes
        # with the next prune.
        pass

    async def close(self) -> None:
        if self._pruning is not None:
            self._pruning.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruning
        await self._engine.dispose()


def make_limiter(settings: Settings) -> Limiter:
    url = settings.effective_database_url
    if is_sqlite(url):
        return RateLimiter.from_settings(settings)
    return PostgresRateLimiter(url, policies_from(settings))
