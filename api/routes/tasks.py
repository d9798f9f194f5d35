"""Submitting, listing and reading tasks."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from agency.db import records, task_pages, task_reads
from agency.db.reads import Reader
from agency.settings import Settings
from agency.task_start import start_task_workflow
from agency.temporal_client import workflow_id_for
from api import idempotency
from api.deps import OperatorDep, SessionDep, StateDep, ViewerDep
from api.outages import TEMPORAL, TemporalUnavailableError, is_temporal_unavailable
from api.problems import FieldProblem, Problem, invalid, not_found, unavailable
from api.query_models import query_model, query_parameters
from api.schemas import AuditList, AuditPublic, TaskList, TaskPublic, Timestamp
from api.submission import parse_submission
from api.task_json import json_response, public_from_row
from api.task_views import live_state, with_live_state
from api.temporal_gateway import describe
from council.models import Judgment
from council.spec import ExecutionMode, Mode, TaskSpec
from domain.execution import ExecutorOptions
from domain.phases import TERMINAL_PHASES, Phase
from domain.task import TaskInput

log = logging.getLogger("agency.api")

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such task (or not in the key's tenant)"},
    422: {"model": Problem, "description": "Invalid request; every problem listed"},
    503: {"model": Problem, "description": "Temporal or the database is unavailable"},
}
SUBMIT_ERRORS: dict[int | str, dict[str, Any]] = {
    409: {
        "model": Problem,
        "description": "A request with the same Idempotency-Key is still in progress",
    },
    422: {
        "model": Problem,
        "description": "Invalid task spec (every problem listed), or an Idempotency-Key "
        "already used with a different body",
    },
    503: ERRORS[503],
}
UUID = {"format": "uuid"}
# The body's schema: TaskSpec's with the submission rules (api.submission_schema).
TASK_SPEC_REF = "#/components/schemas/TaskSpec"
# Task ids are UUIDs: any other id names no task (404); the bound keeps anything longer
# away from the database (422).
TaskId = Annotated[
    str, Path(min_length=1, max_length=64, description="a task id", json_schema_extra=UUID)
]


@router.post(
    "",
    status_code=201,
    response_model=TaskPublic,
    responses=SUBMIT_ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": TASK_SPEC_REF}}},
        }
    },
)
async def submit_task(
    state: StateDep,
    session: SessionDep,
    principal: OperatorDep,
    body: Annotated[Any, Body()],
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=idempotency.MAX_KEY_LENGTH,
            pattern=idempotency.KEY_PATTERN,
            description="Makes the submission safe to retry: the same key and body answer "
            "the same task; the same key with another body is refused (422); a repeat "
            "while the first is still being created gets 409.",
        ),
    ] = None,
) -> TaskPublic:
    """Submit a task. The spec is validated in full (every problem listed) before anything
    is written; the task starts running as soon as it is created."""
    # Reading the repository's governance files runs git: off the event loop.
    spec = await asyncio.to_thread(parse_submission, body, state.settings)
    try:
        client = await state.temporal.client()
    except TemporalUnavailableError as err:
        # Before anything is written: no row without a workflow.
        raise unavailable(str(err), TEMPORAL) from err
    if idempotency_key is None:
        return await _create(state, session, principal, client, spec, None, None)
    task_id = idempotency.task_id_for(principal.tenant, idempotency_key)
    digest = idempotency.request_digest(body)
    # Twice at most: a second round only follows the removal of a dead request's row.
    for _ in range(2):
        try:
            created = await _create(state, session, principal, client, spec, task_id, digest)
        except (IntegrityError, WorkflowAlreadyStartedError):
            outcome = await idempotency.resolve_duplicate(
                session,
                state.reader,
                client,
                task_id=task_id,
                tenant=principal.tenant,
                digest=digest,
                spec=spec.model_dump(mode="json", by_alias=True),
            )
            if isinstance(outcome, idempotency.Retry):
                continue
            return public_from_row(outcome.row)
        return created
    raise idempotency.in_flight()


async def _create(
    state: StateDep,
    session: SessionDep,
    principal: OperatorDep,
    client: Client,
    spec: TaskSpec,
    task_id: str | None,
    digest: str | None,
) -> TaskPublic:
    """Insert the task row, then start its workflow; a failed start removes the row.
    A taken task id raises IntegrityError (row) or WorkflowAlreadyStartedError (workflow).
    Answers the task as stored, with the run the start made."""
    task_id = task_id or str(uuid.uuid4())
    workflow_id = workflow_id_for(task_id)
    await records.insert_spec_task(
        session,
        spec,
        task_id=task_id,
        workflow_id=workflow_id,
        submitted_by=principal.actor,
        tenant=principal.tenant,
    )
    # The row as inserted (queued), read before the workflow can move it on.
    row = await task_reads.read_task(state.reader, task_id)
    if row is None:  # a concurrent dead-request cleanup removed it: not ours to answer
        raise records.UnknownTaskError(task_id)
    try:
        handle = await asyncio.wait_for(
            start_task_workflow(
                client,
                TaskInput(
                    task_id=task_id,
                    spec=spec,
                    submitted_by=principal.actor,
                    tenant=principal.tenant,
                    approval_timeout_s=state.settings.approval_timeout_s,
                    executors=_executor_options(state.settings),
                ),
                task_queue=state.settings.task_queue,
                api_url=state.settings.api_url,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                memo=idempotency.memo_for(digest),
            ),
            timeout=idempotency.START_TIMEOUT_S,
        )
    except WorkflowAlreadyStartedError:
        # Only an Idempotency-Key repeat can name a started workflow; the caller resolves
        # it. The row stays when the workflow is the same request's (same digest).
        if digest is None:
            await records.delete_unstarted_task(session, task_id)
        raise
    except Exception as err:
        # No workflow, no task: remove the row so nothing half-written remains.
        await records.delete_unstarted_task(session, task_id)
        down = (TEMPORAL,) if is_temporal_unavailable(err) else ()
        raise unavailable(f"could not start the task workflow: {describe(err)}", *down) from err
    # The projection learns the run id from the workflow's first record; say it now.
    run_id = handle.first_execution_run_id or handle.result_run_id
    return public_from_row(row).model_copy(update={"workflow_run_id": run_id})


class TaskFilters(BaseModel):
    """The list's query parameters (validated by api.query_models, in one call)."""

    phase: Phase | None = None
    mode: Mode | None = None
    execution_mode: ExecutionMode | None = None
    risk_tier: int | None = Field(default=None, ge=1, le=3)
    q: str | None = Field(
        default=None, max_length=200, description="text in the title, CAWS id or task id"
    )
    created_after: Timestamp | None = Field(
        default=None, description="created at or after (inclusive)"
    )
    created_before: Timestamp | None = Field(default=None, description="created before")
    limit: int = Field(default=50, ge=1, le=200, description="page size (at most 200)")
    cursor: str | None = Field(
        default=None,
        max_length=100,
        pattern=task_pages.CURSOR_PATTERN,
        description="next_cursor of the previous page",
    )


