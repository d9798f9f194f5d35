"""Helpers for the tests that take a dependency away: waiting with deadlines, checking a
503 problem, reading an SSE stream in the background, writing a task's records, a server
that never answers."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from agency.db import records
from agency.db.engine import make_engine, session_maker
from domain.audit import ProjectionPatch
from tests.agency.db.factories import add_task, as_stored_before_full_projection, record

PROBLEM = "application/problem+json"
T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]],
    ok: Callable[[T], bool],
    *,
    within: float = 30.0,
    every: float = 0.1,
    what: str = "the condition",
) -> T:
    """Call `probe` until `ok` holds for its result; fail with the last result at the
    deadline. Synchronisation by polling, never by a fixed sleep."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if ok(result):
            return result
        assert time.monotonic() < deadline, f"{what} did not hold in {within} s: {result!r}"
        await asyncio.sleep(every)


def assert_unavailable(response: httpx.Response, down: str) -> dict[str, Any]:
    """A 503 problem+json with Retry-After that names `down` as unavailable."""
    where = f"{response.request.method} {response.request.url.path}"
    assert response.status_code == 503, (where, response.status_code, response.text)
    assert response.headers["content-type"].startswith(PROBLEM), where
    assert int(response.headers["retry-after"]) > 0, where
    problem: dict[str, Any] = response.json()
    assert problem["type"].endswith("/unavailable"), (where, problem)
    assert problem["status"] == 503
    assert problem["unavailable"] == [down], (where, problem)
    assert "Traceback" not in response.text
    return problem


@dataclass
class SseEvent:
    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None


@dataclass
class StreamReader:
    """Reads an SSE response in a background task; `events` grows as they arrive."""

    events: list[SseEvent] = field(default_factory=list)
    status: int | None = None
    task: asyncio.Task[None] | None = None

    def named(self, event: str) -> list[SseEvent]:
        return [e for e in self.events if e.event == event]

    def seqs(self) -> list[int]:
        return [json.loads(e.data)["seq"] for e in self.named("message")]

    async def wait_for(self, ok: Callable[[StreamReader], bool], what: str) -> None:
        async def probe() -> StreamReader:
            if self.task is not None and self.task.done():
                self.task.result()  # the reader failed: say why
            return self

        await eventually(probe, ok, what=what, within=60)


def read_stream(http: httpx.AsyncClient, path: str, headers: dict[str, str]) -> StreamReader:
    reader = StreamReader()

    async def run() -> None:
        request_headers = {"Accept": "text/event-stream", **headers}
        async with http.stream("GET", path, headers=request_headers) as response:
            reader.status = response.status_code
            current = SseEvent()
            async for line in response.aiter_lines():
                if line == "":
                    if current.data or current.event != "message":
                        reader.events.append(current)
                    current = SseEvent()
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "event":
                    current.event = value
                elif name == "data":
                    current.data = f"{current.data}\n{value}" if current.data else value
                elif name == "id":
                    current.id = value
                elif name == "retry":
                    current.retry = int(value)

    reader.task = asyncio.create_task(run())
    return reader


class TaskWriter:
    """Writes a task and its records the way the workflow's record activity does."""

    def __init__(self, url: str) -> None:
        self._engine = make_engine(url)
        self._sessions = session_maker(self._engine)

    async def add_task(self, *, before_full_projection: bool = False) -> str:
        """A new task; `before_full_projection`: as stored before migration 0013 (a read
        of it while it runs asks its workflow for what the projection lacks)."""
        async with self._sessions() as session:
            task_id = (await add_task(session)).id
            if before_full_projection:
                await as_stored_before_full_projection(session, task_id)
            return task_id

    async def events(self, task_id: str, seqs: range, phase: str = "executing") -> None:
        async with self._sessions() as session:
            for seq in seqs:
                patch = ProjectionPatch(phase=phase)
                assert await records.apply_record(
                    session, record(task_id, seq, phase=phase, projection=patch)
                )

    async def close(self) -> None:
        await self._engine.dispose()


@contextmanager
def silent_server() -> Iterator[int]:
    """A loopback port that takes TCP connections and never says a word: a dependency
    that hangs instead of refusing. Nothing accepts them; the kernel completes the
    handshakes into the listen backlog, and the peer waits for an answer."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        yield int(sock.getsockname()[1])
