"""Iterating: execute, gate and review until the council decides; a request for changes
discards the attempt and runs the agent again with the judges' feedback."""

from __future__ import annotations

from workflows.failures import TaskEnded
from workflows.hosts import discard_quietly
from workflows.judging import reasons
from workflows.phases.execute import execute
from workflows.phases.gates import require_passing_gates_if_strict
from workflows.phases.result_review import result_review
from workflows.state import TaskRun


async def iterate_until_decided(run: TaskRun) -> bool:
    """True when the council approved; False when it escalated the decision to a human
    (the caller waits for approval). A rejection, or no approval within the task's
    iterations, ends the task."""
    while True:
        run.iteration += 1
        await run.safe_point()
        summary = await execute(run)
        require_passing_gates_if_strict(run, summary)
        decision = await result_review(run, summary)
        if decision.outcome == "approve":
            return True
        if decision.outcome == "reject":
            raise TaskEnded("rejected", "council rejected the result: " + reasons(decision))
        if decision.outcome == "escalate":
            return False
        # refine: discard this attempt and go again with the judges' feedback.
        await discard_quietly(run, summary.run_id, summary.host_queue)
        if run.iteration >= run.max_iterations:
            raise TaskEnded(
                "rejected",
                f"no approval after {run.iteration} iteration(s): " + reasons(decision),
            )
