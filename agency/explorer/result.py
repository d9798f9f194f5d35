"""What a query returns, why one is refused, and the two download formats."""

from __future__ import annotations

import base64
import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

# refused: the statement is not allowed (a write, a hidden column, a function, ...);
# deadline: it ran out of time; failed: the database rejected it (syntax, no such table);
# unavailable: the explorer cannot run at all here (PostgreSQL role not set up).
RefusalKind = Literal["refused", "deadline", "failed", "unavailable"]


class ExplorerRefused(Exception):
    def __init__(self, kind: RefusalKind, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.kind = kind
        self.reasons = reasons


@dataclass(frozen=True)
class Limits:
    deadline_s: float = 5.0
    max_rows: int = 1000
    # A result's total size as JSON text, roughly: a cross join of wide rows stops here.
    max_bytes: int = 8_000_000
    # The longest string or blob a query may build (SQLite's length limit).
    max_value_bytes: int = 1_000_000


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    truncated: bool = False
    elapsed_ms: float = 0.0


def plain(value: Any) -> Any:
    """A database value as JSON can carry it: bytes as base64, times as ISO 8601."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return str(value)


class RowCollector:
    """Gathers rows up to the row and byte caps; `add` says whether to go on."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.rows: list[list[Any]] = []
        self.truncated = False
        self._bytes = 0

    def add(self, row: tuple[Any, ...] | list[Any]) -> bool:
        if len(self.rows) >= self.limits.max_rows:
            self.truncated = True
            return False
        values = [plain(v) for v in row]
        self._bytes += len(json.dumps(values, default=str))
        if self._bytes > self.limits.max_bytes:
            self.truncated = True
            return False
        self.rows.append(values)
        return True


def to_csv(result: QueryResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(result.columns)
    for row in result.rows:
        writer.writerow(
            ["" if v is None else json.dumps(v) if isinstance(v, list | dict) else v for v in row]
        )
    return out.getvalue()
