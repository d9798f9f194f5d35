"""Every activity's input and output, and its typed reference.

An `ActivityRef` is an activity as both sides know it: the name Temporal schedules it by
(which must never change: running tasks' histories name it), the type of its one
argument and the type of its result. The definition registers under the reference
(`activities.defn.implements`, which checks the method's signature against it when its
module loads) and the workflow calls through it (`workflows.calls.call`, which takes the
result type from it), so no activity name is spelt twice and a caller passing the wrong
input is a type error. One model per input; nothing large (diffs, prompts, full logs)
ever goes in them: those travel as artifact ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from council.models import Decision, Judgment, Stage
from council.spec import TaskSpec
from domain.audit import RecordInput
from domain.execution import ExecutionSummary, ExecutorClaim

InputT = TypeVar("InputT", bound=BaseModel)
OutputT = TypeVar("OutputT")


@dataclass(frozen=True)
class ActivityRef(Generic[InputT, OutputT]):
    """An activity's name (what Temporal sees), argument type and result type."""

    name: str
    input: type[InputT]
    output: type[OutputT]


# ------------------------------------------------------------ validation and judging
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


# --------------------------------------------------------------------- executor steps
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


# ------------------------------------------------------------------------ provenance
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


# ------------------------------------------------------------------------ references
# The workflow worker's (activities/__init__.py).
VALIDATE_TASK = ActivityRef("validate_task", ValidateInput, ValidationOutcome)
JUDGE = ActivityRef("judge", JudgeInput, JudgeOutput)
RECORD = ActivityRef("record", RecordInput, type(None))
# The same write as a local activity (workflows/recording.py). Its result is the record
# itself: a local activity's input is not in the history, its result is (the marker's
# payload), and provenance reads every record from the history (agency/provenance).
RECORD_ENTRY = ActivityRef("record_entry", RecordInput, RecordInput)
RECORD_PROVENANCE = ActivityRef("record_provenance", ProvenanceInput, ProvenanceOutput)
DRAFT_PATCH = ActivityRef("draft_patch", DraftInput, DraftOutput)
# Any executor's, on the shared executor queue.
CLAIM_EXECUTOR = ActivityRef("claim_executor", ClaimInput, ExecutorClaim)
APPLY_CHANGE = ActivityRef("apply_change", ApplyInput, ApplyOutput)
# One executor host's, on its own queue (where the run's worktree and processes are).
RUN_AGENT = ActivityRef("run_agent", ExecuteInput, ExecutionSummary)
RUN_GATES = ActivityRef("run_gates", GatesInput, ExecutionSummary)
CONTROL_AGENT = ActivityRef("control_agent", ControlInput, str)
DISCARD_RUN = ActivityRef("discard_run", DiscardInput, type(None))

REFERENCES: tuple[ActivityRef[Any, Any], ...] = (
    VALIDATE_TASK,
    JUDGE,
    RECORD,
    RECORD_ENTRY,
    RECORD_PROVENANCE,
    DRAFT_PATCH,
    CLAIM_EXECUTOR,
    APPLY_CHANGE,
    RUN_AGENT,
    RUN_GATES,
    CONTROL_AGENT,
    DISCARD_RUN,
)
