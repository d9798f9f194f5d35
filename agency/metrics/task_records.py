"""Task metrics observed from a transition the `record` activity has just stored.

Counted once per (task, seq): the activity calls `observe_record` only when its own
attempt stored the record (agency.db.records.apply_record returned True), so a retried
activity, a duplicate delivery or a replayed workflow counts nothing again. The price is
the opposite error, rarer: a process killed between the commit and the increment loses
that one observation (at most once, never twice). Counters are per process; Prometheus
sums them over the workers.

Durations are differences of the records' own `at` (workflow time, as the workflow
entered each phase), read back from the task's stored events, so they do not depend on
which worker stored which record, nor on when its activity ran.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from agency.db.models import Task, TaskEvent
from agency.metrics.labels import bounded
from agency.metrics.tasks import (
    APPROVAL_WAIT,
    COUNCIL_DECISIONS,
    EXECUTION_MODES,
    INTERVENTIONS,
    INTERVENTIONS_TOTAL,
    JUDGE_VERDICTS,
    JUDGES,
    MODES,
    OUTCOMES,
    PHASE_DURATION,
    PHASES,
    RISK_TIERS,
    STAGES,
    TASKS_FINISHED,
    TASKS_STARTED,
    TERMINAL,
    VERDICTS,
)
from domain.audit import RecordInput
from domain.interventions import DEFAULT_ACTOR, REFUSED_SUFFIX

log = logging.getLogger("agency.metrics")

# Built once: built per record, SQLAlchemy keyed its statement cache on each anew.
_TASK_LABELS = select(Task.risk_tier, Task.mode, Task.execution_mode).where(
    Task.id == bindparam("task_id")
)
_PREVIOUS_PHASE = (
    select(TaskEvent.phase, TaskEvent.at)
    .where(
        TaskEvent.task_id == bindparam("task_id"),
        TaskEvent.kind == "phase",
        TaskEvent.seq < bindparam("seq"),
    )
    .order_by(TaskEvent.seq.desc())
    .limit(1)
)

# How a wait for approval ended, by the phase that followed it.
APPROVAL_ENDS = {"rejected": "rejected", "failed": "failed", "canceled": "canceled"}


async def observe_record(session: AsyncSession, rec: RecordInput) -> None:
    """Observe what the stored record `rec` says about its task. Reads (never writes)
    through `session`."""
    if rec.kind == "phase":
        await _phase(session, rec)
    elif rec.kind == "judgment":
        _judgment(rec)
    elif rec.kind == "intervention":
        _intervention(rec)


async def _phase(session: AsyncSession, rec: RecordInput) -> None:
    first = rec.seq == 1  # a task's first record is written as its workflow begins
    terminal = rec.phase in TERMINAL
    if first or terminal:
        labels = await _task_labels(session, rec.task_id)
        if labels is not None and first:
            TASKS_STARTED.labels(*labels).inc()
        if labels is not None and terminal:
            TASKS_FINISHED.labels(rec.phase, *labels).inc()
    previous = await _previous_phase(session, rec)
    if previous is None:
        return
    phase, entered = previous
    if entered.tzinfo is None:  # a database that drops the zone stores UTC
        entered = entered.replace(tzinfo=UTC)
    seconds = max(0.0, (rec.at - entered).total_seconds())
    PHASE_DURATION.labels(bounded(phase, PHASES)).observe(seconds)
    if phase == "awaiting_approval":
        APPROVAL_WAIT.labels(APPROVAL_ENDS.get(rec.phase, "approved")).observe(seconds)


def _judgment(rec: RecordInput) -> None:
    stage = bounded(rec.stage, STAGES)
    for judgment in rec.judgments:
        JUDGE_VERDICTS.labels(
            bounded(judgment.judge, JUDGES), stage, bounded(judgment.verdict, VERDICTS)
        ).inc()
    if rec.verdict is not None:
        COUNCIL_DECISIONS.labels(stage, bounded(rec.verdict, OUTCOMES)).inc()


def _intervention(rec: RecordInput) -> None:
    refused = rec.action.endswith(REFUSED_SUFFIX)
    kind = rec.action.removesuffix(REFUSED_SUFFIX)
    # The record knows who, not through what: the API (its CLI and dashboard too) always
    # names the caller's key as the actor; a bare `temporal workflow signal` names nobody.
    source = "temporal_cli" if rec.actor == DEFAULT_ACTOR else "api"
    INTERVENTIONS_TOTAL.labels(
        bounded(kind, INTERVENTIONS), source, "refused" if refused else "accepted"
    ).inc()


async def _task_labels(session: AsyncSession, task_id: str) -> tuple[str, str, str] | None:
    row = (await session.execute(_TASK_LABELS, {"task_id": task_id})).one_or_none()
    if row is None:
        return None
    return (
        bounded(row.risk_tier, RISK_TIERS),
        bounded(row.mode, MODES),
        bounded(row.execution_mode, EXECUTION_MODES),
    )


async def _previous_phase(session: AsyncSession, rec: RecordInput) -> tuple[str, datetime] | None:
    """The phase the task was in before `rec`, and when it entered it."""
    params = {"task_id": rec.task_id, "seq": rec.seq}
    row = (await session.execute(_PREVIOUS_PHASE, params)).one_or_none()
    return None if row is None else (row.phase, row.at)
