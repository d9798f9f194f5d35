"""The council's decisions: a plan review or a result review, and a human's override."""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

from workflows.calls import call, call_local
from workflows.recording import record
from workflows.state import TaskRun
from workflows.versions import local_effects

with workflow.unsafe.imports_passed_through():
    from council.models import Decision, Stage
    from domain.activities import JUDGE, JudgeInput, JudgeOutput
    from domain.audit import ProjectionPatch
    from domain.execution import ExecutionSummary
    from domain.task import Round
    from workflows import activity_options as opts


async def judge(
    run: TaskRun, stage: Stage, execution: ExecutionSummary | None, can_refine: bool
) -> JudgeOutput:
    """The four judges on the plan (no execution) or on an iteration's result, with the
    policy and waivers snapshotted at validation; their decision is recorded."""
    assert run.validation is not None
    inp = JudgeInput(
        task_id=run.task_id,
        stage=stage,
        iteration=run.iteration,
        spec=run.spec.model_copy(update={"risk_tier": run.risk_tier}),
        policy=run.validation.policy,
        waivers=run.validation.waivers,
        execution=execution,
        now=judged_at(run),
        can_refine=can_refine,
    )
    summary = f"council on the {stage}, iteration {run.iteration}"
    if local_effects():
        out = await call_local(JUDGE, inp, opts.JUDGING_LOCAL, summary=summary)
    else:
        out = await call(JUDGE, inp, opts.JUDGING, summary=summary)
    run.verdicts = out.judgments
    run.decision = out.decision
    run.rounds.append(
        Round(stage=stage, iteration=run.iteration, judgments=out.judgments, decision=out.decision)
    )
    await record(
        run,
        "judgment",
        action=f"{stage}_review",
        actor="council",
        verdict=out.decision.outcome,
        detail={"score": out.decision.score, "reasons": out.decision.reasons},
        projection=ProjectionPatch(verdicts=out.judgments),
        judgments=out.judgments,
        stage=stage,
    )
    return out


def judged_at(run: TaskRun) -> datetime:
    """The time a review judges at (waivers expire): the stored time of the record that
    opened it. A workflow task that ran again after its worker died judges what the first
    attempt judged, and so reaches the decision the stored records already hold."""
    if local_effects() and run.recorded_at is not None:
        return run.recorded_at
    return workflow.now()


def apply_override(run: TaskRun, decision: Decision) -> Decision:
    """A human override replaces the council's verdict once, at the next decision."""
    if run.override is None:
        return decision
    override, run.override = run.override, None
    outcome = "approve" if override.verdict == "approve" else "reject"
    replaced = decision.model_copy(
        update={
            "outcome": outcome,
            "reasons": [
                f"overridden by {override.actor} to {override.verdict}: {override.reason}",
                *decision.reasons,
            ],
        }
    )
    run.decision = replaced
    return replaced


def reasons(decision: Decision) -> str:
    return "; ".join(decision.reasons) or decision.outcome
