"""A task's provenance (verified on every request) and its determinism replay."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from sqlalchemy import Row
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from agency.db import task_reads
from agency.provenance.config import keystore_for, provenance_repo_for
from agency.provenance.replay import check_determinism
from agency.provenance.verify import Verifier
from api.deps import StateDep, ViewerDep
from api.outages import TEMPORAL, is_temporal_unavailable
from api.problems import Problem, not_found, unavailable
from api.provenance_schemas import CheckPublic, ProvenancePublic, ReplayPublic
from api.routes.tasks import TaskId

router = APIRouter(prefix="/api/v1/tasks", tags=["provenance"])

RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such task (or its history is gone)"},
    503: {"model": Problem, "description": "Temporal is unavailable"},
}
HISTORY_TIMEOUT_S = 30.0


async def _task(state: StateDep, principal: ViewerDep, task_id: str) -> Row[Any]:
    row = await task_reads.read_task(state.reader, task_id, tenant=principal.tenant)
    if row is None:
        raise not_found(f"task {task_id}")
    return row


async def _client(state: StateDep) -> Client | None:
    try:
        return await state.temporal.client()
    except Exception:  # verification reports the history check as failed instead
        return None


@router.get("/{task_id}/provenance", response_model=ProvenancePublic, responses=RESPONSES)
async def task_provenance(
    state: StateDep, principal: ViewerDep, task_id: TaskId
) -> ProvenancePublic:
    """Verify the task's signed record: signature, key, database, Temporal history, git.
    Answers 200 whatever the outcome; `verified` is true only when no check failed."""
    task = await _task(state, principal, task_id)
    verifier = Verifier(keystore_for(state.settings), provenance_repo_for(state.settings))
    report = await verifier.verify(state.reader, task, await _client(state))
    return ProvenancePublic(
        task_id=task.id,
        verified=report.verified,
        pending=report.pending,
        checks=[CheckPublic(name=c.name, status=c.status, detail=c.detail) for c in report.checks],
        kid=report.kid,
        commit=report.commit,
        path=report.path,
        record_sha256=report.record_sha256,
        jws=report.jws,
        record=report.record,
    )


@router.get("/{task_id}/replay", response_model=ReplayPublic, responses=RESPONSES)
async def task_replay(state: StateDep, principal: ViewerDep, task_id: TaskId) -> ReplayPublic:
    """Replay the task's Temporal history against this server's workflow code."""
    task = await _task(state, principal, task_id)
    if not state.workflows:
        raise unavailable("this API process was started without the workflow code to replay")
    client = await _client(state)
    if client is None:
        raise unavailable("Temporal is unreachable", TEMPORAL)
    handle = client.get_workflow_handle(task.workflow_id, run_id=task.workflow_run_id)
    try:
        history = await asyncio.wait_for(handle.fetch_history(), HISTORY_TIMEOUT_S)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise not_found(f"the history of task {task_id}") from err
        down = (TEMPORAL,) if is_temporal_unavailable(err) else ()
        raise unavailable(f"Temporal: {err.message}", *down) from err
    except TimeoutError as err:
        raise unavailable("Temporal did not send the history in time", TEMPORAL) from err
    # The client's converter decrypts the history when the payload codec is on.
    report = await check_determinism(history, state.workflows, data_converter=client.data_converter)
    return ReplayPublic(
        task_id=task.id,
        workflow_id=report.workflow_id,
        run_id=report.run_id,
        events=report.events,
        deterministic=report.deterministic,
        divergence=report.divergence,
    )
