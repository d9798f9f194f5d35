"""Wake-ups for live streams when task events are written, from any process.

On PostgreSQL a trigger on `task_events` (migration 0010) runs `pg_notify(CHANNEL,
task_id)` for every event inserted, by whichever worker or API replica wrote it; the
notice is delivered when the writing transaction commits, so a stream woken by it finds
the row. `EventListener` keeps one connection per process LISTENing on the channel and
wakes the subscriptions of that task.

A notice only says "read again": streams read the events after the last seq they sent
from the database, never from the notice. Notices sent while the listener is not
connected are lost, so on every (re)connect every subscription is woken to read once,
and a subscription also wakes by itself after `fallback_s` (a safety net, never the
path an event normally takes).

The same connection carries other channels for whoever watches them (`ChannelWatcher`:
the API key cache, agency/db/key_cache.py), so a process holds one listening
connection whatever it listens for. A watcher is told of every notice on its channel,
and `reset()` whenever notices may have been missed (the connection was made or lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Mapping
from typing import Any, Protocol

import asyncpg
from sqlalchemy.engine import URL, make_url

log = logging.getLogger("agency.db")

CHANNEL = "agency_task_events"
CONNECT_TIMEOUT_S = 5.0
# How often the listening connection is checked (a server that vanished without closing
# the connection sends no notice and no error on its own).
KEEPALIVE_S = 10.0
# Between attempts to listen again: doubling from the first to the most. Streams poll
# meanwhile, so a slow reconnect costs latency, never events.
FIRST_RECONNECT_DELAY_S = 0.5
MAX_RECONNECT_DELAY_S = 10.0


class Subscription:
    """One stream's wake-up flag for one task."""

    def __init__(self, listener: EventListener, task_id: str) -> None:
        self._listener = listener
        self.task_id = task_id
        self._woken = asyncio.Event()

    def arm(self) -> None:
        """Call before reading: a notice from then on ends the next `wait` at once."""
        self._woken.clear()

    def wake(self) -> None:
        self._woken.set()

    async def wait(self, poll_s: float) -> None:
        """Until a notice for the task, or the safety-net timeout: `poll_s` while the
        listener is not connected (notices cannot arrive), else its fallback."""
        timeout = self._listener.fallback_s if self._listener.connected else poll_s
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._woken.wait(), timeout)

    def close(self) -> None:
        self._listener._drop(self)


class ChannelWatcher(Protocol):
    """Told of the notices on one channel; called on the event loop, must not block."""

    def notified(self, payload: str) -> None: ...

    def reset(self) -> None:
        """Notices may have been missed (the listener connected, or lost its connection)."""
        ...


class EventListener:
    def __init__(
        self,
        url: str | URL,
        fallback_s: float = 5.0,
        watchers: Mapping[str, ChannelWatcher] | None = None,
    ) -> None:
        self._dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.fallback_s = fallback_s
        # channel -> who is told of its notices (the task events channel is this class's).
        self._watchers = dict(watchers or {})
        self.connected = False
        self._subscriptions: dict[str, set[Subscription]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def subscribe(self, task_id: str) -> Subscription:
        subscription = Subscription(self, task_id)
        self._subscriptions[task_id].add(subscription)
        return subscription

    def _drop(self, subscription: Subscription) -> None:
        subscribers = self._subscriptions.get(subscription.task_id)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._subscriptions[subscription.task_id]

    def _notified(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        for subscription in self._subscriptions.get(payload, ()):
            subscription.wake()

    def _wake_all(self) -> None:
        for subscribers in self._subscriptions.values():
            for subscription in subscribers:
                subscription.wake()
        for watcher in self._watchers.values():
            watcher.reset()

    def _on_watched(self, _connection: Any, _pid: int, channel: str, payload: str) -> None:
        watcher = self._watchers.get(channel)
        if watcher is not None:
            watcher.notified(payload)

    async def _run(self) -> None:
        delay = FIRST_RECONNECT_DELAY_S
        while True:
            was_listening = False
            try:
                was_listening = await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.info("task event listener: %s; listening again soon", type(err).__name__)
            self.connected = False
            # Streams poll at their usual pace meanwhile; wake them to do so now.
            self._wake_all()
            delay = (
                FIRST_RECONNECT_DELAY_S if was_listening else min(delay * 2, MAX_RECONNECT_DELAY_S)
            )
            await asyncio.sleep(delay)

    async def _listen(self) -> bool:
        """Listen until the connection is lost; False when it never got that far."""
        connection = await asyncpg.connect(self._dsn, timeout=CONNECT_TIMEOUT_S)
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _c: lost.set())
        try:
            await connection.add_listener(CHANNEL, self._notified)
            for channel in self._watchers:
                await connection.add_listener(channel, self._on_watched)
            self.connected = True
            # Anything written while nobody listened: every stream reads once.
            self._wake_all()
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), KEEPALIVE_S)
                if not lost.is_set():
                    try:
                        await connection.execute("SELECT 1", timeout=CONNECT_TIMEOUT_S)
                    except Exception as err:
                        log.info("task event listener lost: %s", type(err).__name__)
                        break
            return True
        finally:
            self.connected = False
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), CONNECT_TIMEOUT_S)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
