"""Per-key rate limits: a token bucket per API key, sized by the key's role.

A bucket holds up to `quota` tokens and refills at quota/window tokens per second; a
request takes one. Clients learn where they stand from the `RateLimit-Policy` and
`RateLimit` header fields in the form of draft-ietf-httpapi-ratelimit-headers (-08 and
later: structured fields naming the policy, with q = quota, w = window in seconds,
r = remaining, t = seconds until the bucket is full again), on every authenticated
response; an empty bucket is answered 429 with `Retry-After`.

`RateLimiter` keeps the buckets in the API process: right for one API process (SQLite,
`agency up`). Several API processes on PostgreSQL share theirs through the database
(api/shared_ratelimit.py); both answer the same `Decision`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agency.settings import Settings

# Where the decision for a request waits (in scope["state"]) for the middleware.
STATE_KEY = "agency_ratelimit"
HEADER_POLICY = "RateLimit-Policy"
HEADER_LIMIT = "RateLimit"


@dataclass(frozen=True)
class Policy:
    name: str
    quota: int
    window_s: float

    @property
    def rate(self) -> float:
        return self.quota / self.window_s

    def header(self) -> str:
        return f'"{self.name}";q={self.quota};w={_seconds(self.window_s)}'


@dataclass(frozen=True)
class Decision:
    policy: Policy
    allowed: bool
    remaining: int
    # Seconds until the bucket is full again.
    reset_s: int
    # Seconds until the next request would be allowed (0 when allowed now).
    retry_after_s: int

    def headers(self) -> dict[str, str]:
        out = {
            HEADER_POLICY: self.policy.header(),
            HEADER_LIMIT: f'"{self.policy.name}";r={self.remaining};t={self.reset_s}',
        }
        if not self.allowed:
            out["Retry-After"] = str(self.retry_after_s)
        return out


def _seconds(value: float) -> int:
    return max(0, math.ceil(value - 1e-9))


def decide(policy: Policy, tokens: float, allowed: bool) -> Decision:
    """The decision for a bucket left with `tokens` after this request (which took one
    when `allowed`)."""
    return Decision(
        policy=policy,
        allowed=allowed,
        remaining=int(tokens),
        reset_s=_seconds((policy.quota - tokens) / policy.rate),
        retry_after_s=0 if allowed else max(1, _seconds((1.0 - tokens) / policy.rate)),
    )


class Limiter(Protocol):
    """What the request path asks of a rate limiter, wherever its buckets live."""

    def policy(self, role: str) -> Policy: ...

    async def check(self, key: str, role: str) -> Decision:
        """Spend one request of `key`'s budget if there is one left."""
        ...

    def forget(self, key: str) -> None: ...

    async def close(self) -> None: ...


@dataclass
class _Bucket:
    tokens: float
    updated: float


def policies_from(settings: Settings) -> dict[str, Policy]:
    window = settings.rate_limit_window_s
    return {
        "viewer": Policy("viewer", settings.rate_limit_viewer, window),
        "operator": Policy("operator", settings.rate_limit_operator, window),
        "admin": Policy("admin", settings.rate_limit_admin, window),
    }


class RateLimiter:
    def __init__(
        self,
        policies: dict[str, Policy] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._policies = policies or policies_from(Settings())
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        return cls(policies_from(settings))

    def policy(self, role: str) -> Policy:
        return self._policies[role]

    def take(self, key: str, role: str) -> Decision:
        """Spend one token of `key`'s bucket if there is one. Synchronous on purpose: with
        no await inside, concurrent requests on one event loop cannot interleave here."""
        policy = self._policies[role]
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(tokens=float(policy.quota), updated=now)
        else:
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(policy.quota), bucket.tokens + elapsed * policy.rate)
            bucket.updated = now
        # A role change between requests must not leave more tokens than the new quota.
        bucket.tokens = min(bucket.tokens, float(policy.quota))
        allowed = bucket.tokens >= 1.0
        if allowed:
            bucket.tokens -= 1.0
        return decide(policy, bucket.tokens, allowed)

    async def check(self, key: str, role: str) -> Decision:
        return self.take(key, role)

    def forget(self, key: str) -> None:
        self._buckets.pop(key, None)

    async def close(self) -> None:
        pass


class RateLimitHeaders:
    """ASGI middleware: copies the request's rate-limit decision into its response headers
    (success or error alike, and before a stream's first byte)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                decision = scope.get("state", {}).get(STATE_KEY)
                if isinstance(decision, Decision):
                    headers = MutableHeaders(scope=message)
                    for name, value in decision.headers().items():
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
