"""Typed inputs and outputs of the task workflow, its handlers and its activities.

One model per workflow/activity input (DESIGN.md §9.1). These travel through Temporal's
pydantic data converter; nothing large (diffs, full logs) ever goes in them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from council.models import ChangedFile, Decision, GateResult, Judgment, Stage
from council.spec import TaskSpec

Phase = Literal[
    "queued",
    "validating",
    "plan_review",
    "executing",
    "gating",
    "result_review",
    "awaiting_approval",
    "applying",
    "recording",
    "completed",
    "failed",
    "rejected",
    "canceled",
]
TERMINAL_PHASES: frozenset[str] = frozenset({"completed", "failed", "rejected", "canceled"})

# Actor recorded when a signal arrives without one: the `temporal` CLI sends no input.
DEFAULT_ACTOR = "temporal-cli"
MAX_ACTOR = 200
MAX_REASON = 4000


# ----------------------------------------------------------------- workflow input/output
class TaskInput(BaseModel):
    task_id: str = Field(max_length=64)
    spec: TaskSpec
    submitted_by: str = Field(default="anonymous", max_length=MAX_ACTOR)
    tenant: str = Field(default="default", max_length=100)
    approval_timeout_s: int = Field(default=24 * 3600, ge=1)


class TaskResult(BaseModel):
    task_id: str
    phase: Phase
    applied_commit: str | None = None
    error: str | None = None
    iterations: int = 0
    verdicts: list[Judgment] = Field(default_factory=list)


# ----------------------------------------------------------------------- interventions
class Intervention(BaseModel):
    """Payload of pause/resume/cancel/approve/reject. Optional: `temporal workflow signal`
    may send nothing, and then the actor is DEFAULT_ACTOR."""

    actor: str = Field(default=DEFAULT_ACTOR, max_length=MAX_ACTOR)
    reason: str = Field(default="", max_length=MAX_REASON)


class OverrideInput(Intervention):
    verdict: Literal["approve", "reject"]


class GuidanceInput(Intervention):
    text: str = Field(min_length=1, max_length=20_000)


class ParametersInput(Intervention):
    max_iterations: int | None = Field(default=None, ge=1, le=20)
    risk_tier: int | None = Field(default=None, ge=1, le=3)


class InterventionAck(BaseModel):
    accepted: bool
    detail: str


# --------------------------------------------------------------------------- the query
class Round(BaseModel):
    stage: Stage
    iteration: int
    judgments: list[Judgment]
    decision: Decision


class ExecutionSummary(BaseModel):
    """What the workflow keeps of one execution: bounded, no diff text."""

    executor_url: str
    run_id: str
    state: str
    base_commit: str | None = None
    exit_code: int | None = None
    timed_out: bool = False
    stdout_tail: str = Field(default="", max_length=4096)
    stderr_tail: str = Field(default="", max_length=4096)
    changed_files: list[ChangedFile] = Field(default_factory=list)
    lines_added: int = 0
    lines_removed: int = 0
    diff_artifact: str | None = None
    diff_sha256: str | None = None
    gates: list[GateResult] = Field(default_factory=list)
    error: str | None = None


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


# -------------------------------------------------------------------- activity inputs
class ValidateInput(BaseModel):
    task_id: str
    spec: TaskSpec
    # Whose waivers (in the database) the spec may name.
    tenant: str = "default"


class ValidationOutcome(BaseModel):
    problems: list[str] = Field(default_factory=list)
    # Snapshots taken at validation time so that judging is reproducible from history.
    policy: dict[str, Any] = Field(default_factory=dict)
    waivers: list[dict[str, Any]] = Field(default_factory=list)


class JudgeInput(BaseModel):
    task_id: str
    stage: Stage
    iteration: int
    spec: TaskSpec
    policy: dict[str, Any]
    waivers: list[dict[str, Any]]
    execution: ExecutionSummary | None = None
    # Evaluation time for waiver expiry; taken from workflow.now() for determinism.
    now: datetime
    can_refine: bool = True


class JudgeOutput(BaseModel):
    judgments: list[Judgment]
    decision: Decision


class ChooseExecutorInput(BaseModel):
    task_id: str


class ExecuteInput(BaseModel):
    task_id: str
    iteration: int
    run_id: str
    executor_url: str
    spec: TaskSpec
    base_commit: str | None = None
    feedback: str = Field(default="", max_length=50_000)
    # A model-driven agent's drafted patch (an inference artifact id; the text stays out
    # of history).
    patch_artifact: str | None = Field(default=None, max_length=100)


class GatesInput(BaseModel):
    executor_url: str
    run_id: str
    spec: TaskSpec


class ControlInput(BaseModel):
    executor_url: str
    run_id: str
    action: Literal["suspend", "resume", "cancel"]


class ApplyInput(BaseModel):
    executor_url: str
    run_id: str
    task_id: str
    target_branch: str | None = None
    message: str


class DiscardInput(BaseModel):
    executor_url: str
    run_id: str


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


class ProvenanceInput(BaseModel):
    """Sign the task's record. Its trail is every record with seq <= last_seq; a signal
    refused after the end may add later entries, which the record does not cover."""

    task_id: str
    last_seq: int = Field(ge=0)


class ProvenanceOutput(BaseModel):
    kid: str
    record_sha256: str
    commit: str


# ------------------------------------------------------------------------- inference
class GenerateInput(BaseModel):
    """A generation whose prompt (a JSON list of {role, content}) is an artifact."""

    prompt_artifact: str = Field(max_length=100)
    model: str | None = Field(default=None, max_length=200)
    max_tokens: int | None = Field(default=None, ge=1, le=8192)


class GenerateOutput(BaseModel):
    output_artifact: str
    model: str
    finish_reason: str
    prompt_tokens: int
    generation_tokens: int
    ttft_s: float
    generation_tps: float


class DraftInput(BaseModel):
    """A model-driven agent's turn: draft a patch for the spec's scope."""

    task_id: str
    iteration: int
    spec: TaskSpec
    base_commit: str | None = None
    feedback: str = Field(default="", max_length=50_000)


class DraftOutput(BaseModel):
    model: str
    prompt_artifact: str
    output_artifact: str
    patch_artifact: str
    # Whether the reply contained something that looks like a diff (git apply decides).
    found_diff: bool
    finish_reason: str
    prompt_tokens: int
    generation_tokens: int
