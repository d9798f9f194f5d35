"""Submitting, listing and reading tasks."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from agency.db import records
from agency.temporal_client import workflow_id_for
from api.deps import PrincipalDep, SessionDep, StateDep
from api.problems import FieldProblem, Problem, invalid, not_found, unavailable
from api.schemas import AuditList, AuditPublic, EventList, TaskEventPublic, TaskList, TaskPublic
from api.submission import parse_submission
from api.task_views import live_state, task_public
from council.spec import TaskSpec
from workflows.models import TaskInput
from workflows.task import WORKFLOW_NAME

log = logging.getLogger("agency.api")

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such task"},
    422: {"model": Problem, "description": "Invalid request; every problem listed"},
    503: {"model": Problem, "description": "Temporal or the database is unavailable"},
}
MAX_BODY_BYTES = 1_000_000


@router.post(
    "",
    status_code=201,
    response_model=TaskPublic,
    responses=ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": TaskSpec.model_json_schema()}},
        }
    },
)
async def submit_task(
    state: StateDep,
    session: SessionDep,
    principal: PrincipalDep,
    body: Annotated[Any, Body()],
) -> TaskPublic:
    spec = parse_submission(body)
    try:
        client = await state.temporal.client()
    except Exception as err:
        raise unavailable(f"Temporal is unreachable: {type(err).__name__}") from err
    task_id = str(uuid.uuid4())
    workflow_id = workflow_id_for(task_id)
    row = await records.insert_task(
        session,
        task_id=task_id,
        caws_id=spec.id,
        title=spec.title,
        risk_tier=spec.risk_tier,
        mode=spec.mode,
        execution_mode=spec.execution_mode,
        max_iterations=spec.max_iterations,
        workflow_id=workflow_id,
        spec=spec.model_dump(mode="json", by_alias=True),
        submitted_by=principal.actor,
        tenant=principal.tenant,
    )
    try:
        handle = await client.start_workflow(
            WORKFLOW_NAME,
            TaskInput(
                task_id=task_id,
                spec=spec,
                submitted_by=principal.actor,
                tenant=principal.tenant,
                approval_timeout_s=state.settings.approval_timeout_s,
            ),
            id=workflow_id,
            task_queue=state.settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    except Exception as err:
        # No workflow, no task: remove the row so nothing half-written remains.
        await records.delete_unstarted_task(session, task_id)
        raise unavailable(f"could not start the task workflow: {type(err).__name__}") from err
    row.workflow_run_id = handle.first_execution_run_id or handle.result_run_id
    return task_public(row)


@router.get("", response_model=TaskList, responses=ERRORS)
async def list_tasks(
    session: SessionDep,
    principal: PrincipalDep,
    phase: Annotated[str | None, Query(max_length=30)] = None,
    mode: Annotated[str | None, Query(max_length=20)] = None,
    execution_mode: Annotated[str | None, Query(max_length=20)] = None,
    risk_tier: Annotated[int | None, Query(ge=1, le=3)] = None,
    q: Annotated[str | None, Query(max_length=200, description="text in the title")] = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> TaskList:
    try:
        rows, next_cursor = await records.list_tasks(
            session,
            tenant=principal.tenant,
            phase=phase,
            mode=mode,
            execution_mode=execution_mode,
            risk_tier=risk_tier,
            text=q,
            created_after=created_after,
            created_before=created_before,
            limit=limit,
            cursor=cursor,
        )
    except ValueError as err:
        raise invalid([FieldProblem(path="cursor", message=str(err))]) from err
    return TaskList(items=[task_public(r) for r in rows], next_cursor=next_cursor)


async def _row(session: SessionDep, principal: PrincipalDep, task_id: str) -> Any:
    row = await records.get_task(session, task_id, tenant=principal.tenant)
    if row is None:
        raise not_found(f"task {task_id}")
    return row


@router.get("/{task_id}", response_model=TaskPublic, responses=ERRORS)
async def get_task(
    state: StateDep, session: SessionDep, principal: PrincipalDep, task_id: str
) -> TaskPublic:
    row = await _row(session, principal, task_id)
    try:
        client = await state.temporal.client()
    except Exception:
        client = None
    return task_public(row, await live_state(client, row))


@router.get("/{task_id}/events", response_model=EventList, responses=ERRORS)
async def task_events(
    session: SessionDep,
    principal: PrincipalDep,
    task_id: str,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> EventList:
    await _row(session, principal, task_id)
    events = await records.list_events(session, task_id, after_seq=after, limit=limit)
    return EventList(
        items=[
            TaskEventPublic(
                seq=e.seq,
                at=e.at,
                kind=e.kind,
                phase=e.phase,
                actor=e.actor,
                action=e.action,
                data=e.data,
            )
            for e in events
        ]
    )


@router.get("/{task_id}/audit", response_model=AuditList, responses=ERRORS)
async def task_audit(session: SessionDep, principal: PrincipalDep, task_id: str) -> AuditList:
    await _row(session, principal, task_id)
    entries = await records.list_audit(session, task_id)
    return AuditList(
        items=[
            AuditPublic(
                seq=a.seq,
                at=a.at,
                actor=a.actor,
                action=a.action,
                phase=a.phase,
                verdict=a.verdict,
                approval_status=a.approval_status,
                detail=a.detail,
            )
            for a in entries
        ]
    )
