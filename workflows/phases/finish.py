"""The end of every task: its terminal phase recorded, its worktree discarded, and a
signed provenance record of its whole trail."""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ActivityError, is_cancelled_exception

from workflows.calls import call
from workflows.hosts import discard_quietly
from workflows.recording import enter
from workflows.state import TaskRun
from workflows.versions import local_effects

with workflow.unsafe.imports_passed_through():
    from domain.activities import RECORD_PROVENANCE, ProvenanceInput
    from domain.audit import ProjectionPatch
    from domain.interventions import DEFAULT_ACTOR
    from domain.phases import TERMINAL_PHASES, Phase
    from workflows import activity_options as opts


async def complete(run: TaskRun) -> None:
    await enter(run, "recording", action="recording")
    await finish(run, "completed", None)


async def finish(run: TaskRun, phase: Phase, error: str | None) -> None:
    """Enter the terminal `phase` (once), after discarding the last run's worktree."""
    if run.phase in TERMINAL_PHASES:
        return
    run.last_error = error
    run.pending_action = None
    if run.execution is not None:
        discard = discard_quietly(run, run.execution.run_id, run.execution.host_queue)
        if local_effects():
            # Nothing in the trail depends on the worktree: it goes while the terminal
            # phase and the provenance record are written (TaskRun.discarded).
            run.discarding = asyncio.create_task(discard)
        else:
            await discard
    await enter(
        run,
        phase,
        action=phase,
        verdict=run.decision.outcome if run.decision else None,
        detail={"error": error} if error else {},
        projection=ProjectionPatch(error=error, clear_pending_action=True),
    )


async def finish_canceled(run: TaskRun) -> None:
    """Clean up after a Temporal cancellation. Each step is retried if the
    cancellation interrupts it, so the audit always ends with CANCELED."""
    actor = run.cancel_by.actor if run.cancel_by else DEFAULT_ACTOR
    reason = run.cancel_by.reason if run.cancel_by else ""
    run.pending_action = None
    run.last_error = f"canceled by {actor}" + (f": {reason}" if reason else "")
    if run.execution is not None:
        await discard_quietly(run, run.execution.run_id, run.execution.host_queue)
    elif run.active_run_id is not None and run.host is not None:
        # Canceled mid-step: the host discarded it already; this makes sure.
        await discard_quietly(run, run.active_run_id, run.host.host_queue)
    for _ in range(3):
        try:
            await enter(
                run,
                "canceled",
                actor=actor,
                action="canceled",
                detail={"reason": reason},
                projection=ProjectionPatch(error=run.last_error, clear_pending_action=True),
            )
            return
        except asyncio.CancelledError:
            continue


async def sign_provenance(run: TaskRun) -> None:
    """The last step of every task, whatever its outcome: a signed record of the whole
    trail, committed to the provenance repository. Handlers still writing records
    finish first, so the record's trail (seq 1..last_seq) is complete. A failure here
    does not change the outcome; `agency verify` then reports the missing record."""
    for attempt in range(1, 4):
        try:
            await workflow.wait_condition(workflow.all_handlers_finished)
            await call(
                RECORD_PROVENANCE,
                ProvenanceInput(task_id=run.task_id, last_seq=run.seq),
                opts.QUICK,
                activity_id=f"provenance-{attempt}",
            )
            return
        except asyncio.CancelledError:
            # A cancellation that arrives while signing must not leave the task unsigned.
            continue
        except ActivityError as err:
            if is_cancelled_exception(err):
                continue
            workflow.logger.warning("provenance of %s not recorded: %s", run.task_id, err)
            return
