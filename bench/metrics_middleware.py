"""What the request metrics cost: the HttpMetrics middleware (api.prometheus) per request,
and a scrape of /metrics, measured in process on ASGI calls (no sockets, no server), so
that the difference is the middleware's own work and nothing else's noise.

    .venv/bin/python -m bench.metrics_middleware [--requests 20000] [--rounds 5]

Two FastAPI apps answer GET /items/{item_id} with a small JSON body, one with the
middleware; requests alternate between them round by round, and the report gives each
one's median time per request over the rounds and the difference (the overhead). The
same again with a bare ASGI app that answers at once, where the middleware is nearly all
the work, for its cost alone without FastAPI's variance around it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder

from api.prometheus import HttpMetrics


def make_app(with_metrics: bool) -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: str) -> dict[str, Any]:
        return {"id": item_id}

    if with_metrics:
        app.add_middleware(HttpMetrics, routes=lambda: app.routes)
    return app


async def bare(scope: Any, receive: Any, send: Any) -> None:
    """An ASGI app that answers at once, as a matched route (the router sets `route`)."""
    scope["route"] = BARE_ROUTE
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


BARE_ROUTE = APIRoute("/items/{item_id}", endpoint=lambda: None)


async def call(app: Any, path: str) -> None:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    await app(scope, receive, send)


async def per_request_us(app: Any, requests: int) -> float:
    started = time.perf_counter()
    for i in range(requests):
        await call(app, f"/items/{i}")
    return (time.perf_counter() - started) / requests * 1e6


async def compare(what: str, plain: Any, measured: Any, requests: int, rounds: int) -> None:
    for app in (plain, measured):  # warm-up: routes compiled, first-request set-up done
        await per_request_us(app, 500)
    times: dict[str, list[float]] = {"plain": [], "measured": []}
    for _ in range(rounds):
        times["plain"].append(await per_request_us(plain, requests))
        times["measured"].append(await per_request_us(measured, requests))
    plain_us = statistics.median(times["plain"])
    measured_us = statistics.median(times["measured"])
    print(f"{what}: per request, median of {rounds} rounds of {requests}")
    print(f"  without the middleware  {plain_us:8.1f} µs")
    print(f"  with the middleware     {measured_us:8.1f} µs")
    print(f"  overhead                {measured_us - plain_us:8.1f} µs")


async def main(requests: int, rounds: int) -> None:
    await compare("FastAPI route", make_app(False), make_app(True), requests, rounds)
    wrapped = HttpMetrics(bare, routes=lambda: [])
    await compare("bare ASGI app", bare, wrapped, requests, rounds)
    encode, _ = choose_encoder("")
    started = time.perf_counter()
    for _ in range(100):
        text = encode(REGISTRY)
    print(
        f"a scrape of this registry: {(time.perf_counter() - started) * 10:.2f} ms, "
        f"{len(text)} bytes"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.rounds))
