"""The series, bucketed by hour or day, from one tenant's records.

Times are the records' own (`task_events.at`, workflow time; `tasks.created_at` for
submissions), the same the SLOs (agency.slo.records) and the `agency_*` metrics count:

- `tasks`: tasks submitted (the projection's `created_at`);
- `outcomes`: tasks finished, by their terminal phase (a task's first terminal event);
- `durations`: submission to that terminal event, in seconds: the median (`value`) and
  the 95th percentile of the tasks that finished in the bucket; no value without any;
- `approvals`: waits for a human's approval that ended, by how they ended (approved:
  the task went on; rejected, failed: the deadline passed, canceled);
- `interventions`: intervention records by kind, refused ones counted under `refused`.

Every read joins the tenant's tasks, so one tenant never sees another's records.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agency.db.models import Task, TaskEvent
from domain.interventions import INTERVENTION_KINDS, REFUSED_SUFFIX
from domain.phases import TERMINAL_PHASES

SeriesName = Literal["tasks", "outcomes", "durations", "approvals", "interventions"]
BucketName = Literal["hour", "day"]
SERIES: tuple[SeriesName, ...] = ("tasks", "outcomes", "durations", "approvals", "interventions")
BUCKET_S: dict[str, int] = {"hour": 3600, "day": 86400}
UNITS: dict[str, str] = {
    "tasks": "tasks submitted",
    "outcomes": "tasks finished",
    "durations": "seconds from submission to the end (median)",
    "approvals": "waits for approval ended",
    "interventions": "interventions recorded",
}
OUTCOMES = ("completed", "failed", "rejected", "canceled")
APPROVAL_ENDS = ("approved", "rejected", "failed", "canceled")
INTERVENTIONS = INTERVENTION_KINDS
AWAITING = "awaiting_approval"
# Rows read per series at most: a year of hourly buckets of a busy tenant fits; past it
# the answer says it was truncated rather than silently undercounting.
MAX_ROWS = 200_000
# A task's updated_at is the `at` of its last record; one stored late may set it a
# little earlier than its terminal event (as agency.slo.records allows).
LATE_RECORD_SLACK = timedelta(days=1)


@dataclass
class Window:
    """`count` buckets of `size_s` seconds from `start`; the last holds `now` (partial)."""

    start: datetime
    size_s: int
    count: int
    now: datetime

    @classmethod
    def ending_at(cls, now: datetime, bucket: str, days: int) -> Window:
        size = BUCKET_S[bucket]
        epoch = int(now.timestamp())
        end = datetime.fromtimestamp(epoch - epoch % size + size, UTC)
        count = days * 86400 // size
        return cls(end - timedelta(seconds=size * count), size, count, now)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.size_s * self.count)

    def index(self, moment: datetime) -> int | None:
        i = int((_utc(moment) - self.start).total_seconds() // self.size_s)
        return i if 0 <= i < self.count else None

    def at(self, i: int) -> datetime:
        return self.start + timedelta(seconds=self.size_s * i)


@dataclass
class Bucketed:
    """One value per bucket (None: nothing to measure) and its breakdown."""

    values: list[float | None]
    parts: list[dict[str, float | None]]
    truncated: bool = False
    keys: tuple[str, ...] = field(default_factory=tuple)


def _utc(at: datetime) -> datetime:
    # A database that drops the zone (SQLite through some paths) stores UTC.
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _counts(
    window: Window, keyed: Sequence[tuple[datetime, str]], keys: tuple[str, ...]
) -> Bucketed:
    parts: list[dict[str, float | None]] = [dict.fromkeys(keys, 0.0) for _ in range(window.count)]
    totals: list[float | None] = [0.0] * window.count
    for moment, key in keyed:
        i = window.index(moment)
        if i is None:
            continue
        totals[i] = (totals[i] or 0.0) + 1
        if keys:  # no keys: a plain count without a breakdown
            parts[i][key] = (parts[i].get(key) or 0.0) + 1
    return Bucketed(totals, parts, keys=keys)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest rank, as the dashboard's KPIs (api.kpis.percentile)."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


async def _rows(session: AsyncSession, statement: Any) -> tuple[list[Any], bool]:
    rows = (await session.execute(statement.limit(MAX_ROWS + 1))).all()
    return list(rows[:MAX_ROWS]), len(rows) > MAX_ROWS


async def submitted(session: AsyncSession, tenant: str, window: Window) -> Bucketed:
    rows, truncated = await _rows(
        session,
        select(Task.created_at).where(
            Task.tenant == tenant, Task.created_at >= window.start, Task.created_at < window.end
        ),
    )
    result = _counts(window, [(at, "") for (at,) in rows], ())
    result.truncated = truncated
    return result


async def _finished(session: AsyncSession, tenant: str, window: Window) -> tuple[list[Any], bool]:
    """(task_id, phase, at, created_at) of terminal events in the window, first per task."""
    terminal = sorted(TERMINAL_PHASES)
    rows, truncated = await _rows(
        session,
        select(TaskEvent.task_id, TaskEvent.phase, TaskEvent.at, Task.created_at)
        .join(Task, Task.id == TaskEvent.task_id)  # type: ignore[arg-type]
        .where(
            Task.tenant == tenant,
            Task.phase.in_(terminal),  # type: ignore[attr-defined]
            Task.updated_at >= window.start - LATE_RECORD_SLACK,
            TaskEvent.kind == "phase",
            TaskEvent.phase.in_(terminal),  # type: ignore[attr-defined]
            TaskEvent.at >= window.start,
            TaskEvent.at < window.end,
        )
        .order_by(TaskEvent.task_id, TaskEvent.seq),
    )
    seen: set[str] = set()
    first = []
    for row in rows:
        if row.task_id not in seen:  # a task ends once; a second terminal record repeats
            seen.add(row.task_id)
            first.append(row)
    return first, truncated


async def outcomes(session: AsyncSession, tenant: str, window: Window) -> Bucketed:
    rows, truncated = await _finished(session, tenant, window)
    result = _counts(window, [(r.at, r.phase) for r in rows], OUTCOMES)
    result.truncated = truncated
    return result


async def durations(session: AsyncSession, tenant: str, window: Window) -> Bucketed:
    rows, truncated = await _finished(session, tenant, window)
    per: list[list[float]] = [[] for _ in range(window.count)]
    for r in rows:
        i = window.index(r.at)
        if i is not None:
            per[i].append(max(0.0, (_utc(r.at) - _utc(r.created_at)).total_seconds()))
    values: list[float | None] = [percentile(d, 0.5) if d else None for d in per]
    parts: list[dict[str, float | None]] = [
        {
            "p50": percentile(d, 0.5) if d else None,
            "p95": percentile(d, 0.95) if d else None,
            "count": float(len(d)),
        }
        for d in per
    ]
    return Bucketed(values, parts, truncated, ("p50", "p95", "count"))


async def approvals(session: AsyncSession, tenant: str, window: Window) -> Bucketed:
    waited = (
        select(TaskEvent.task_id)
        .join(Task, Task.id == TaskEvent.task_id)  # type: ignore[arg-type]
        .where(
            Task.tenant == tenant,
            Task.updated_at >= window.start - LATE_RECORD_SLACK,
            TaskEvent.kind == "phase",
            TaskEvent.phase == AWAITING,
        )
    )
    rows, truncated = await _rows(
        session,
        select(TaskEvent.task_id, TaskEvent.phase, TaskEvent.at)
        .where(TaskEvent.kind == "phase", TaskEvent.task_id.in_(waited))  # type: ignore[attr-defined]
        .order_by(TaskEvent.task_id, TaskEvent.seq),
    )
    ended: list[tuple[datetime, str]] = []
    for before, event in pairwise(rows):
        if before.task_id == event.task_id and before.phase == AWAITING:
            # It ended as the next phase says when that phase ended the task, else approved.
            how = event.phase if event.phase in APPROVAL_ENDS[1:] else "approved"
            ended.append((event.at, how))
    result = _counts(window, ended, APPROVAL_ENDS)
    result.truncated = truncated
    return result


async def interventions(session: AsyncSession, tenant: str, window: Window) -> Bucketed:
    rows, truncated = await _rows(
        session,
        select(TaskEvent.at, TaskEvent.action)
        .join(Task, Task.id == TaskEvent.task_id)  # type: ignore[arg-type]
        .where(
            Task.tenant == tenant,
            TaskEvent.kind == "intervention",
            TaskEvent.at >= window.start,
            TaskEvent.at < window.end,
        ),
    )
    keys = (*INTERVENTIONS, "refused")
    keyed = [
        (at, "refused" if action.endswith(REFUSED_SUFFIX) else action)
        for at, action in rows
        if action.removesuffix(REFUSED_SUFFIX) in INTERVENTIONS
    ]
    result = _counts(window, keyed, keys)
    result.truncated = truncated
    return result


READERS = {
    "tasks": submitted,
    "outcomes": outcomes,
    "durations": durations,
    "approvals": approvals,
    "interventions": interventions,
}
