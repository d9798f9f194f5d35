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
class ExecutorOptions(BaseModel):
    """Where the task's executor steps go and when a host counts as lost (the submitting
    process's settings, fixed for the task's life so that replays agree)."""

    task_queue: str = Field(default="agency-executors", min_length=1, max_length=200)
    # No heartbeat from a running step for this long: its host is lost.
    heartbeat_timeout_s: float = Field(default=15.0, ge=1.0, le=3600.0)
    # A step queued for a host that no one polls for this long: its host is gone.
    lost_after_s: float = Field(default=30.0, ge=1.0, le=3600.0)
    # How long the task waits for any executor with room.
    claim_timeout_s: float = Field(default=3600.0, ge=1.0)
    # Hosts lost by one task before it fails (each loss starts the run again elsewhere).
    max_host_losses: int = Field(default=3, ge=0, le=100)


class TaskInput(BaseModel):
    task_id: str = Field(max_length=64)
    spec: TaskSpec
    submitted_by: str = Field(default="anonymous", max_length=MAX_ACTOR)
    tenant: str = Field(default="default", max_length=100)
    approval_timeout_s: int = Field(default=24 * 3600, ge=1)
    executors: ExecutorOptions = Field(default_factory=ExecutorOptions)


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


class ExecutorClaim(BaseModel):
    """The executor host a run's steps go to: its own task queue and its name."""

    host_queue: str = Field(max_length=400)
    executor: str = Field(max_length=200)
    sandbox: str = Field(max_length=20)


class ExecutionSummary(BaseModel):
    """What the workflow keeps of one execution: bounded, no diff text."""

    host_queue: str
    executor: str
    # Which attempt of this iteration (a lost host means another attempt elsewhere).
    attempt: int = 1
    run_id: str
    state: str
    base_commit: str | None = None
    default_target: str | None = None
    # The staged tree the agent left: what the apply commits.
    tree: str | None = None
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
    # Hits per secret name or credential kind redacted from output and diff on the host.
    redactions: dict[str, int] = Field(default_factory=dict)


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
    # The commit base_ref named at validation (local repositories): every execution of
    # the task starts from it. None for remote repositories: the first host pins it.
    base_commit: str | None = None


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


class ClaimInput(BaseModel):
    task_id: str
    iteration: int
    attempt: int


class ExecuteInput(BaseModel):
    task_id: str
    iteration: int
    attempt: int = 1
    run_id: str
    spec: TaskSpec
    base_commit: str | None = None
    feedback: str = Field(default="", max_length=50_000)
    # A model-driven agent's drafted patch (an inference artifact id; the text stays out
    # of history).
    patch_artifact: str | None = Field(default=None, max_length=100)


class GatesInput(BaseModel):
    run_id: str
    attempt: int = 1
    spec: TaskSpec


class ControlInput(BaseModel):
    run_id: str
    action: Literal["suspend", "resume"]


class ApplyInput(BaseModel):
    """Everything an executor (any one: the run's host may be gone) needs to apply."""

    task_id: str
    repo: str
    base_commit: str = Field(pattern=r"^[0-9a-f]{40}$")
    tree: str = Field(pattern=r"^[0-9a-f]{40}$")
    diff_artifact: str = Field(max_length=100)
    target_branch: str | None = Field(default=None, max_length=255)
    message: str = Field(min_length=1, max_length=20_000)
    # The commit's author and committer date, from the workflow's clock: every attempt,
    # on any host, makes the same commit.
    at: datetime


class ApplyOutput(BaseModel):
    commit: str
    branch: str
    already_applied: bool = False
    executor: str


class DiscardInput(BaseModel):
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
