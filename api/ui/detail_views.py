"""The sections of a task's page as views: its timeline (phase entries with how long
each lasted), council rounds (from stored verdicts and audit, or the live state) and the
execution with its gates (from the workflow's summary, or the recorded events). Pure
functions of what api.ui.detail loaded.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from agency.db.task_reads import judgment_of
from api.schemas import AuditList
from council.models import GateResult, Judgment, Violation
from domain.execution import ExecutionSummary
from domain.phases import TERMINAL_PHASES
from domain.task import Round


@dataclass
class TimelineEntry:
    phase: str
    started: datetime
    ended: datetime | None
    seconds: float
    note: str = ""
    current: bool = False


@dataclass
class RoundView:
    stage: str
    iteration: int
    judgments: list[Judgment]
    outcome: str | None = None
    score: float | None = None
    threshold: float | None = None
    reasons: list[str] = field(default_factory=list)
    vetoes: list[Violation] = field(default_factory=list)
    at: datetime | None = None


@dataclass
class GateView:
    name: str
    passed: bool
    exit_code: int | None = None
    timed_out: bool = False
    duration_s: float | None = None
    output_tail: str | None = None
    covers: list[str] = field(default_factory=list)


@dataclass
class ExecutionView:
    run_id: str | None
    executor: str | None
    attempt: int | None
    exit_code: int | None
    timed_out: bool
    lines_added: int
    lines_removed: int
    changed_files: list[str]
    diff_artifact: str | None
    stdout_tail: str | None
    stderr_tail: str | None
    redactions: dict[str, int]
    gates: list[GateView]
    complete: bool  # False: rebuilt from events only (no output tails)


def timeline(events: list[Row[Any]], phase: str, now: datetime) -> list[TimelineEntry]:
    entries: list[TimelineEntry] = []
    for event in events:
        if event.kind != "phase":
            continue
        note = ""
        if event.action == "execute":
            executor = str(event.data.get("executor", "")).split("/")[0]
            note = f"attempt {event.data.get('attempt', 1)} on {executor}" if executor else ""
        elif event.data.get("reason"):
            note = str(event.data["reason"])
        if entries and entries[-1].ended is None:
            entries[-1].ended = event.at
            entries[-1].seconds = (event.at - entries[-1].started).total_seconds()
        entries.append(TimelineEntry(event.phase, event.at, None, 0.0, note))
    if entries:
        last = entries[-1]
        if last.phase in TERMINAL_PHASES:
            last.ended = last.started
        else:
            last.current = True
            last.seconds = max(0.0, (now - last.started).total_seconds())
    return entries


def rounds_from_records(verdict_rows: list[Any], audit: AuditList) -> list[RoundView]:
    by_seq = {entry.seq: entry for entry in audit.items}
    grouped: OrderedDict[int, RoundView] = OrderedDict()
    for row in verdict_rows:
        view = grouped.get(row.seq)
        if view is None:
            entry = by_seq.get(row.seq)
            detail = entry.detail if entry else {}
            view = grouped[row.seq] = RoundView(
                stage=row.stage or "",
                iteration=row.iteration,
                judgments=[],
                outcome=entry.verdict if entry else None,
                score=detail.get("score"),
                threshold=detail.get("threshold"),
                reasons=[str(r) for r in detail.get("reasons") or []],
                vetoes=[Violation.model_validate(v) for v in detail.get("vetoes") or []],
                at=entry.at if entry else None,
            )
        view.judgments.append(judgment_of(row))
    return list(grouped.values())


def rounds_from_state(rounds: list[Round]) -> list[RoundView]:
    return [
        RoundView(
            stage=r.stage,
            iteration=r.iteration,
            judgments=list(r.judgments),
            outcome=r.decision.outcome,
            score=r.decision.score,
            threshold=r.decision.threshold,
            reasons=list(r.decision.reasons),
            vetoes=list(r.decision.vetoes),
        )
        for r in rounds
    ]


def _gate_views(gates: list[GateResult]) -> list[GateView]:
    return [
        GateView(
            name=g.name,
            passed=g.passed,
            exit_code=g.exit_code,
            timed_out=g.timed_out,
            duration_s=g.duration_s,
            output_tail=g.output_tail,
            covers=list(g.covers),
        )
        for g in gates
    ]


def execution_view(
    summary: ExecutionSummary | None, events: list[Row[Any]]
) -> ExecutionView | None:
    executed = [e for e in events if e.action == "executed"]
    gates_ran = [e for e in events if e.action == "gates_ran"]
    if summary is not None:
        return ExecutionView(
            run_id=summary.run_id,
            executor=summary.executor,
            attempt=summary.attempt,
            exit_code=summary.exit_code,
            timed_out=summary.timed_out,
            lines_added=summary.lines_added,
            lines_removed=summary.lines_removed,
            changed_files=[f.path for f in summary.changed_files],
            diff_artifact=summary.diff_artifact
            or (f"diff-{summary.diff_sha256}" if summary.diff_sha256 else None),
            stdout_tail=summary.stdout_tail,
            stderr_tail=summary.stderr_tail,
            redactions=dict(summary.redactions),
            gates=_gate_views(summary.gates),
            complete=True,
        )
    if not executed:
        return None
    data = executed[-1].data
    gates: list[GateView] = []
    if gates_ran and gates_ran[-1].data.get("run_id") == data.get("run_id"):
        gates = [
            GateView(name=str(g.get("name")), passed=bool(g.get("passed")))
            for g in gates_ran[-1].data.get("gates") or []
        ]
    sha = data.get("diff_sha256")
    return ExecutionView(
        run_id=data.get("run_id"),
        executor=data.get("executor"),
        attempt=data.get("attempt"),
        exit_code=data.get("exit_code"),
        timed_out=bool(data.get("timed_out")),
        lines_added=int(data.get("lines_added") or 0),
        lines_removed=int(data.get("lines_removed") or 0),
        changed_files=[str(p) for p in data.get("changed_files") or []],
        diff_artifact=f"diff-{sha}" if sha else None,
        stdout_tail=None,
        stderr_tail=None,
        redactions=dict(data.get("redactions") or {}),
        gates=gates,
        complete=False,
    )
