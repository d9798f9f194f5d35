"""SQLite writers of one process take turns in a queue instead of in SQLite's busy handler.

SQLite lets one connection write at a time. A connection that finds the database locked
waits in SQLite's busy handler, which sleeps and retries with growing pauses (up to
100 ms each) and can lose the race again to writers that arrive later. Measured with 50
clients submitting tasks at half the API's capacity: a median of 14 ms, but a p95 of
540 ms, all of it spent waiting for a lock that was free most of the time. Queued
in-process instead, on one asyncio lock per database and event loop, each writer starts
as soon as the previous one commits: p95 23-29 ms (bench/api.py, docs/benchmarks.md).

A session takes its turn at its first write (an INSERT, UPDATE or DELETE, or a flush
of pending objects) and gives it up when its transaction ends (commit, rollback or
close). Reads never queue. A session that waits longer than the busy timeout goes on
without its turn and falls back to SQLite's own waiting, so code that writes through a
second session while its first one holds the turn cannot deadlock. Other processes (the
worker, the CLI) still meet the busy handler; this orders the writers within one.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

# The turn one loop's writers to one database take (engine -> loop -> lock).
_turns: weakref.WeakKeyDictionary[Any, weakref.WeakKeyDictionary[Any, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _turn(engine: AsyncEngine) -> asyncio.Lock:
    by_loop = _turns.setdefault(engine.sync_engine, weakref.WeakKeyDictionary())
    loop = asyncio.get_running_loop()
    lock = by_loop.get(loop)
    if lock is None:
        lock = by_loop[loop] = asyncio.Lock()
    return lock


class WriteQueueSession(AsyncSession):
    """An AsyncSession whose writes wait for their turn (see the module docstring)."""

    wait_s: float = 5.0
    _turn_held: asyncio.Lock | None = None

    async def _take_turn(self) -> None:
        if self._turn_held is not None or not isinstance(self.bind, AsyncEngine):
            return
        lock = _turn(self.bind)
        try:
            await asyncio.wait_for(lock.acquire(), self.wait_s)
        except TimeoutError:
            return  # SQLite's busy handler decides, as without the queue
        self._turn_held = lock

    def _end_turn(self) -> None:
        lock, self._turn_held = self._turn_held, None
        if lock is not None:
            lock.release()

    def _has_pending(self) -> bool:
        sync = self.sync_session
        return bool(sync.new or sync.dirty or sync.deleted)

    async def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(statement, "is_dml", False):
            await self._take_turn()
        return await super().execute(statement, *args, **kwargs)

    async def flush(self, objects: Any = None) -> None:
        if self._has_pending():
            await self._take_turn()
        await super().flush(objects)

    async def commit(self) -> None:
        if self._has_pending():
            await self._take_turn()
        try:
            await super().commit()
        finally:
            self._end_turn()

    async def rollback(self) -> None:
        try:
            await super().rollback()
        finally:
            self._end_turn()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            self._end_turn()
