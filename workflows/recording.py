"""Every transition of the task, written through the `record` activity: its event, its
audit entry and its projection update, numbered in the order the workflow makes them."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

from workflows.calls import call, call_local
from workflows.state import TaskRun
from workflows.versions import local_effects
from workflows.visibility import show

with workflow.unsafe.imports_passed_through():
    from council.models import Judgment, Stage
    from domain.activities import RECORD, RECORD_ENTRY
    from domain.audit import ProjectionPatch, RecordInput
    from domain.phases import Phase
    from workflows import activity_options as opts


async def enter(
    run: TaskRun,
    phase: Phase,
    *,
    action: str,
    actor: str = "system",
    verdict: str | None = None,
    approval_status: str | None = None,
    detail: dict[str, Any] | None = None,
    projection: ProjectionPatch | None = None,
) -> None:
    """Enter `phase`, and record it."""
    run.phase = phase
    show(run)
    patch = (projection or ProjectionPatch()).model_copy(
        update={"phase": phase, "workflow_run_id": workflow.info().run_id}
    )
    await record(
        run,
        "phase",
        action=action,
        actor=actor,
        verdict=verdict,
        approval_status=approval_status,
        detail=detail,
        projection=patch,
    )


async def record(
    run: TaskRun,
    kind: str,
    *,
    action: str,
    actor: str = "system",
    verdict: str | None = None,
    approval_status: str | None = None,
    detail: dict[str, Any] | None = None,
    projection: ProjectionPatch | None = None,
    judgments: list[Judgment] | None = None,
    stage: Stage | None = None,
) -> None:
    # The sequence number is taken before the first await, so concurrent records
    # (a signal handler and the main flow) never share one.
    run.seq += 1
    patch = live_changes(run, projection or ProjectionPatch())
    record_input = RecordInput(
        task_id=run.task_id,
        seq=run.seq,
        at=workflow.now(),
        kind=kind,
        phase=run.phase,
        actor=actor,
        action=action,
        verdict=verdict,
        approval_status=approval_status,
        detail=detail or {},
        projection=patch,
        judgments=judgments or [],
        stage=stage,
        iteration=run.iteration,
    )
    summary = f"record {kind} {action} (#{run.seq})"
    if local_effects():
        # One marker event holding the record (the local activity's result).
        stored = await call_local(RECORD_ENTRY, record_input, opts.RECORDING, summary=summary)
        run.recorded_at = stored.at
    else:
        # Histories from before records were local activities replay as they ran.
        await call(RECORD, record_input, opts.QUICK, summary=summary)


def live_changes(run: TaskRun, patch: ProjectionPatch) -> ProjectionPatch:
    """`patch` with what changed in the run's decision, execution and rounds since the
    last record, so the projection holds the whole state a read shows (an override's
    replaced decision reaches it with the record after it)."""
    changes: dict[str, Any] = {}
    if run.decision is not run.projected_decision:
        changes["decision"] = run.projected_decision = run.decision
    if run.execution is not run.projected_execution:
        changes["execution"] = run.projected_execution = run.execution
    if len(run.rounds) > run.projected_rounds:
        changes["new_rounds"] = run.rounds[run.projected_rounds :]
        run.projected_rounds = len(run.rounds)
    return patch.model_copy(update=changes) if changes else patch
