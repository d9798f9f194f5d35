"""Executing: one iteration's run of the agent on an executor host, then its gates.

A host lost on the way means the sequence starts again on another host, from the same
base commit, in a fresh worktree (the agent runs at least once). A model-driven agent's
patch is drafted first, on the workflow worker, once per iteration.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows.calls import call
from workflows.failures import TaskEnded, cause, reraise_cancellation
from workflows.hosts import HostLost, claim_host, host_lost, raise_if_host_lost
from workflows.phases.gates import run_gates
from workflows.recording import enter, record
from workflows.state import TaskRun

with workflow.unsafe.imports_passed_through():
    from domain.activities import DRAFT_PATCH, RUN_AGENT, DraftInput, ExecuteInput
    from domain.audit import ProjectionPatch
    from domain.execution import ExecutionSummary, ExecutorClaim
    from workflows import activity_options as opts
    from workflows.feedback import feedback_for_next_iteration


async def execute(run: TaskRun) -> ExecutionSummary:
    """This iteration's execution, gated: claim a host, run the agent, run the gates."""
    feedback = feedback_for_next_iteration(run.rounds, run.guidance)
    run.guidance = []
    patch_artifact: str | None = None
    if run.spec.agent.model is not None:
        patch_artifact = await draft(run, run.base_commit, feedback)
    attempt = 0
    while True:
        attempt += 1
        host = await claim_host(run, attempt)
        run_id = f"{workflow.info().run_id}-{run.iteration}-{attempt}"
        try:
            summary = await run_agent(run, host, run_id, attempt, feedback, patch_artifact)
            await run.safe_point()
            return await run_gates(run, host, summary)
        except HostLost as lost:
            await host_lost(run, host, run_id, attempt, lost.why)


async def run_agent(
    run: TaskRun,
    host: ExecutorClaim,
    run_id: str,
    attempt: int,
    feedback: str,
    patch_artifact: str | None,
) -> ExecutionSummary:
    run.active_run_id = run_id
    await enter(
        run,
        "executing",
        action="execute",
        detail={
            "run_id": run_id,
            "executor": host.executor,
            "host_queue": host.host_queue,
            "attempt": attempt,
        },
        projection=ProjectionPatch(iteration=run.iteration),
    )
    run.executing = True
    try:
        summary = await call(
            RUN_AGENT,
            ExecuteInput(
                task_id=run.task_id,
                iteration=run.iteration,
                attempt=attempt,
                run_id=run_id,
                spec=run.spec.for_executor(),
                base_commit=run.base_commit,
                feedback=feedback,
                patch_artifact=patch_artifact,
            ),
            opts.host_step(
                run.inp.executors, host.host_queue, timedelta(seconds=run.spec.agent.timeout_s)
            ),
            activity_id=f"execute-{run.iteration}-{attempt}",
            summary=f"agent, iteration {run.iteration} attempt {attempt} on {host.executor}",
        )
    except ActivityError as err:
        reraise_cancellation(err)
        raise_if_host_lost(err)
        raise TaskEnded("failed", f"execution failed: {cause(err)}") from err
    finally:
        run.executing = False
    run.base_commit = run.base_commit or summary.base_commit
    run.execution = summary
    await record(
        run,
        "execution",
        action="executed",
        detail={
            "run_id": run_id,
            "executor": summary.executor,
            "attempt": attempt,
            "state": summary.state,
            "exit_code": summary.exit_code,
            "timed_out": summary.timed_out,
            "changed_files": [f.path for f in summary.changed_files],
            "lines_added": summary.lines_added,
            "lines_removed": summary.lines_removed,
            "diff_sha256": summary.diff_sha256,
            "base_commit": summary.base_commit,
            "redactions": summary.redactions,
        },
        projection=ProjectionPatch(
            changed_files=len(summary.changed_files),
            lines_added=summary.lines_added,
            lines_removed=summary.lines_removed,
        ),
    )
    if summary.state != "finished":
        raise TaskEnded("failed", f"execution {summary.state}: {summary.error or 'no detail'}")
    return summary


async def draft(run: TaskRun, base_commit: str | None, feedback: str) -> str:
    """A model-driven agent's turn: the worker's model drafts a patch, which the
    executor applies in its sandbox. Only artifact ids enter history."""
    try:
        drafted = await call(
            DRAFT_PATCH,
            DraftInput(
                task_id=run.task_id,
                iteration=run.iteration,
                spec=run.spec,
                base_commit=base_commit,
                feedback=feedback,
            ),
            opts.DRAFTING,
            activity_id=f"draft-{run.iteration}",
        )
    except ActivityError as err:
        reraise_cancellation(err)
        why = f"the model could not draft a change: {cause(err)}"
        raise TaskEnded("failed", why) from err
    await record(run, "draft", action="drafted", detail=drafted.model_dump(mode="json"))
    return drafted.patch_artifact
