"""Applying: the approved change committed to the target branch by any executor."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows.calls import call
from workflows.failures import TaskEnded, cause, reraise_cancellation
from workflows.recording import enter, record
from workflows.state import TaskRun

with workflow.unsafe.imports_passed_through():
    from domain.activities import APPLY_CHANGE, ApplyInput
    from domain.audit import ProjectionPatch
    from workflows import activity_options as opts


async def apply(run: TaskRun) -> None:
    """Nothing for a dry run; nothing to commit is recorded as such."""
    if run.spec.execution_mode == "dry_run" or run.execution is None:
        return
    await run.safe_point()
    execution = run.execution
    if not execution.changed_files:
        # Approved, and nothing to commit: the task is done, and says so.
        await record(run, "applied", action="nothing_to_apply", detail={"changed_files": 0})
        return
    await enter(run, "applying", action="apply")
    if execution.tree is None or execution.diff_artifact is None or not run.base_commit:
        raise TaskEnded("failed", "apply impossible: the execution left no stored change")
    target = run.spec.target_branch or execution.default_target
    try:
        applied = await call(
            APPLY_CHANGE,
            ApplyInput(
                task_id=run.task_id,
                repo=run.spec.repo,
                base_commit=run.base_commit,
                tree=execution.tree,
                diff_artifact=execution.diff_artifact,
                target_branch=target,
                message=commit_message(run),
                at=workflow.now(),
            ),
            opts.applying(run.inp.executors),
            summary=f"commit the judged change to {target}",
        )
    except ActivityError as err:
        reraise_cancellation(err)
        raise TaskEnded("failed", f"apply failed: {cause(err)}") from err
    run.applied_commit = applied.commit
    await record(
        run,
        "applied",
        action="applied",
        detail={
            "commit": applied.commit,
            "branch": applied.branch,
            "executor": applied.executor,
            "already_applied": applied.already_applied,
        },
        projection=ProjectionPatch(applied_commit=applied.commit),
    )


def commit_message(run: TaskRun) -> str:
    """The Agency-Task trailer is what makes applying idempotent (a retry finds it)."""
    spec = run.spec
    return (
        f"{spec.title}\n\n"
        f"Applied by Agent Agency for {spec.id} (mode {spec.mode}, "
        f"risk tier {run.risk_tier}).\n\n"
        f"Agency-Task: {run.task_id}\n"
        f"Agency-Spec: {spec.id}\n"
    )
