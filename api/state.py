"""What the lifespan makes for every request: settings, sessions, readers, Temporal, limits."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agency.codec import EncryptionCodec
from agency.db.key_cache import KeyCheck
from agency.db.reads import Reader
from agency.settings import Settings
from api.ratelimit import Limiter, RateLimiter
from api.stream_wakeups import Polling, Wakeups
from api.task_json import TaskJson
from api.temporal_gateway import TemporalGateway


@dataclass
class AppState:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    # Reads on the request path (keys, tasks, pages): agency.db.reads says why.
    reader: Reader
    # Every request's key check (agency.db.key_cache): on PostgreSQL a key's row is kept
    # for up to a second, dropped on notice; on SQLite through the reader.
    keys: KeyCheck
    temporal: TemporalGateway
    limiter: Limiter = field(default_factory=RateLimiter)
    # What wakes live event streams (api.stream_wakeups): notices or polling.
    wakeups: Wakeups = field(default_factory=Polling)
    # Serialized task answers, keyed by row content (api.task_json).
    task_json: TaskJson = field(default_factory=TaskJson)
    # key id -> monotonic time of the last `last_used_at` write (writes are throttled).
    key_touched: dict[str, float] = field(default_factory=dict)
    # The payload codec the /codec endpoints serve (None: no codec keys, the codec is off).
    codec: EncryptionCodec | None = None
    # The workflow code `/replay` replays histories against, handed over by the process's
    # entry point (api/__main__.py): the API's modules never import the workflow.
    workflows: Sequence[type] = ()


async def get_state(request: Request) -> AppState:
    # Async on purpose: FastAPI runs plain `def` dependencies in a worker thread, a thread
    # hand-off per request for a dictionary lookup.
    return request.app.state.agency


async def get_session(
    state: Annotated[AppState, Depends(get_state)],
) -> AsyncIterator[AsyncSession]:
    async with state.sessions() as session:
        yield session


StateDep = Annotated[AppState, Depends(get_state)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
