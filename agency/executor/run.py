"""A run's record on an executor host (Run), the errors its steps raise, and the
redaction of what a step's process wrote before it leaves the host."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from agency.executor import workspace
from agency.executor.layout import atomic_write
from agency.executor.process import GroupProcess
from agency.executor.schemas import ExecuteRequest, ProcessResult, RunState, RunStatus
from agency.redaction import Redactor


def _redact_file(path: Path, redactor: Redactor) -> None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    redacted = redactor.data(data)
    if redacted != data:
        atomic_write(path, redacted)


class RunNotFound(LookupError):
    """No run by that id on this host (never started here, or discarded)."""


class RunConflict(RuntimeError):
    """The run exists but is not in a state where the step applies."""


@dataclass
class Run:
    """One run on this host: its status, request, worktree and the process of its step."""

    status: RunStatus
    request: ExecuteRequest
    network: bool
    info: workspace.WorkspaceInfo | None = None
    proc: GroupProcess | None = None
    # A pause asked for before the process started: applied as soon as it exists.
    suspend_requested: bool = False
    resume_state: RunState | None = None
    gates_ran: bool = False
    # Set once the agent step ended (whatever its outcome): a duplicate delivery of the
    # same step waits for it instead of running the agent a second time.
    agent_done: asyncio.Event = field(default_factory=asyncio.Event)
    # Redacts the run's secret values (and credential shapes) from whatever leaves it.
    redactor: Redactor = field(default_factory=Redactor)


async def redacted(run: Run, result: ProcessResult, files: list[Path]) -> ProcessResult:
    """The process's output with secret values and credentials redacted, in its log
    files on disk as in the tails it reports."""
    for path in files:
        await asyncio.to_thread(_redact_file, path, run.redactor)
    run.status.redactions = dict(run.redactor.counts)
    return result.model_copy(
        update={
            # The same text as the files just redacted (and counted): not counted again.
            "stdout_tail": run.redactor.text(result.stdout_tail, count=False),
            "stderr_tail": run.redactor.text(result.stderr_tail, count=False),
        }
    )
