"""Human interventions on a running task: the rules for when each applies, what each
changes, and the signal, update and validator through which each arrives.

Each intervention is a signal (works from `temporal workflow signal --name NAME`, where a
missing payload means actor "temporal-cli") and an update of the same name whose
validator refuses what does not apply, so API callers get an answer. A refused signal is
audited (a refused update never reaches its handler).
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.hosts import control_agent
from workflows.recording import record
from workflows.state import TaskRun
from workflows.visibility import show

with workflow.unsafe.imports_passed_through():
    from domain.audit import ProjectionPatch
    from domain.interventions import (
        HOLDING_INTERVENTIONS,
        REFUSED_SUFFIX,
        GuidanceInput,
        Intervention,
        InterventionAck,
        OverrideInput,
        ParametersInput,
    )
    from domain.phases import TERMINAL_PHASES


def holds(run: TaskRun, name: str) -> bool:
    """Whether intervention `name` counts against the task's bound on them: those that let
    the task go on or end never do (domain/interventions.py says why there is one)."""
    if name == "override" and run.pending_action == "approve":
        return False  # a human's decision on the awaited approval
    return name in HOLDING_INTERVENTIONS


def refusal(run: TaskRun, name: str, inp: Intervention | None) -> str | None:
    """Why intervention `name` does not apply now; None when it does."""
    if run.phase in TERMINAL_PHASES:
        return f"cannot {name}: the task is {run.phase}"
    if holds(run, name) and run.holding_interventions >= run.inp.max_holding_interventions:
        return (
            f"cannot {name}: the task has taken {run.holding_interventions} pauses, "
            "guidances, parameter changes and overrides, the most one task takes (its "
            "Temporal history must stay within the server's limits); resume, approve, "
            "reject or cancel it, and submit a new task to go on steering"
        )
    if name == "pause" and run.paused:
        return "cannot pause: already paused"
    if name == "resume" and not run.paused:
        return "cannot resume: not paused"
    if name in ("approve", "reject") and run.pending_action != "approve":
        return f"cannot {name}: nothing awaits approval (phase {run.phase})"
    if name == "cancel" and run.cancel_by is not None:
        return "cannot cancel: cancellation already requested"
    if name == "parameters" and isinstance(inp, ParametersInput):
        if inp.risk_tier is not None and inp.risk_tier > run.risk_tier:
            return (
                f"cannot lower the risk: tier {inp.risk_tier} is less critical than "
                f"{run.risk_tier} (1 is the most critical)"
            )
        if inp.max_iterations is not None and inp.max_iterations < run.iteration:
            return (
                f"cannot set max_iterations to {inp.max_iterations}: "
                f"iteration {run.iteration} already ran"
            )
        if inp.max_iterations is None and inp.risk_tier is None:
            return "nothing to change: give max_iterations or risk_tier"
    return None


async def intervene(run: TaskRun, name: str, inp: Intervention) -> InterventionAck:
    """Take intervention `name` into account (or refuse it), and record either."""
    refused = refusal(run, name, inp)
    if refused is not None:
        # A refused signal (updates are refused by their validator first) is audited.
        await record(
            run,
            "intervention",
            action=f"{name}{REFUSED_SUFFIX}",
            actor=inp.actor,
            detail={"reason": refused},
        )
        return InterventionAck(accepted=False, detail=refused)
    if holds(run, name):
        run.holding_interventions += 1
    detail: dict[str, Any] = {"reason": inp.reason} if inp.reason else {}
    projection = ProjectionPatch()
    approval_status: str | None = None
    if name == "pause":
        run.paused = True
        projection.paused = True
    elif name == "resume":
        run.paused = False
        projection.paused = False
    elif name in ("approve", "reject"):
        run.human_decision = inp
        run.human_verdict = name
        approval_status = "approved" if name == "approve" else "rejected"
        projection.clear_pending_action = True
    elif name == "override" and isinstance(inp, OverrideInput):
        detail["verdict"] = inp.verdict
        if run.pending_action == "approve":
            # Awaiting a human: the override is that human's decision.
            run.human_decision = inp
            run.human_verdict = inp.verdict
            approval_status = "approved" if inp.verdict == "approve" else "rejected"
            projection.clear_pending_action = True
        else:
            run.override = inp
    elif name == "guidance" and isinstance(inp, GuidanceInput):
        run.guidance.append(inp.text)
        detail["text"] = inp.text[:2000]
    elif name == "parameters" and isinstance(inp, ParametersInput):
        if inp.max_iterations is not None:
            run.max_iterations = inp.max_iterations
            projection.max_iterations = inp.max_iterations
            detail["max_iterations"] = inp.max_iterations
        if inp.risk_tier is not None:
            run.risk_tier = inp.risk_tier
            projection.risk_tier = inp.risk_tier
            detail["risk_tier"] = inp.risk_tier
    elif name == "cancel":
        run.cancel_by = inp
    show(run)  # paused, a new risk tier, a decision taken
    await record(
        run,
        "intervention",
        action=name,
        actor=inp.actor,
        verdict=getattr(inp, "verdict", None),
        approval_status=approval_status,
        detail=detail,
        projection=projection,
    )
    if name in ("pause", "resume") and run.executing and run.active_run_id:
        await control_agent(run, "suspend" if name == "pause" else "resume")
    return InterventionAck(accepted=True, detail=f"{name} accepted")


def validate(run: TaskRun, name: str, inp: Intervention | None) -> None:
    """An update's validator: refuse (before anything is recorded) what does not apply."""
    refused = refusal(run, name, inp or Intervention())
    if refused is not None:
        raise ApplicationError(refused, type="InterventionRefused", non_retryable=True)


