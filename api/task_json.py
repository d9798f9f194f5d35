"""Task answers as JSON bytes, each projection row serialized once per change.

Lists and finished tasks are read far more often than they change (dashboards and CLIs
poll), and turning a row into a TaskPublic and then into JSON was most of the cost of a
list: about 30 µs a task, 1.5 ms for a page of 50. So the API keeps each row's JSON.

The key is the row itself: every column, the JSON columns as their stored text
(agency.db.task_reads.TASK_ROW). A row that changes in any column is a different key, so an
answer is never stale and nothing needs invalidating; every request still gets its rows
from the reader (agency.db.reads), current as of that request. Old entries age out
(least recently used first, bounded in count and in bytes).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from sqlalchemy import Row
from starlette.responses import Response

from agency.db.task_reads import STATE_COLUMNS
from api.schemas import TaskPublic, spec_warnings

# Most answers are a few KB; a single task's answer holds its rounds and gate output
# (tens of KB after many iterations), so the entries are bounded in bytes too. Each
# entry's key, the row, holds about as much again.
MAX_ENTRIES = 4096
MAX_BYTES = 16 * 2**20
# Whole pages, by the identity of their rows (up to ~100 KB each: 200 tasks).
MAX_PAGES = 64


def json_response(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def public_from_row(row: Row[Any]) -> TaskPublic:
    """The TaskPublic of a TASK_ROW or TASK_LIST_ROW row (JSON columns decoded)."""
    fields = row._asdict()
    fields["spec"] = json.loads(row.spec_json) if row.spec_json else {}
    fields["verdicts"] = json.loads(row.verdicts_json) if row.verdicts_json else []
    fields["warnings"] = spec_warnings(fields["spec"])
    # A list's rows (TASK_LIST_ROW) leave out the state only a single task's read shows.
    for name in STATE_COLUMNS:
        stored = fields.pop(f"{name}_json", None)
        if stored is not None:
            fields[name] = json.loads(stored)
    return TaskPublic.model_validate(fields)


class TaskJson:
    """Serialized TaskPublic answers of projection rows, keyed by the rows' content."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._bytes = 0  # of the answers held
        self._entries: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._pages: OrderedDict[tuple[Any, ...], tuple[list[Row[Any]], bytes]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def task(self, row: Row[Any]) -> bytes:
        """The row's answer, byte for byte what FastAPI would send for its TaskPublic."""
        key = tuple(row)
        cached = self._entries.get(key)
        if cached is not None:
            self._entries.move_to_end(key)
            self.hits += 1
            return cached
        self.misses += 1
        # by_alias: as FastAPI serializes response models.
        encoded = public_from_row(row).model_dump_json(by_alias=True).encode()
        self._entries[key] = encoded
        self._bytes += len(encoded)
        # The oldest go first; the answer just made is kept even if it alone is larger.
        while len(self._entries) > 1 and (
            len(self._entries) > self._max_entries or self._bytes > self._max_bytes
        ):
            self._bytes -= len(self._entries.popitem(last=False)[1])
        return encoded

    def page(self, rows: list[Row[Any]], next_cursor: str | None) -> bytes:
        """A TaskList answer, byte for byte what FastAPI would send for it."""
        # The same row objects again (the reader reuses what it read while the database
        # is unchanged): the same page. The entry holds the rows, so their ids stay theirs.
        key = (next_cursor, *map(id, rows))
        cached = self._pages.get(key)
        if cached is not None:
            self._pages.move_to_end(key)
            return cached[1]
        items = b",".join(self.task(row) for row in rows)
        cursor = json.dumps(next_cursor).encode()
        body = b'{"items":[' + items + b'],"next_cursor":' + cursor + b"}"
        self._pages[key] = (rows, body)
        if len(self._pages) > MAX_PAGES:
            self._pages.popitem(last=False)
        return body

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        """The bytes of the answers held (not counting their keys)."""
        return self._bytes
