"""Plan review: the council judges the spec before anything runs."""

from __future__ import annotations

from workflows.failures import TaskEnded
from workflows.judging import apply_override, judge, reasons
from workflows.phases.approval import await_approval
from workflows.recording import enter
from workflows.state import TaskRun


async def plan_review(run: TaskRun) -> None:
    """Rejected ends the task; uncertain asks a human; approved goes on."""
    await run.safe_point()
    await enter(run, "plan_review", action="plan_review")
    out = await judge(run, "plan", execution=None, can_refine=False)
    outcome = apply_override(run, out.decision).outcome
    if outcome == "reject":
        raise TaskEnded("rejected", "council rejected the plan: " + reasons(out.decision))
    if outcome == "escalate":
        await await_approval(run, reason="the council is uncertain about the plan")
