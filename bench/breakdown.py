"""Where a governed task's time goes: pure aggregation for bench.e2e's breakdown.

Two sources, both exact for what they measure:

* phases come from the task's recorded phase events (`task_events`: `at` is
  `workflow.now()` when the workflow entered the phase, i.e. the start of the workflow
  task that made the transition). A phase lasts from its first event until the first
  event of the next phase; the last one lasts until the workflow closed.
* activities come from the workflow's Temporal history: scheduled → started is waiting
  on a task queue, started → closed is the activity's work. Time in no activity at all
  (the union of the activities' scheduled → closed spans, subtracted from the
  workflow's start → close) is the workflow's own turns: its workflow tasks, measured
  from the same history the same way (waiting for a worker to pick one up, then the
  workflow code running).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

# The time from the workflow's start to its first phase record (a pseudo-phase).
START = "start → first record"


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of a non-empty sequence (the one bench.e2e uses)."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def phase_durations(
    events: Iterable[tuple[datetime, str]], started: datetime, closed: datetime
) -> dict[str, float]:
    """Seconds spent in each phase of one task.

    `events` are the task's (at, phase) records in sequence order; several records in
    one phase count once, and a phase entered twice (another iteration) adds up. Time
    from the workflow's start to its first record is `start → first record`.
    """
    out: dict[str, float] = {}
    current, since = START, started
    for at, phase in events:
        if phase == current:
            continue
        out[current] = out.get(current, 0.0) + (at - since).total_seconds()
        current, since = phase, at
    out[current] = out.get(current, 0.0) + (closed - since).total_seconds()
    return {k: v for k, v in out.items() if not (k == START and v == 0.0)}


@dataclass(frozen=True)
class ActivitySpan:
    """One activity from the history: its type and when it was scheduled, started and
    closed (completed, failed, timed out or canceled)."""

    name: str
    scheduled: datetime
    started: datetime
    closed: datetime

    @property
    def work(self) -> float:
        return (self.closed - self.started).total_seconds()


@dataclass
class HistoryStats:
    """One task's workflow history, summed (seconds)."""

    events: int
    activities: int
    span: float
    queued: float
    working: float
    outside: float
    workflow_tasks: int = 0
    wft_queued: float = 0.0
    wft_working: float = 0.0
    # Local activities (records): each a marker event, run inside a workflow task.
    local_activities: int = 0
    # The first workflow task's work: the worker builds the workflow's sandbox in it.
    first_wft_working: float = 0.0
    by_type: dict[str, tuple[int, float, float]] = field(default_factory=dict)


def history_stats(
    events: int,
    activities: Sequence[ActivitySpan],
    started: datetime,
    closed: datetime,
    workflow_tasks: Sequence[ActivitySpan] = (),
    local_activities: int = 0,
) -> HistoryStats:
    """Sum one workflow's activities: time waiting on task queues, time working, time in
    no activity at all, and per activity type (count, queue seconds, work seconds); and
    its workflow tasks (the workflow's own code) the same way, queue and work."""
    queued = sum((a.started - a.scheduled).total_seconds() for a in activities)
    working = sum((a.closed - a.started).total_seconds() for a in activities)
    covered = 0.0
    end: datetime | None = None
    for a in sorted(activities, key=lambda a: a.scheduled):
        if end is None or a.scheduled >= end:
            covered += (a.closed - a.scheduled).total_seconds()
            end = a.closed
        elif a.closed > end:
            covered += (a.closed - end).total_seconds()
            end = a.closed
    span = (closed - started).total_seconds()
    by_type: dict[str, tuple[int, float, float]] = {}
    for a in activities:
        n, q, w = by_type.get(a.name, (0, 0.0, 0.0))
        by_type[a.name] = (
            n + 1,
            q + (a.started - a.scheduled).total_seconds(),
            w + (a.closed - a.started).total_seconds(),
        )
    return HistoryStats(
        events,
        len(activities),
        span,
        queued,
        working,
        span - covered,
        len(workflow_tasks),
        sum((t.started - t.scheduled).total_seconds() for t in workflow_tasks),
        sum((t.closed - t.started).total_seconds() for t in workflow_tasks),
        local_activities,
        min(workflow_tasks, key=lambda t: t.scheduled).work if workflow_tasks else 0.0,
        by_type,
    )


Row = tuple[str, float, float]


def p50_p95(values: Sequence[float]) -> tuple[float, float]:
    return percentile(values, 50), percentile(values, 95)


def phase_table(tasks: Sequence[dict[str, float]], order: Sequence[str]) -> list[Row]:
    """Per phase, p50 and p95 seconds over the tasks (a task that never entered a phase
    counts 0 for it), phases in `order` first and any others after, in first-seen order."""
    seen: list[str] = []
    for t in tasks:
        seen.extend(k for k in t if k not in seen)
    names = [p for p in order if p in seen] + [p for p in seen if p not in order]
    return [(name, *p50_p95([t.get(name, 0.0) for t in tasks])) for name in names]


def history_table(stats: Sequence[HistoryStats]) -> list[Row]:
    """p50 and p95 over the tasks of: history events, activities, and the workflow's
    span split into queue waits, activity work and time outside any activity."""
    return [
        ("history events per task", *p50_p95([s.events for s in stats])),
        ("activities per task", *p50_p95([s.activities for s in stats])),
        ("local activities per task", *p50_p95([s.local_activities for s in stats])),
        ("workflow start → close (s)", *p50_p95([s.span for s in stats])),
        ("in activities: scheduled → started, summed (s)", *p50_p95([s.queued for s in stats])),
        ("in activities: started → closed, summed (s)", *p50_p95([s.working for s in stats])),
        ("outside any activity (s)", *p50_p95([s.outside for s in stats])),
        ("workflow tasks per task", *p50_p95([s.workflow_tasks for s in stats])),
        (
            "workflow tasks: scheduled → started, summed (s)",
            *p50_p95([s.wft_queued for s in stats]),
        ),
        (
            "workflow tasks: started → completed, summed (s)",
            *p50_p95([s.wft_working for s in stats]),
        ),
        (
            "first workflow task: started → completed (s)",
            *p50_p95([s.first_wft_working for s in stats]),
        ),
    ]


def by_type_table(stats: Sequence[HistoryStats]) -> list[tuple[str, float, float, float]]:
    """Per activity type, mean per task: how many, queue seconds, work seconds; the
    costliest (queue + work) first."""
    totals: dict[str, tuple[int, float, float]] = {}
    for s in stats:
        for name, (n, q, w) in s.by_type.items():
            tn, tq, tw = totals.get(name, (0, 0.0, 0.0))
            totals[name] = (tn + n, tq + q, tw + w)
    k = len(stats) or 1
    rows = [(name, n / k, q / k, w / k) for name, (n, q, w) in totals.items()]
    return sorted(rows, key=lambda r: -(r[2] + r[3]))
