"""API key checks on the request path, without a database round trip per request where
that is safe.

Every API request checks its key. On SQLite the reader (agency.db.reads) already answers
an unchanged database from memory and sees a revocation on the next read, so
`ReaderKeys` just asks it. On PostgreSQL that read was a round trip per request, and
under load one of two or three (docs/benchmarks.md, the API); `CachedKeys` keeps each
key's row for at most `ttl_s` (one second), and drops it as soon as the database says
the key changed:

- a trigger on `api_keys` (migration 0011) notifies channel `agency_api_keys` with the
  key id when a key is revoked, deleted or changed, by any process; every API process
  listens on its one notice connection (agency.db.event_notices) and drops the key;
- the TTL is the guarantee, notices are the speed: an entry is never served more than
  `ttl_s` after the read that fetched it was *sent*, so a key revoked at time T fails on
  every replica by T + ttl_s even if its notice is lost (listener reconnecting, a
  replica partitioned from the notice connection only);
- a read that was in flight when any notice (or a listener reset) arrived is used for
  its own request but not kept: it may have read the row before the change committed
  (`_generation`).

The row is checked on every request (digest compared in constant time, revoked or not),
so a cached row never lets a wrong secret through.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from sqlalchemy import Row
from sqlalchemy.engine import URL

from agency.db import keys
from agency.db.engine import is_sqlite
from agency.db.event_notices import ChannelWatcher
from agency.db.reads import Reader

# channel the api_keys trigger notifies (migration 0011); the payload is the key id.
CHANNEL = "agency_api_keys"
# The longest a cached key row is served after the read that fetched it was sent: a
# revoked key fails on every replica within this, notices or not.
KEY_TTL_S = 1.0
# Keys kept per process; past it the cache starts again (each key costs one read then).
MAX_CACHED_KEYS = 10_000


class KeyCheck(Protocol):
    async def verify(self, raw: str) -> Row[Any] | None:
        """The active key `raw` is (a row of api_keys), or None (malformed, unknown, wrong
        secret or revoked)."""
        ...

    async def row(self, key_id: str) -> Row[Any] | None:
        """The key's row, revoked or not (as fresh as `verify`'s), or None."""
        ...

    def forget(self, key_id: str) -> None:
        """This process changed the key: read it again next time."""
        ...

    def watchers(self) -> Mapping[str, ChannelWatcher]:
        """The notice channels this check listens to (agency.db.event_notices)."""
        ...


class ReaderKeys:
    """Every check reads through the reader (SQLite: current as of the request)."""

    def __init__(self, reader: Reader) -> None:
        self._reader = reader

    async def verify(self, raw: str) -> Row[Any] | None:
        return await keys.verify(self._reader, raw)

    async def row(self, key_id: str) -> Row[Any] | None:
        return await keys.read_key(self._reader, key_id)

    def forget(self, key_id: str) -> None:
        pass

    def watchers(self) -> Mapping[str, ChannelWatcher]:
        return {}


class CachedKeys:
    """Key rows kept for at most `ttl_s`, dropped on notice (see the module docstring).

    Also a `ChannelWatcher` of agency.db.event_notices for CHANNEL."""

    def __init__(
        self,
        reader: Reader,
        ttl_s: float = KEY_TTL_S,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_CACHED_KEYS,
    ) -> None:
        self._reader = reader
        self._ttl_s = ttl_s
        self._clock = clock
        self._max_keys = max_keys
        # key id -> (when the read that fetched the row was sent, the row or None)
        self._rows: dict[str, tuple[float, Row[Any] | None]] = {}
        # Counts notices and resets: a read that saw it change is not kept.
        self._generation = 0
        self.hits = 0
        self.misses = 0

    async def verify(self, raw: str) -> Row[Any] | None:
        key_id = keys.parse_key_id(raw)
        if key_id is None:
            return None
        row = await self.row(key_id)
        if row is None or not keys.matches(row, raw) or row.revoked_at is not None:
            return None
        return row

    async def row(self, key_id: str) -> Row[Any] | None:
        sent = self._clock()
        cached = self._rows.get(key_id)
        if cached is not None and sent - cached[0] < self._ttl_s:
            self.hits += 1
            return cached[1]
        self.misses += 1
        generation = self._generation
        row = await keys.read_key(self._reader, key_id)
        # Kept only if nothing changed while the read was in flight; timed from when it
        # was sent (the row is as of some instant after that).
        if row is not None and generation == self._generation:
            if len(self._rows) >= self._max_keys:
                self._rows.clear()
            self._rows[key_id] = (sent, row)
        return row

    def forget(self, key_id: str) -> None:
        self.notified(key_id)

    def watchers(self) -> Mapping[str, ChannelWatcher]:
        return {CHANNEL: self}

    # ChannelWatcher (agency.db.event_notices)
    def notified(self, payload: str) -> None:
        self._generation += 1
        self._rows.pop(payload, None)

    def reset(self) -> None:
        self._generation += 1
        self._rows.clear()


def make_key_check(url: str | URL, reader: Reader) -> KeyCheck:
    """SQLite: through the reader; PostgreSQL: cached, once its watcher is listening
    (`watchers()` handed to the process's EventListener)."""
    if is_sqlite(url):
        return ReaderKeys(reader)
    return CachedKeys(reader)
