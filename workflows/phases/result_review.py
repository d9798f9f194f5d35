"""Result review: the council judges an iteration's gated execution."""

from __future__ import annotations

from temporalio import workflow

from workflows.judging import apply_override, judge
from workflows.recording import enter
from workflows.state import TaskRun

with workflow.unsafe.imports_passed_through():
    from council.models import Decision
    from domain.execution import ExecutionSummary


async def result_review(run: TaskRun, summary: ExecutionSummary) -> Decision:
    """The decision on this iteration (a human override replaces the council's once).
    The judges may ask for refinement only while iterations remain."""
    await run.safe_point()
    await enter(run, "result_review", action="result_review")
    can_refine = run.iteration < run.max_iterations
    out = await judge(run, "result", execution=summary, can_refine=can_refine)
    return apply_override(run, out.decision)
