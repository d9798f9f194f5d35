"""Rate limits shared by every API process, kept in PostgreSQL (agency/db/rate_limits.py).

Several API processes behind one load balancer must spend one budget per key: with the
buckets in each process's memory a key would get its quota once per replica. Here a
request's token is spent with one statement (one round trip, on a connection kept for
it, autocommit, no pre-ping) and answers the same `Decision`, headers and 429 as the
in-memory limiter.

A process's requests of one key that arrive while that key's spend waits for a pooled
connection join it: the statement, sent after all of them arrived, takes a token for
each if the bucket has them (agency/db/rate_limits.py, `n`), and the first `granted` of
them, in order of arrival, are let through. A busy key thus costs one statement per
round trip, not one per request; every token is still taken from the shared row before
its request goes on, so a budget is never overspent. A spend already sent is never
joined (a request never shares a statement that started before it arrived).

`make_limiter` picks: PostgreSQL → shared; SQLite → in memory (api/ratelimit.py), where
one API process serves the stack and a write per request would queue behind SQLite's
single writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from agency.db import rate_limits
from agency.db.engine import is_sqlite, make_engine
from agency.settings import Settings
from api.ratelimit import Decision, Limiter, Policy, RateLimiter, decide, policies_from

log = logging.getLogger("agency.api")


@dataclass
class _Spend:
    """One statement's worth of a key's requests, in order of arrival."""

    waiters: list[asyncio.Future[Decision]]


# Bounds of one spend (the same as the API's reads): a database that stops answering
# turns requests into 503s, never into requests that hang.
COMMAND_TIMEOUT_S = 10.0
POOL_TIMEOUT_S = 10.0
# Pruning is bookkeeping: at most this often per process.
PRUNE_EVERY_S = 300.0


class PostgresRateLimiter:
    def __init__(
        self, url: str | URL, policies: dict[str, Policy], pool_size: int | None = None
    ) -> None:
        self._policies = policies
        # (key, role) -> the spend waiting for a connection, which new requests join.
        self._open: dict[tuple[str, str], _Spend] = {}
        # Spends under way (the event loop keeps only weak references to tasks).
        self._running: set[asyncio.Task[None]] = set()
        self._window_s = max(p.window_s for p in policies.values())
        self._engine: AsyncEngine = make_engine(
            url,
            pool_pre_ping=False,
            isolation_level="AUTOCOMMIT",
            command_timeout_s=COMMAND_TIMEOUT_S,
            pool_timeout_s=POOL_TIMEOUT_S,
            pool_size=pool_size,
            # A spend does not wait for its WAL record to reach the disk: the row lock is
            # held until the commit returns, so with the flush inside it every request of
            # a key queued behind the previous one's fsync. What a crash of the database
            # can lose is the last few hundred milliseconds of spends: tokens handed
            # back, never a token taken twice.
            connect_args={"server_settings": {"synchronous_commit": "off"}},
        )
        self._pruned_at = time.monotonic()
        self._pruning: asyncio.Task[Any] | None = None

    def policy(self, role: str) -> Policy:
        return self._policies[role]

    async def check(self, key: str, role: str) -> Decision:
        policy = self._policies[role]
        waiter: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        spend = self._open.get((key, role))
        if spend is None:
            spend = self._open[(key, role)] = _Spend([waiter])
            # A task of its own: a caller that goes away (a client hanging up) must not
            # cancel the spend the others joined.
            task = asyncio.get_running_loop().create_task(self._run(key, policy, spend))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        else:
            spend.waiters.append(waiter)
        self._maybe_prune()
        return await waiter

    async def _run(self, key: str, policy: Policy, spend: _Spend) -> None:
        try:
            try:
                spent = await self._spend(key, policy, spend)
            except DBAPIError as err:
                if not err.connection_invalidated:
                    raise
                # The server dropped the pooled connection (a restart). Trying again on a
                # fresh one may spend tokens twice if the first statement did commit: the
                # rarer, cheaper error than failing the requests.
                spent = await self._spend(key, policy, spend)
        except Exception as err:
            self._close(key, policy, spend)
            for waiter in spend.waiters:
                if not waiter.done():
                    waiter.set_exception(err)
            return
        except BaseException:  # cancelled (the process is stopping)
            self._close(key, policy, spend)
            for waiter in spend.waiters:
                waiter.cancel()
            raise
        for i, waiter in enumerate(spend.waiters):
            allowed = i < spent.granted
            # Tokens left once this request took its own: those the later ones of the
            # spend took are still in the bucket as far as it is concerned.
            tokens = spent.tokens + (spent.granted - 1 - i if allowed else 0)
            if not waiter.done():
                waiter.set_result(decide(policy, tokens, allowed))

    def _close(self, key: str, policy: Policy, spend: _Spend) -> None:
        """No request joins `spend` from now on."""
        if self._open.get((key, policy.name)) is spend:
            del self._open[(key, policy.name)]

    async def _spend(self, key: str, policy: Policy, spend: _Spend) -> rate_limits.Spent:
        async with self._engine.connect() as connection:
            # Closed to newcomers before the statement is sent, in the same step: whoever
            # joined did so before it left, and whoever comes now starts the next one.
            self._close(key, policy, spend)
            n = len(spend.waiters)
            return await rate_limits.spend(connection, key, policy.quota, policy.rate, n)

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
    return PostgresRateLimiter(url, policies_from(settings), settings.database_pool_size)
