"""SLO events from our own records: what the `records:` of an SLO file's events name.

Both sources read the task events (`task_events`, kind `phase`), the same transitions the
`record` activity observes for the metrics, with the same times (the records' own `at`,
workflow time), so the database and `agency_*` counters count the same events:

- task outcomes: a task's terminal phase event, counted at its `at`
  (`agency_tasks_finished_total{outcome}`);
- approval waits: from a task's entering `awaiting_approval` to its next phase, counted
  when the wait ended; it ended `approved` when the task went on, else as the next phase
  says (rejected, failed: the deadline passed, canceled)
  (`agency_task_approval_wait_seconds{outcome}`).

System-wide, like the metrics: an SLO is the service's, not a tenant's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agency.db.models import Task, TaskEvent
from agency.slo.burn import Sample
from agency.slo.spec import ApprovalWaits, Slo, TaskOutcomes, duration_s
from domain.phases import TERMINAL_PHASES

AWAITING = "awaiting_approval"
# How a wait for approval ended, by the phase that followed it (else: approved).
APPROVAL_ENDS = {"rejected": "rejected", "failed": "failed", "canceled": "canceled"}
LATE_RECORD_SLACK = timedelta(days=1)


def _utc(at: datetime) -> datetime:
    # A database that drops the zone (SQLite through some paths) stores UTC.
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


async def task_outcome_samples(
    session: AsyncSession, good: TaskOutcomes, total: TaskOutcomes, since: datetime
) -> list[Sample]:
    """One sample per task that finished after `since`: its first terminal phase event."""
    terminal = sorted(TERMINAL_PHASES)
    # Through the projection: finished tasks are found by the indexed phase (task_events
    # has no index on `at`). A task's updated_at is the `at` of the record applied last,
    # normally its terminal one; an intervention's record stored late may set it a little
    # earlier, hence the slack.
    rows = await session.execute(
        select(TaskEvent.task_id, TaskEvent.phase, TaskEvent.at)
        .join(Task, Task.id == TaskEvent.task_id)  # type: ignore[arg-type]
        .where(
            Task.phase.in_(terminal),  # type: ignore[attr-defined]
            Task.updated_at >= since - LATE_RECORD_SLACK,
            TaskEvent.kind == "phase",
            TaskEvent.phase.in_(terminal),  # type: ignore[attr-defined]
            TaskEvent.at > since,
        )
        .order_by(TaskEvent.task_id, TaskEvent.seq)
    )
    samples: list[Sample] = []
    seen: set[str] = set()
    for task_id, phase, at in rows.all():
        if task_id in seen:
            continue  # a task ends once; a second terminal record would be a repeat
        seen.add(task_id)
        samples.append(
            Sample(
                _utc(at).timestamp(),
                1.0 if phase in good.outcomes else 0.0,
                1.0 if phase in total.outcomes else 0.0,
            )
        )
    return samples


def _counts(source: ApprovalWaits, end: str, wait_s: float) -> bool:
    if end not in source.outcomes:
        return False
    return source.max_wait is None or wait_s <= duration_s(source.max_wait)


def approval_samples_of(
    events: Sequence[Any], good: ApprovalWaits, total: ApprovalWaits, since: datetime
) -> list[Sample]:
    """Samples from phase events (task_id, seq, phase, at) ordered by task and seq."""
    samples: list[Sample] = []
    previous: Any = None
    for event in events:
        before, previous = previous, event
        if before is None or before.task_id != event.task_id or before.phase != AWAITING:
            continue
        ended = _utc(event.at)
        if ended <= since:
            continue
        wait_s = max(0.0, (ended - _utc(before.at)).total_seconds())
        end = APPROVAL_ENDS.get(event.phase, "approved")
        samples.append(
            Sample(
                ended.timestamp(),
                1.0 if _counts(good, end, wait_s) else 0.0,
                1.0 if _counts(total, end, wait_s) else 0.0,
            )
        )
    return samples


async def approval_samples(
    session: AsyncSession, good: ApprovalWaits, total: ApprovalWaits, since: datetime
) -> list[Sample]:
    """One sample per wait for approval that ended after `since`."""
    # Tasks that waited and moved since `since` (a wait's end updates the projection).
    waited = (
        select(TaskEvent.task_id)
        .join(Task, Task.id == TaskEvent.task_id)  # type: ignore[arg-type]
        .where(
            TaskEvent.kind == "phase",
            TaskEvent.phase == AWAITING,
            Task.updated_at >= since - LATE_RECORD_SLACK,
        )
    )
    rows = await session.execute(
        select(TaskEvent.task_id, TaskEvent.seq, TaskEvent.phase, TaskEvent.at)
        .where(TaskEvent.kind == "phase", TaskEvent.task_id.in_(waited))  # type: ignore[attr-defined]
        .order_by(TaskEvent.task_id, TaskEvent.seq)
    )
    return approval_samples_of(rows.all(), good, total, since)


async def samples_for(session: AsyncSession, slo: Slo, since: datetime) -> list[Sample] | None:
    """The SLO's events after `since` from our records; None when it names none."""
    good, total = slo.good.records, slo.total.records
    if isinstance(good, TaskOutcomes) and isinstance(total, TaskOutcomes):
        return await task_outcome_samples(session, good, total, since)
    if isinstance(good, ApprovalWaits) and isinstance(total, ApprovalWaits):
        return await approval_samples(session, good, total, since)
    return None