class InterventionHandlers:
    """The task workflow's signals, updates and validators (TaskWorkflow inherits them)."""

    _run: TaskRun

    @workflow.signal(name="pause")
    async def pause_signal(self, inp: Intervention | None = None) -> None:
        await intervene(self._run, "pause", inp or Intervention())

    @workflow.update(name="pause")
    async def pause_update(self, inp: Intervention | None = None) -> InterventionAck:
        return await intervene(self._run, "pause", inp or Intervention())

    @pause_update.validator
    def _validate_pause(self, inp: Intervention | None = None) -> None:
        validate(self._run, "pause", inp)

    @workflow.signal(name="resume")
    async def resume_signal(self, inp: Intervention | None = None) -> None:
        await intervene(self._run, "resume", inp or Intervention())

    @workflow.update(name="resume")
    async def resume_update(self, inp: Intervention | None = None) -> InterventionAck:
        return await intervene(self._run, "resume", inp or Intervention())

    @resume_update.validator
    def _validate_resume(self, inp: Intervention | None = None) -> None:
        validate(self._run, "resume", inp)

    @workflow.signal(name="approve")
    async def approve_signal(self, inp: Intervention | None = None) -> None:
        await intervene(self._run, "approve", inp or Intervention())

    @workflow.update(name="approve")
    async def approve_update(self, inp: Intervention | None = None) -> InterventionAck:
        return await intervene(self._run, "approve", inp or Intervention())

    @approve_update.validator
    def _validate_approve(self, inp: Intervention | None = None) -> None:
        validate(self._run, "approve", inp)

    @workflow.signal(name="reject")
    async def reject_signal(self, inp: Intervention | None = None) -> None:
        await intervene(self._run, "reject", inp or Intervention())

    @workflow.update(name="reject")
    async def reject_update(self, inp: Intervention | None = None) -> InterventionAck:
        return await intervene(self._run, "reject", inp or Intervention())

    @reject_update.validator
    def _validate_reject(self, inp: Intervention | None = None) -> None:
        validate(self._run, "reject", inp)

    @workflow.signal(name="override")
    async def override_signal(self, inp: OverrideInput) -> None:
        await intervene(self._run, "override", inp)

    @workflow.update(name="override")
    async def override_update(self, inp: OverrideInput) -> InterventionAck:
        return await intervene(self._run, "override", inp)

    @override_update.validator
    def _validate_override(self, inp: OverrideInput) -> None:
        validate(self._run, "override", inp)

    @workflow.signal(name="guidance")
    async def guidance_signal(self, inp: GuidanceInput) -> None:
        await intervene(self._run, "guidance", inp)

    @workflow.update(name="guidance")
    async def guidance_update(self, inp: GuidanceInput) -> InterventionAck:
        return await intervene(self._run, "guidance", inp)

    @guidance_update.validator
    def _validate_guidance(self, inp: GuidanceInput) -> None:
        validate(self._run, "guidance", inp)

    @workflow.signal(name="parameters")
    async def parameters_signal(self, inp: ParametersInput) -> None:
        await intervene(self._run, "parameters", inp)

    @workflow.update(name="parameters")
    async def parameters_update(self, inp: ParametersInput) -> InterventionAck:
        return await intervene(self._run, "parameters", inp)

    @parameters_update.validator
    def _validate_parameters(self, inp: ParametersInput) -> None:
        validate(self._run, "parameters", inp)

    @workflow.signal(name="cancel")
    async def cancel_signal(self, inp: Intervention | None = None) -> None:
        """Names who cancels. The cancellation itself is Temporal's (`temporal workflow
        cancel`, or the API, which sends this signal and then cancels)."""
        await intervene(self._run, "cancel", inp or Intervention())
