"""Gating: the spec's gates (tests, linters...) in the run's worktree, on its host."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows.calls import call
from workflows.failures import TaskEnded, cause, reraise_cancellation
from workflows.hosts import raise_if_host_lost
from workflows.recording import enter, record
from workflows.state import TaskRun

with workflow.unsafe.imports_passed_through():
    from domain.activities import RUN_GATES, GatesInput
    from domain.execution import ExecutionSummary, ExecutorClaim
    from workflows import activity_options as opts


async def run_gates(
    run: TaskRun, host: ExecutorClaim, summary: ExecutionSummary
) -> ExecutionSummary:
    if not run.spec.gates:
        return summary
    await enter(run, "gating", action="gates", detail={"run_id": summary.run_id})
    total_timeout = sum(g.timeout_s for g in run.spec.gates)
    run.executing = True
    try:
        gated = await call(
            RUN_GATES,
            GatesInput(
                run_id=summary.run_id, attempt=summary.attempt, spec=run.spec.for_executor()
            ),
            opts.host_step(run.inp.executors, host.host_queue, timedelta(seconds=total_timeout)),
            activity_id=f"gates-{run.iteration}-{summary.attempt}",
            summary=f"{len(run.spec.gates)} gate(s), iteration {run.iteration} on {host.executor}",
        )
    except ActivityError as err:
        reraise_cancellation(err)
        raise_if_host_lost(err)
        raise TaskEnded("failed", f"gates could not run: {cause(err)}") from err
    finally:
        run.executing = False
    run.execution = gated
    await record(
        run,
        "gates",
        action="gates_ran",
        detail={
            "run_id": gated.run_id,
            "gates": [{"name": g.name, "passed": g.passed} for g in gated.gates],
            "redactions": gated.redactions,
        },
    )
    return gated


def require_passing_gates_if_strict(run: TaskRun, summary: ExecutionSummary) -> None:
    """Strict mode fails the task on a failed gate, before the council judges it."""
    if run.spec.execution_mode == "strict" and any(not g.passed for g in summary.gates):
        failed = ", ".join(g.name for g in summary.gates if not g.passed)
        raise TaskEnded("failed", f"strict mode: gate(s) failed: {failed}")
