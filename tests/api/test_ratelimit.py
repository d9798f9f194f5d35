"""Per-key token buckets: the arithmetic (with a fake clock) and the headers over HTTP."""

from __future__ import annotations

import asyncio
import re

from agency.asgi_thread import serve_app
from api.app import create_app
from api.ratelimit import Policy, RateLimiter
from tests.api.conftest import ApiUnderTest

LIMIT = re.compile(r'^"(\w+)";r=(\d+);t=(\d+)$')


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(clock: Clock, quota: int = 3, window_s: float = 3.0) -> RateLimiter:
    policies = {role: Policy(role, quota, window_s) for role in ("viewer", "operator", "admin")}
    return RateLimiter(policies, clock=clock)


def test_a_bucket_allows_its_quota_then_refills_evenly() -> None:
    clock = Clock()
    bucket = limiter(clock)
    assert [bucket.take("k", "viewer").remaining for _ in range(3)] == [2, 1, 0]
    refused = bucket.take("k", "viewer")
    assert not refused.allowed and refused.retry_after_s == 1
    assert refused.headers()["Retry-After"] == "1"
    clock.now += 1.0  # one token back (3 per 3 s)
    assert bucket.take("k", "viewer").allowed
    assert not bucket.take("k", "viewer").allowed
    clock.now += 10.0  # never more than the quota
    assert [bucket.take("k", "viewer").allowed for _ in range(4)] == [True, True, True, False]


def test_keys_have_separate_buckets_and_headers_follow_the_draft() -> None:
    clock = Clock()
    bucket = limiter(clock, quota=2, window_s=60)
    first = bucket.take("a", "operator")
    assert first.headers() == {
        "RateLimit-Policy": '"operator";q=2;w=60',
        "RateLimit": '"operator";r=1;t=30',
    }
    bucket.take("a", "operator")
    assert not bucket.take("a", "operator").allowed
    assert bucket.take("b", "operator").allowed


async def test_429_with_headers_then_recovery_after_the_window(api: ApiUnderTest) -> None:
    tight = api.h.settings.model_copy(update={"rate_limit_viewer": 3, "rate_limit_window_s": 1.0})
    viewer = await api.key("busy-viewer", "viewer")
    admin = api.admin_key
    with serve_app(create_app(tight)) as url:
        http = api.client(viewer, base_url=url)
        remaining = []
        for _ in range(3):
            response = await http.get("/api/v1/tasks")
            assert response.status_code == 200
            assert response.headers["RateLimit-Policy"] == '"viewer";q=3;w=1'
            match = LIMIT.match(response.headers["RateLimit"])
            assert match is not None and match.group(1) == "viewer"
            remaining.append(int(match.group(2)))
        assert remaining == [2, 1, 0]

        refused = await http.get("/api/v1/tasks")
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["type"].endswith("/rate-limited")
        assert int(refused.headers["Retry-After"]) >= 1
        assert "RateLimit" in refused.headers
        # Another key is not held back by this one's bucket.
        other = api.client(admin, base_url=url)
        assert (await other.get("/api/v1/tasks")).status_code == 200

        await asyncio.sleep(int(refused.headers["Retry-After"]))
        assert (await http.get("/api/v1/tasks")).status_code == 200
