"""One recorded transition of a task: its event, its audit entry and the update of its
projection (the row the API reads), written once by the `record` activity and signed
later, as part of the trail, by the provenance record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from council.models import Decision, Judgment, Stage
from domain.execution import ExecutionSummary
from domain.interventions import MAX_ACTOR
from domain.phases import Phase
from domain.task import Round


class ProjectionPatch(BaseModel):
    """Fields of the task projection that change with a record; None means unchanged."""

    phase: Phase | None = None
    iteration: int | None = None
    paused: bool | None = None
    pending_action: str | None = None
    clear_pending_action: bool = False
    verdicts: list[Judgment] | None = None
    applied_commit: str | None = None
    error: str | None = None
    workflow_run_id: str | None = None
    risk_tier: int | None = None
    max_iterations: int | None = None
    changed_files: int | None = None
    lines_added: int | None = None
    lines_removed: int | None = None
    # What the workflow's live state holds beyond the fields above, so that the projection
    # answers a read on its own (api.routes.tasks.get_task): the council's latest decision
    # (a human override's replacement included), the last execution, and the rounds
    # judged since the previous record, appended to those stored.
    decision: Decision | None = None
    execution: ExecutionSummary | None = None
    new_rounds: list[Round] = Field(default_factory=list)


class RecordInput(BaseModel):
    """One transition: a task event, an audit entry and a projection update, written once.

    `seq` is assigned by the workflow (monotonic per task), which makes the write
    idempotent under activity retries: a (task_id, seq) pair is stored at most once.
    """

    task_id: str
    seq: int = Field(ge=1)
    at: datetime
    kind: str = Field(max_length=50)
    phase: Phase
    actor: str = Field(max_length=MAX_ACTOR)
    action: str = Field(max_length=100)
    verdict: str | None = Field(default=None, max_length=50)
    approval_status: str | None = Field(default=None, max_length=50)
    detail: dict[str, Any] = Field(default_factory=dict)
    projection: ProjectionPatch = Field(default_factory=ProjectionPatch)
    judgments: list[Judgment] = Field(default_factory=list)
    stage: Stage | None = None
    iteration: int = 0
