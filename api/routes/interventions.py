"""Human interventions: each is a workflow update whose validator answers 409 when it does
not apply; cancel is a signal naming the actor followed by Temporal cancellation."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from fastapi import APIRouter
from temporalio.client import RPCTimeoutOrCancelledError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from agency.db import task_reads
from api.deps import OperatorDep, StateDep
from api.outages import TEMPORAL, TemporalUnavailableError, is_temporal_unavailable
from api.problems import Problem, ProblemError, conflict, not_found, unavailable
from api.routes.tasks import TaskId
from api.schemas import Accepted, GuidanceBody, OverrideBody, ParametersBody, ReasonBody
from domain.interventions import (
    GuidanceInput,
    Intervention,
    InterventionAck,
    OverrideInput,
    ParametersInput,
)
from domain.phases import TERMINAL_PHASES

log = logging.getLogger("agency.api")

router = APIRouter(prefix="/api/v1/tasks", tags=["interventions"])

RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such task (or not in the key's tenant)"},
    409: {"model": Problem, "description": "The intervention does not apply now; detail says why"},
    422: {"model": Problem, "description": "Invalid body"},
    503: {
        "model": Problem,
        "description": "Temporal, the task's workflow worker or the database is unavailable",
    },
}
UPDATE_TIMEOUT_S = 30.0
# Signals and cancellation are accepted by Temporal itself, no worker involved.
SIGNAL_TIMEOUT_S = 5.0


async def _handle(state: StateDep, principal: OperatorDep, task_id: TaskId):
    row = await task_reads.read_task(state.reader, task_id, tenant=principal.tenant)
    if row is None:
        raise not_found(f"task {task_id}")
    if row.phase in TERMINAL_PHASES:
        raise conflict(f"the task is {row.phase}")
    try:
        client = await state.temporal.client()
    except TemporalUnavailableError as err:
        raise unavailable(str(err), TEMPORAL) from err
    return client.get_workflow_handle(row.workflow_id)


def _rpc_problem(err: RPCError) -> ProblemError:
    if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
        return conflict("the task's workflow is no longer running")
    down = (TEMPORAL,) if is_temporal_unavailable(err) else ()
    return unavailable(f"Temporal error: {err.status.name}", *down)


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
        raise _rpc_problem(err) from err
    except (TimeoutError, RPCTimeoutOrCancelledError) as err:
        # Temporal holds an update until a worker runs the workflow: none did in time.
        # (The SDK reports its own wait cut short as RPCTimeoutOrCancelledError.)
        raise unavailable("the task's workflow did not answer in time", TEMPORAL) from err
    if not ack.accepted:
        raise conflict(ack.detail)
    return Accepted(accepted=True, detail=ack.detail)


def _simple(name: str) -> Any:
    async def route(
        state: StateDep,
        principal: OperatorDep,
        task_id: TaskId,
        body: ReasonBody | None = None,
    ) -> Accepted:
        handle = await _handle(state, principal, task_id)
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
    principal: OperatorDep,
    task_id: TaskId,
    body: ReasonBody | None = None,
) -> Accepted:
    """Cancel: the executor kills the agent's process group, the worktree is discarded and
    the audit log ends with CANCELED by the caller."""
    handle = await _handle(state, principal, task_id)
    reason = body.reason if body else ""
    rpc_timeout = timedelta(seconds=SIGNAL_TIMEOUT_S)
    try:
        async with asyncio.timeout(2 * SIGNAL_TIMEOUT_S + 1):
            await handle.signal(
                "cancel",
                Intervention(actor=principal.actor, reason=reason),
                rpc_timeout=rpc_timeout,
            )
            await handle.cancel(rpc_timeout=rpc_timeout)
    except RPCError as err:
        raise _rpc_problem(err) from err
    except TimeoutError as err:
        raise unavailable("Temporal did not answer in time", TEMPORAL) from err
    return Accepted(accepted=True, detail="cancel requested")


@router.post("/{task_id}/override", status_code=202, response_model=Accepted, responses=RESPONSES)
async def override_task(
    state: StateDep,
    principal: OperatorDep,
    task_id: TaskId,
    body: OverrideBody,
) -> Accepted:
    """Replace the council's verdict (at its next decision, or now if a human is awaited)."""
    handle = await _handle(state, principal, task_id)
    payload = OverrideInput(actor=principal.actor, reason=body.reason, verdict=body.verdict)
    return await _update(handle, "override", payload)


@router.post("/{task_id}/guidance", status_code=202, response_model=Accepted, responses=RESPONSES)
async def guide_task(
    state: StateDep,
    principal: OperatorDep,
    task_id: TaskId,
    body: GuidanceBody,
) -> Accepted:
    """Free text handed to the agent's next iteration."""
    handle = await _handle(state, principal, task_id)
    return await _update(handle, "guidance", GuidanceInput(actor=principal.actor, text=body.text))


@router.post("/{task_id}/parameters", status_code=202, response_model=Accepted, responses=RESPONSES)
async def set_parameters(
    state: StateDep,
    principal: OperatorDep,
    task_id: TaskId,
    body: ParametersBody,
) -> Accepted:
    """Change max_iterations, or make the risk tier more critical (never less)."""
    handle = await _handle(state, principal, task_id)
    payload = ParametersInput(
        actor=principal.actor, max_iterations=body.max_iterations, risk_tier=body.risk_tier
    )
    return await _update(handle, "parameters", payload)
