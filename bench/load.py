"""The API benchmark's load generator and report (bench.api runs it): keep-alive clients
on a minimal HTTP/1.1 client, closed loop or paced (open loop, latency counted from when
a request was due), and the results as a Markdown table and JSON figures."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def build_request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status


async def client_loop(
    port: int,
    request: bytes,
    ok: int,
    start_at: float,
    stop_at: float,
    latencies: list[float],
    counts: list[int],
    pace: tuple[float, float] | None = None,
) -> None:
    """One keep-alive client. Without `pace` (closed loop) it sends again as soon as it is
    answered; with `pace` = (first due time, interval) it sends at those times and counts
    latency from when each request was due, so a slow answer cannot hide the ones it
    delays."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    due = pace[0] if pace else 0.0
    try:
        while True:
            if pace is None:
                due = time.perf_counter()
            elif (wait := due - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            if due >= stop_at:
                return
            writer.write(request)
            try:
                status = await read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                # The server closed the connection while it was idle (uvicorn does after
                # 5 s): a paced client at a low rate (POST at half load on a busy
                # machine) waits longer than that. Once more on a new connection, the
                # time it takes counted in the latency.
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(request)
                status = await read_response(reader)
            ended = time.perf_counter()
            if due >= start_at:  # after the warm-up
                latencies.append((ended - due) * 1000)
                counts[0] += 1
                counts[1] += status != ok
            if pace is not None:
                due += pace[1]
    finally:
        writer.close()


async def run_load(
    name: str,
    port: int,
    request: bytes,
    ok: int,
    clients: int,
    seconds: float,
    rate: float | None = None,
) -> Result:
    """`clients` clients for `seconds` after a one-second warm-up: closed loop, or
    together offering `rate` requests/s, evenly spread."""
    now = time.perf_counter()
    start_at, stop_at = now + 1.0, now + 1.0 + seconds
    latencies: list[float] = []
    counts = [0, 0]
    interval = clients / rate if rate else 0.0
    await asyncio.gather(
        *(
            client_loop(
                port,
                request,
                ok,
                start_at,
                stop_at,
                latencies,
                counts,
                (now + i * interval / clients, interval) if rate else None,
            )
            for i in range(clients)
        )
    )
    return Result(name, counts[0], counts[1], seconds, latencies)


def table(title: str, results: list[Result], ceiling: float) -> str:
    lines = [
        f"| {title} | req/s | % of hello | p50 ms | p95 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.rps:.0f} | {100 * r.rps / ceiling:.0f}% | {r.pct(50):.1f} | "
            f"{r.pct(95):.1f} | {r.pct(99):.1f} | {r.errors} |"
        )
    return "\n".join(lines)


def figures(results: list[Result]) -> list[dict[str, Any]]:
    return [
        {
            "name": r.name,
            "rps": round(r.rps, 1),
            "p50_ms": round(r.pct(50), 2),
            "p95_ms": round(r.pct(95), 2),
            "p99_ms": round(r.pct(99), 2),
            "errors": r.errors,
        }
        for r in results
    ]
