"""Human interventions: each is a workflow update whose validator answers 409 when it does
not apply; cancel is a signal naming the actor followed by Temporal cancellation."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from agency.db import records
from api.deps import OperatorDep, SessionDep, StateDep
from api.problems import Problem, conflict, not_found, unavailable
from api.routes.tasks import TaskId
from api.schemas import Accepted, GuidanceBody, OverrideBody, ParametersBody, ReasonBody
from workflows.models import (
    TERMINAL_PHASES,
    GuidanceInput,
    Intervention,
    InterventionAck,
    OverrideInput,
    ParametersInput,
)

log = logging.getLogger("agency.api")

router = APIRouter(prefix="/api/v1/tasks", tags=["interventions"])

RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such task (or not in the key's tenant)"},
    409: {"model": Problem, "description": "The intervention does not apply now; detail says why"},
    422: {"model": Problem, "description": "Invalid body"},
    503: {"model": Problem, "description": "Temporal is unavailable"},
}
UPDATE_TIMEOUT_S = 30.0


async def _handle(state: StateDep, session: SessionDep, principal: OperatorDep, task_id: TaskId):
    row = await records.get_task(session, task_id, tenant=principal.tenant)
    if row is None:
        raise not_found(f"task {task_id}")
    if row.phase in TERMINAL_PHASES:
        raise conflict(f"the task is {row.phase}")
    try:
        client = await state.temporal.client()
    except Exception as err:
        raise unavailable(f"Temporal is unreachable: {type(err).__name__}") from err
    return client.get_workflow_handle(row.workflow_id)


async def _update(handle: Any, name: str, payload: Intervention) -> Accepted:
    try:
        ack = await asyncio.wait_for(
            handle.execute_update(name, payload, result_type=InterventionAck),
            timeout=UPDATE_TIMEOUT_S,
        )
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError):
            raise conflict(cause.message) from err
        raise conflict(str(cause or err)) from err
    except RPCError as err:
        if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise conflict("the task's workflow is no longer running") from err
        raise unavailable(f"Temporal error: {err.status.name}") from err
    except TimeoutError as err:
        raise unavailable("the task's workflow did not answer in time") from err
    if not ack.accepted:
        raise conflict(ack.detail)
    return Accepted(accepted=True, detail=ack.detail)


def _simple(name: str) -> Any:
    async def route(
        state: StateDep,
        session: SessionDep,
        principal: OperatorDep,
        task_id: TaskId,
        body: ReasonBody | None = None,
    ) -> Accepted:
        handle = await _handle(state, session, principal, task_id)
        reason = body.reason if body else ""
        return await _update(handle, name, Intervention(actor=principal.actor, reason=reason))

    route.__name__ = f"{name}_task"
    route.__doc__ = f"{name.capitalize()} the task (audited with the caller as actor)."
    return route


for _name in ("pause", "resume", "approve", "reject"):
    router.add_api_route(
        f"/{{task_id}}/{_name}",
        _simple(_name),
        methods=["POST"],
        status_code=202,
        response_model=Accepted,
        responses=RESPONSES,
    )


@router.post("/{task_id}/cancel", status_code=202, response_model=Accepted, responses=RESPONSES)
async def cancel_task(
    state: StateDep,
    session: SessionDep,
    principal: OperatorDep,
    task_id: TaskId,
    body: ReasonBody | None = None,
) -> Accepted:
    """Cancel: the executor kills the agent's process group, the worktree is discarded and
    the audit log ends with CANCELED by the caller."""
    handle = await _handle(state, session, principal, task_id)
    reason = body.reason if body else ""
    try:
        await handle.signal("cancel", Intervention(actor=principal.actor, reason=reason))
        await handle.cancel()
    except RPCError as err:
        if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise conflict("the task's workflow is no longer running") from err
        raise unavailable(f"Temporal error: {err.status.name}") from err
    return Accepted(accepted=True, detail="cancel requested")


@router.post("/{task_id}/override", status_code=202, response_model=Accepted, responses=RESPONSES)
async def override_task(
    state: StateDep,
    session: SessionDep,
    principal: OperatorDep,
    task_id: TaskId,
    body: OverrideBody,
) -> Accepted:
    """Replace the council's verdict (at its next decision, or now if a human is awaited)."""
    handle = await _handle(state, session, principal, task_id)
    payload = OverrideInput(actor=principal.actor, reason=body.reason, verdict=body.verdict)
    return await _update(handle, "override", payload)


@router.post("/{task_id}/guidance", status_code=202, response_model=Accepted, responses=RESPONSES)
async def guide_task(
    state: StateDep,
    session: SessionDep,
    principal: OperatorDep,
    task_id: TaskId,
    body: GuidanceBody,
) -> Accepted:
    """Free text handed to the agent's next iteration."""
    handle = await _handle(state, session, principal, task_id)
    return await _update(handle, "guidance", GuidanceInput(actor=principal.actor, text=body.text))


@router.post("/{task_id}/parameters", status_code=202, response_model=Accepted, responses=RESPONSES)
async def set_parameters(
    state: StateDep,
    session: SessionDep,
    principal: OperatorDep,
    task_id: TaskId,
    body: ParametersBody,
) -> Accepted:
    """Change max_iterations, or make the risk tier more critical (never less)."""
    handle = await _handle(state, session, principal, task_id)
    payload = ParametersInput(
        actor=principal.actor, max_iterations=body.max_iterations, risk_tier=body.risk_tier
    )
    return await _update(handle, "parameters", payload)