@router.get(
    "",
    response_model=TaskList,
    responses={k: v for k, v in ERRORS.items() if k != 404},
    openapi_extra={"parameters": query_parameters(TaskFilters)},
)
async def list_tasks(
    state: StateDep,
    principal: ViewerDep,
    filters: Annotated[TaskFilters, Depends(query_model(TaskFilters))],
) -> Response:
    """The tenant's tasks, newest first, one page at a time (keyset paging on the
    projection's indexes: pages stay consistent while tasks are added)."""
    try:
        rows, next_cursor = await task_pages.list_tasks(
            state.reader,
            tenant=principal.tenant,
            phase=filters.phase,
            mode=filters.mode,
            execution_mode=filters.execution_mode,
            risk_tier=filters.risk_tier,
            text=filters.q,
            created_after=filters.created_after,
            created_before=filters.created_before,
            limit=filters.limit,
            cursor=filters.cursor,
        )
    except ValueError as err:
        raise invalid([FieldProblem(path="cursor", message=str(err))]) from err
    return json_response(state.task_json.page(rows, next_cursor))


async def _row(reader: Reader, principal: ViewerDep, task_id: str) -> Any:
    row = await task_reads.read_task(reader, task_id, tenant=principal.tenant)
    if row is None:
        raise not_found(f"task {task_id}")
    return row


@router.get("/{task_id}", response_model=TaskPublic, responses=ERRORS)
async def get_task(state: StateDep, principal: ViewerDep, task_id: TaskId) -> Response:
    """The task's projection: every transition the workflow makes is recorded there
    before it is acknowledged (an intervention's 202 included), so the projection is the
    whole answer. A task stored before the projection held its rounds, decision and
    execution is, while it runs, merged with the workflow's live state (`live`); the
    projection alone while Temporal is unavailable (`live_unavailable` says why)."""
    row = await _row(state.reader, principal, task_id)
    if row.phase in TERMINAL_PHASES or task_reads.projection_complete(row):
        # Temporal need not be asked: a read costs one database round trip.
        return json_response(state.task_json.task(row))
    live = await live_state(state.temporal, row)
    public = public_from_row(row)
    if isinstance(live, str):
        public = public.model_copy(update={"live_unavailable": live})
    elif live is not None:
        public = with_live_state(public, live)
    return json_response(public.model_dump_json(by_alias=True).encode())


@router.get("/{task_id}/audit", response_model=AuditList, responses=ERRORS)
async def task_audit(state: StateDep, principal: ViewerDep, task_id: TaskId) -> AuditList:
    """The task's audit trail: who did what, when, with which verdict (append-only)."""
    await _row(state.reader, principal, task_id)
    entries = await task_reads.list_audit(state.reader, task_id)
    judgments: dict[int, list[Judgment]] = {}
    for v in await task_reads.list_verdicts(state.reader, task_id):
        judgments.setdefault(v.seq, []).append(task_reads.judgment_of(v))
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
                judgments=judgments.get(a.seq, []),
            )
            for a in entries
        ]
    )


def _executor_options(settings: Settings) -> ExecutorOptions:
    """The executor settings a task keeps for its life (its workflow's input)."""
    return ExecutorOptions(
        task_queue=settings.executor_task_queue,
        heartbeat_timeout_s=settings.executor_heartbeat_timeout_s,
        lost_after_s=settings.executor_lost_after_s,
        claim_timeout_s=settings.executor_claim_timeout_s,
    )
