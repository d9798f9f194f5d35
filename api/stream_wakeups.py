"""How a live event stream learns that its task has new events.

- PostgreSQL: notices (agency/db/event_notices.py). A trigger notifies on every task
  event written by any worker or API replica; the stream wakes and reads the events
  after its last seq from the database. Several API processes then show the same events
  as soon as they are committed, without each stream polling.
- SQLite: polling every POLL_INTERVAL_S (api/routes/streams.py): SQLite has no notices,
  and a read of an unchanged database costs tens of microseconds (agency/db/reads.py).

Either way the stream calls `arm()` before each read and `wait()` after a read that
found nothing, so a notice that arrives during the read is never missed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Protocol

from agency.db.engine import is_sqlite
from agency.db.event_notices import ChannelWatcher, EventListener
from agency.settings import Settings


class StreamSubscription(Protocol):
    def arm(self) -> None: ...

    async def wait(self, poll_s: float) -> None: ...

    def close(self) -> None: ...


class Wakeups(Protocol):
    def subscribe(self, task_id: str) -> StreamSubscription: ...

    async def close(self) -> None: ...


class _Poll:
    def arm(self) -> None:
        pass

    async def wait(self, poll_s: float) -> None:
        await asyncio.sleep(poll_s)

    def close(self) -> None:
        pass


class Polling:
    """Wakes every stream after `poll_s`, whatever happened."""

    def subscribe(self, task_id: str) -> StreamSubscription:
        return _Poll()

    async def close(self) -> None:
        pass


def make_wakeups(
    settings: Settings, watchers: Mapping[str, ChannelWatcher] | None = None
) -> Wakeups:
    """Call from within the running event loop (the PostgreSQL listener starts here).
    `watchers`: other channels the same listening connection carries (PostgreSQL)."""
    url = settings.effective_database_url
    if is_sqlite(url):
        return Polling()
    listener = EventListener(url, watchers=watchers)
    listener.start()
    return listener
