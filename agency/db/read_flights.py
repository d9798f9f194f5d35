"""Identical reads in flight at once share one statement, when that is exactly as fresh.

Under load an API process's PostgreSQL reads wait for a pooled connection; many of
them are the same statement with the same values (every client polling one task, the
first page of a busy tenant). A read joins another only while that one is still
*boarding*: waiting for its connection, not yet sent. The statement is sent after every
read that joined it arrived, so the rows it returns reflect every commit that finished
before any of them was asked for: each caller gets what a statement of its own, sent
at its arrival, could have returned (no older state, ever). A read already sent is
never joined; the next identical read boards the next statement.

Each caller gets its own list (the rows themselves are immutable). A statement whose
values cannot be hashed, or that reads with `scan`, is never shared.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable, Row

# The read itself: given a `depart` to call just before the statement is sent.
Fetch = Callable[[Callable[[], None]], Awaitable[list[Row[Any]]]]


@dataclass
class _Flight:
    statement: Executable
    rows: asyncio.Future[list[Row[Any]]]


class Flights:
    def __init__(self) -> None:
        # (id of the statement, values) -> the flight still boarding.
        self._boarding: dict[tuple[int, Hashable], _Flight] = {}
        # Flights under way (the event loop keeps only weak references to tasks).
        self._running: set[asyncio.Task[None]] = set()
        self.shared = 0

    async def rows(
        self, key: tuple[int, Hashable], statement: Executable, fetch: Fetch
    ) -> list[Row[Any]]:
        flight = self._boarding.get(key)
        if flight is not None and flight.statement is statement:
            self.shared += 1
        else:
            loop = asyncio.get_running_loop()
            flight = _Flight(statement, loop.create_future())
            # Nobody may be left to read a failure (every caller gone): not an error.
            flight.rows.add_done_callback(_retrieve)
            self._boarding[key] = flight
            # A task of its own: a caller that goes away must not cancel the others' read.
            task = loop.create_task(self._fly(key, flight, fetch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        # shield: a caller cancelled stops waiting; the flight goes on for the others.
        return list(await asyncio.shield(flight.rows))

    async def _fly(self, key: tuple[int, Hashable], flight: _Flight, fetch: Fetch) -> None:
        def depart() -> None:
            if self._boarding.get(key) is flight:
                del self._boarding[key]

        try:
            rows = await fetch(depart)
        except Exception as err:
            depart()
            if not flight.rows.done():
                flight.rows.set_exception(err)
            return
        except BaseException:
            depart()
            flight.rows.cancel()
            raise
        depart()
        if not flight.rows.done():
            flight.rows.set_result(rows)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
