"""GET /api/v1/tasks/{id}/events: a task's events, as JSON pages or as a live SSE stream.

The stream sends every event with its sequence number as the SSE `id`. A client that
reconnects with `Last-Event-ID: k` (browsers do this by themselves) gets exactly the
events after k: events are read from the database, so the resume works across API
restarts too. When the task has finished and its last event was sent, an `end` event
closes the stream; reconnecting after that is answered 204 (EventSource stops retrying).

While the database cannot be read the stream stays open: it sends a `reconnecting` event
(JSON: why, the attempt, when it reads again, the last seq sent) before each new try,
with backoff, and a `resumed` event once it reads again; then the events after the last
one sent follow, none skipped and none twice. Neither carries an `id`, so a client's
Last-Event-ID is untouched; plain EventSource `message` listeners never see them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from sqlalchemy import Row
from sse_starlette import EventSourceResponse, ServerSentEvent

from agency.db import task_reads
from agency.metrics.http import count_dependency_error
from api.deps import StateDep, ViewerDep
from api.outages import is_database_unavailable
from api.problems import Problem, not_found
from api.routes.tasks import TaskId
from api.schemas import EventList, TaskEventPublic
from api.state import AppState
from api.stream_wakeups import StreamSubscription
from domain.phases import TERMINAL_PHASES

log = logging.getLogger("agency.api")

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])

SSE = "text/event-stream"
# Sequence numbers are 32-bit in the database.
MAX_SEQ = 2_147_483_647
POLL_INTERVAL_S = 0.5
PING_INTERVAL_S = 15
# The reconnection delay (ms) the stream asks clients to use.
RETRY_MS = 1000
STREAM_PAGE = 500
# Backoff of the stream's reads while the database is unavailable.
FIRST_RECONNECT_DELAY_S = 0.5
MAX_RECONNECT_DELAY_S = 5.0

EVENT_EXAMPLE = (
    'id: 4\ndata: {"seq": 4, "kind": "transition", "phase": "executing", ...}\n\n'
    'event: reconnecting\nretry: 1000\ndata: {"reason": "the database is unavailable", '
    '"unavailable": ["database"], "attempt": 1, "retry_in_ms": 500, "last_seq": 4}\n\n'
    'event: resumed\nretry: 1000\ndata: {"last_seq": 4}\n\n'
    'id: 5\ndata: {"seq": 5, "kind": "transition", "phase": "judging", ...}\n\n'
    'event: end\ndata: {"phase": "completed", "last_seq": 12}\n\n'
)


def public_event(event: Row[Any]) -> TaskEventPublic:
    return TaskEventPublic(
        seq=event.seq,
        at=event.at,
        kind=event.kind,
        phase=event.phase,
        actor=event.actor,
        action=event.action,
        data=event.data,
    )


def wants_stream(request: Request) -> bool:
    return SSE in request.headers.get("accept", "")


def decimal_up_to(limit: int) -> str:
    """A pattern for the decimal numbers 0..limit, without leading zeros."""
    digits = str(limit)
    if len(digits) == 1:
        return f"^[0-{digits}]$"
    # Fewer digits than the limit: any such number.
    parts = ["[0-9]"] + [f"[1-9][0-9]{{{n}}}" for n in range(1, len(digits) - 1)]
    # As many digits: the limit's first i digits, then a smaller one, then any.
    for i, digit in enumerate(digits):
        low = 1 if i == 0 else 0
        if int(digit) > low:
            rest = len(digits) - i - 1
            top = int(digit) - 1
            smaller = str(low) if top == low else f"[{low}-{top}]"
            parts.append(digits[:i] + smaller + (f"[0-9]{{{rest}}}" if rest else ""))
    parts.append(digits)
    return "^(?:" + "|".join(parts) + ")$"


# A Last-Event-ID is a seq this stream sent.
SEQ_PATTERN = decimal_up_to(MAX_SEQ)


def _resume_point(after: int | None, last_event_id: str | None) -> int:
    # Whichever of the two is further along wins: never send an event twice.
    return max(int(last_event_id or 0), after or 0)


def _sse_event(name: str, data: dict[str, Any], *, with_id: bool = False) -> dict[str, Any]:
    """One event of the stream as schemathesis and EventSource read it: its `event` name,
    its `data` (a JSON text), the `id` in force (the last one sent) and `retry`."""
    return {
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "event": {"const": name},
            "data": {"type": "string", "contentMediaType": "application/json", **data},
            "id": {"type": "string", "pattern": "^[0-9]+$"},
            "retry": {"type": "integer", "minimum": 0},
        },
        **({"description": "carries its seq as `id`"} if with_id else {}),
    }


# The stream's events, each as one SSE event (OpenAPI 3.1: a text/event-stream schema
# describes one event).
EVENT_STREAM_SCHEMA = {
    "anyOf": [
        _sse_event(
            "message",
            {"contentSchema": {"$ref": "#/components/schemas/TaskEventPublic"}},
            with_id=True,
        ),
        _sse_event("reconnecting", {"description": "why, attempt, retry_in_ms, last_seq"}),
        _sse_event("resumed", {"description": "last_seq"}),
        _sse_event("end", {"description": "phase, last_seq"}),
    ]
}


@router.get(
    "/{task_id}/events",
    response_model=EventList,
    responses={
        200: {
            "description": "The events after `after` (or `Last-Event-ID`): a JSON page, or "
            "with `Accept: text/event-stream` a live stream of them (with `reconnecting` and "
            "`resumed` events while the database is unavailable, and `end` at the end)",
            "content": {SSE: {"schema": EVENT_STREAM_SCHEMA, "example": EVENT_EXAMPLE}},
        },
        204: {"description": "Stream requested for a finished task past its last event"},
        404: {"model": Problem, "description": "No such task (or not in the key's tenant)"},
        422: {"model": Problem, "description": "Invalid parameter"},
    },
)
async def task_events(
    request: Request,
    state: StateDep,
    principal: ViewerDep,
    task_id: TaskId,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_SEQ, description="only events with a larger seq")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="JSON page size")] = 1000,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            pattern=SEQ_PATTERN,
            description="Resume a stream after this seq (sent by EventSource on reconnect)",
        ),
    ] = None,
) -> Any:
    row = await task_reads.read_task(state.reader, task_id, tenant=principal.tenant)
    if row is None:
        raise not_found(f"task {task_id}")
    start = _resume_point(after, last_event_id)
    if not wants_stream(request):
        events = await task_reads.list_events(state.reader, task_id, after_seq=start, limit=limit)
        return EventList(items=[public_event(e) for e in events])
    if row.phase in TERMINAL_PHASES and start >= row.last_seq:
        return Response(status_code=204)
    return EventSourceResponse(
        event_stream(state, task_id, start),
        ping=PING_INTERVAL_S,
    )


async def event_stream(
    state: AppState, task_id: str, after: int, poll_s: float = POLL_INTERVAL_S
) -> AsyncIterator[ServerSentEvent]:
    """The task's events after `after`. It reads the database whenever it is woken
    (api.stream_wakeups: a notice on PostgreSQL, every `poll_s` on SQLite) and only
    ever sends what it read, by seq."""
    subscription = state.wakeups.subscribe(task_id)
    try:
        async for event in _stream(state, subscription, task_id, after, poll_s):
            yield event
    finally:
        subscription.close()


async def _stream(
    state: AppState, subscription: StreamSubscription, task_id: str, after: int, poll_s: float
) -> AsyncIterator[ServerSentEvent]:
    last = after
    first = True
    failures = 0
    while True:
        # Before the read: an event committed while it runs wakes the wait below.
        subscription.arm()
        try:
            events, row = await _read(state, task_id, last)
        except Exception as err:
            if not is_database_unavailable(err):
                raise
            # The database is away: the stream stays open, says so, and tries again with
            # backoff; `last` is kept, so nothing is skipped or sent twice after it.
            failures += 1
            count_dependency_error("database", "stream_retried")
            delay = reconnect_delay(failures)
            log.info("event stream of %s waits for the database (%d)", task_id, failures)
            yield reconnecting(last, failures, delay)
            await asyncio.sleep(delay)
            continue
        if failures:
            failures = 0
            yield ServerSentEvent(
                event="resumed", data=json.dumps({"last_seq": last}), retry=RETRY_MS
            )
        for event in events:
            payload = public_event(event).model_dump(mode="json")
            yield ServerSentEvent(
                data=json.dumps(payload, separators=(",", ":")),
                id=str(event.seq),
                retry=RETRY_MS if first else None,
            )
            first = False
            last = event.seq
        if events:
            continue
        if row is None or (row.phase in TERMINAL_PHASES and last >= row.last_seq):
            phase = row.phase if row is not None else "deleted"
            yield ServerSentEvent(event="end", data=json.dumps({"phase": phase, "last_seq": last}))
            return
        await subscription.wait(poll_s)


async def _read(state: AppState, task_id: str, last: int) -> tuple[list[Row[Any]], Row[Any] | None]:
    """The events after `last` and, when there are none, the task (has it finished?)."""
    events = await task_reads.list_events(state.reader, task_id, after_seq=last, limit=STREAM_PAGE)
    return events, None if events else await task_reads.read_task(state.reader, task_id)


def reconnect_delay(failures: int) -> float:
    """Seconds before the next read after `failures` failed ones in a row: soon after a
    blip, then doubling up to MAX_RECONNECT_DELAY_S."""
    return min(FIRST_RECONNECT_DELAY_S * 2 ** (failures - 1), MAX_RECONNECT_DELAY_S)


def reconnecting(last: int, attempt: int, delay_s: float) -> ServerSentEvent:
    """What the stream says while it cannot read: why, where it stands, when it tries
    again. No `id`: a client's Last-Event-ID stays the last event it got. `retry` asks a
    client whose connection drops meanwhile not to come back sooner than that."""
    delay_ms = round(delay_s * 1000)
    data = {
        "reason": "the database is unavailable",
        "unavailable": ["database"],
        "attempt": attempt,
        "retry_in_ms": delay_ms,
        "last_seq": last,
    }
    return ServerSentEvent(
        event="reconnecting", data=json.dumps(data), retry=max(RETRY_MS, delay_ms)
    )
