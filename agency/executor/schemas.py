"""What the executor is asked to do and what it reports: the contract between its
activities (activities/executor.py) and the run registry on the host (host.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from council.models import ChangedFile, GateResult

# Run ids name directories and files on the host, so they are restricted to characters
# that are safe in paths.
RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$"

RunState = Literal[
    "preparing",  # making the worktree
    "running",  # agent process alive
    "suspended",  # agent or gate process group stopped (SIGSTOP)
    "gating",  # gates running
    "finished",  # agent (and gates, if asked) done; see exit codes
    "failed",  # the executor could not do its job (bad repo, bad ref, ...); see error
    "canceled",  # killed on request
]
TERMINAL_STATES: frozenset[str] = frozenset({"finished", "failed", "canceled"})


class AgentCommand(BaseModel):
    argv: list[str] = Field(min_length=1, max_length=200)
    timeout_s: int = Field(default=600, ge=1, le=86_400)
    env: dict[str, str] = Field(default_factory=dict, max_length=100)
    # Names of the secrets the host resolves into the agent's environment.
    secrets: list[str] = Field(default_factory=list, max_length=50)


class ExecuteRequest(BaseModel):
    run_id: str = Field(pattern=RUN_ID_PATTERN)
    task_id: str = Field(max_length=128)
    iteration: int = Field(default=1, ge=1, le=100)
    repo: str = Field(min_length=1, max_length=4096)
    base_ref: str = Field(default="HEAD", min_length=1, max_length=255)
    # When set, pins the worktree to this commit (later iterations and later attempts on
    # another host reuse the first base).
    base_commit: str | None = Field(default=None, pattern=r"^[0-9a-f]{40}$")
    agent: AgentCommand
    # Judges' feedback and human guidance for this iteration; given to the agent.
    feedback: str = Field(default="", max_length=50_000)
    # Network inside the sandbox (the policy may allow it; the executor's own
    # sandbox_network setting also allows it for every run).
    network: bool = False
    # A model-drafted unified diff. When set, the agent command is `git apply` of this
    # patch in the sandbox (agency/executor/patching.py), whatever `agent.argv` says.
    patch: str | None = Field(default=None, max_length=2_000_000)


class ProcessResult(BaseModel):
    argv: list[str]
    exit_code: int | None = None
    timed_out: bool = False
    killed: bool = False
    duration_s: float = 0.0
    stdout_tail: str = ""
    stderr_tail: str = ""
    output_truncated: bool = False


class RunStatus(BaseModel):
    run_id: str
    task_id: str
    iteration: int
    state: RunState
    sandbox: Literal["bwrap", "none"]
    base_commit: str | None = None
    # The branch a change goes to when the task names none (base_ref's branch, or the
    # branch the repository's HEAD is on).
    default_target: str | None = None
    # The tree the agent left, staged: what an apply commits (exactly what was judged).
    tree: str | None = None
    agent: ProcessResult | None = None
    gates: list[GateResult] = Field(default_factory=list)
    changed_files: list[ChangedFile] = Field(default_factory=list)
    lines_added: int = 0
    lines_removed: int = 0
    # The full diff (binary parts included), kept by the caller as an artifact.
    diff: bytes | None = Field(default=None, exclude=True)
    diff_sha256: str | None = None
    error: str | None = None
    # What was redacted from output and diff before it left the host: hits per secret
    # name or credential kind (never the values).
    redactions: dict[str, int] = Field(default_factory=dict)
