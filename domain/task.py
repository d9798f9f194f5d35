"""The task workflow as its callers see it: its name, its input and result, and the
state its `state` query answers. These travel through Temporal's pydantic data
converter; nothing large (diffs, full logs) ever goes in them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from council.models import Decision, Judgment, Stage
from council.spec import TaskSpec
from domain.execution import ExecutionSummary, ExecutorOptions
from domain.interventions import MAX_ACTOR, MAX_HOLDING_INTERVENTIONS, OverrideInput
from domain.phases import Phase

# The workflow type Temporal knows the task workflow by (clients start it by this name).
WORKFLOW_NAME = "AgencyTask"


class TaskInput(BaseModel):
    task_id: str = Field(max_length=64)
    spec: TaskSpec
    submitted_by: str = Field(default="anonymous", max_length=MAX_ACTOR)
    tenant: str = Field(default="default", max_length=100)
    approval_timeout_s: int = Field(default=24 * 3600, ge=1)
    executors: ExecutorOptions = Field(default_factory=ExecutorOptions)
    # The bound on interventions that hold the task (domain/interventions.py); in the
    # input so that a test can reach it without 500 interventions.
    max_holding_interventions: int = Field(default=MAX_HOLDING_INTERVENTIONS, ge=1)


class TaskResult(BaseModel):
    task_id: str
    phase: Phase
    applied_commit: str | None = None
    error: str | None = None
    iterations: int = 0
    verdicts: list[Judgment] = Field(default_factory=list)


class Round(BaseModel):
    """One decision of the council: a plan review or the review of an iteration's result."""

    stage: Stage
    iteration: int
    judgments: list[Judgment]
    decision: Decision


class TaskState(BaseModel):
    task_id: str
    caws_id: str
    phase: Phase
    execution_mode: str
    risk_tier: int
    iteration: int
    max_iterations: int
    paused: bool
    pending_action: str | None = None
    verdicts: list[Judgment] = Field(default_factory=list)
    decision: Decision | None = None
    rounds: list[Round] = Field(default_factory=list)
    execution: ExecutionSummary | None = None
    override: OverrideInput | None = None
    applied_commit: str | None = None
    last_error: str | None = None
    guidance_pending: int = 0
