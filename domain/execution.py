"""Executor hosts and what the workflow keeps of one execution on them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from council.models import ChangedFile, GateResult


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
