"""Awaiting approval: a human approves or rejects, within the task's approval timeout."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows.failures import TaskEnded
from workflows.recording import enter
from workflows.state import TaskRun

with workflow.unsafe.imports_passed_through():
    from domain.audit import ProjectionPatch
    from domain.interventions import DEFAULT_ACTOR


async def await_approval(run: TaskRun, reason: str | None = None) -> None:
    run.human_decision = None
    run.human_verdict = None
    run.pending_action = "approve"
    timeout = timedelta(seconds=run.inp.approval_timeout_s)
    run.approval_deadline = workflow.now() + timeout
    await enter(
        run,
        "awaiting_approval",
        action="awaiting_approval",
        approval_status="pending",
        detail={"reason": reason or "strict mode requires a human approval"},
        projection=ProjectionPatch(pending_action="approve"),
    )
    try:
        await workflow.wait_condition(lambda: run.human_verdict is not None, timeout=timeout)
    except TimeoutError:
        run.pending_action = None
        run.approval_deadline = None
        raise TaskEnded(
            "failed",
            f"approval deadline passed: no decision within {run.inp.approval_timeout_s} s",
        ) from None
    run.pending_action = None
    run.approval_deadline = None
    if run.human_verdict == "reject":
        who = run.human_decision.actor if run.human_decision else DEFAULT_ACTOR
        why = run.human_decision.reason if run.human_decision else ""
        raise TaskEnded("rejected", f"rejected by {who}" + (f": {why}" if why else ""))
