"""The executor's activities: claim a host, run the agent and the gates, control, apply.

They run in the executor process (`python -m agency.executor`), which polls two task
queues (the pattern of Temporal's worker-specific task queues):

- the shared executor queue: `claim_executor` (any executor with room answers with its own
  host queue) and `apply_change` (any executor can apply any task's judged change);
- its own host queue: `run_agent`, `run_gates`, `control_agent`, `discard_run`, the steps
  that must happen where the run's worktree and processes are.

Long steps heartbeat every second with their progress, so a dead host is noticed within
the heartbeat timeout and a cancellation reaches the process group promptly.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.defn import implements
from agency.db.artifacts import ArtifactNotFound, get_artifact, put_artifact
from agency.executor.apply import (
    ApplyBusy,
    ApplyConflict,
    ApplyPlan,
    ApplyRefused,
    apply_change,
)
from agency.executor.host import HostRuns, RunConflict, RunNotFound
from agency.executor.patching import APPLY_DISPLAY
from agency.executor.sandbox import SandboxUnavailable
from agency.executor.schemas import AgentCommand, ExecuteRequest, RunStatus
from agency.executor.source import SourceError
from agency.metrics.executor import AGENT_RUN_DURATION, GATE_RUN_DURATION, timed_step
from agency.settings import Settings
from domain import errors
from domain.activities import (
    APPLY_CHANGE,
    CLAIM_EXECUTOR,
    CONTROL_AGENT,
    DISCARD_RUN,
    RUN_AGENT,
    RUN_GATES,
    ApplyInput,
    ApplyOutput,
    ClaimInput,
    ControlInput,
    DiscardInput,
    ExecuteInput,
    GatesInput,
)
from domain.execution import ExecutionSummary, ExecutorClaim

T = TypeVar("T")

TAIL_CHARS = 4096
HEARTBEAT_EVERY_S = 1.0
# How long a step keeps trying to store its diff while the database is unreachable.
STORE_DEADLINE_S = 300.0


class ExecutorActivities:
    def __init__(
        self,
        settings: Settings,
        runs: HostRuns,
        sessions: async_sessionmaker[AsyncSession],
        claim: ExecutorClaim,
    ) -> None:
        self._settings = settings
        self._runs = runs
        self._sessions = sessions
        self._claim = claim

    def shared_queue(self) -> list[Callable[..., Any]]:
        """Activities of the shared executor queue."""
        return [self.claim_executor, self.apply_change]

    def host_queue(self) -> list[Callable[..., Any]]:
        """Activities of this host's own queue."""
        return [self.run_agent, self.run_gates, self.control_agent, self.discard_run]

    # ----------------------------------------------------------------- shared queue
    @implements(CLAIM_EXECUTOR)
    async def claim_executor(self, inp: ClaimInput) -> ExecutorClaim:
        """This host, if it has room; retried (by the workflow's policy) otherwise, which
        lets another executor answer."""
        active = self._runs.active()
        if active >= self._settings.executor_max_runs:
            raise ApplicationError(
                f"executor {self._claim.executor} is at capacity ({active} runs)",
                type=errors.EXECUTOR_BUSY,
            )
        return self._claim

    @implements(APPLY_CHANGE)
    async def apply_change(self, inp: ApplyInput) -> ApplyOutput:
        async def diff() -> bytes:
            async with self._sessions() as session:
                return await get_artifact(session, inp.diff_artifact)

        try:
            source = await self._runs.sources.resolve(inp.repo, need_commit=inp.base_commit)
            plan = ApplyPlan(
                source=source,
                task_id=inp.task_id,
                base_commit=inp.base_commit,
                tree=inp.tree,
                target=inp.target_branch,
                message=inp.message,
                date=f"{int(inp.at.timestamp())} +0000",
                scratch=self._runs.layout.scratch(f"{inp.task_id}-{activity.info().attempt}"),
                diff=diff,
            )
            result = await _heartbeating(apply_change(plan), lambda: "applying")
        except ApplyRefused as err:
            raise ApplicationError(str(err), type=errors.INVALID_INPUT) from err
        except ApplyConflict as err:
            raise ApplicationError(str(err), type=errors.APPLY_CONFLICT) from err
        except ArtifactNotFound as err:
            raise ApplicationError(str(err), type=errors.INVALID_INPUT) from err
        except (ApplyBusy, SourceError) as err:
            raise ApplicationError(str(err)) from err  # retryable: the branch settles
        return ApplyOutput(
            commit=result.commit,
            branch=result.branch,
            already_applied=result.already_applied,
            executor=self._claim.executor,
        )

    # ------------------------------------------------------------------- host queue
    @implements(RUN_AGENT)
    async def run_agent(self, inp: ExecuteInput) -> ExecutionSummary:
        spec = inp.spec
        argv, patch = spec.agent.argv, None
        if spec.agent.model is not None:
            # A model-driven agent: the host applies the drafted patch in the sandbox.
            if inp.patch_artifact is None:
                raise ApplicationError(
                    "model agent without a drafted patch", type=errors.INVALID_INPUT
                )
            try:
                async with self._sessions() as session:
                    patch = (await get_artifact(session, inp.patch_artifact)).decode("utf-8")
            except (ArtifactNotFound, UnicodeDecodeError) as err:
                raise ApplicationError(str(err), type=errors.INVALID_INPUT) from err
            argv = list(APPLY_DISPLAY)
        if argv is None:
            raise ApplicationError("agent has no argv", type=errors.INVALID_INPUT)
        request = ExecuteRequest(
            run_id=inp.run_id,
            task_id=inp.task_id,
            iteration=inp.iteration,
            repo=spec.repo,
            base_ref=spec.base_ref,
            base_commit=inp.base_commit,
            agent=AgentCommand(
                argv=argv,
                timeout_s=spec.agent.timeout_s,
                env=spec.agent.env,
                secrets=spec.agent.secrets,
            ),
            feedback=inp.feedback,
            patch=patch,
        )
        try:
            status = await timed_step(
                AGENT_RUN_DURATION,
                _heartbeating(self._runs.execute(request), lambda: self._progress(inp.run_id)),
            )
        except SandboxUnavailable as err:
            raise ApplicationError(str(err), type=errors.EXECUTOR_REFUSED) from err
        return await self._summary(status, inp.attempt)

    @implements(RUN_GATES)
    async def run_gates(self, inp: GatesInput) -> ExecutionSummary:
        try:
            status = await timed_step(
                GATE_RUN_DURATION,
                _heartbeating(
                    self._runs.run_gates(inp.run_id, inp.spec.gates),
                    lambda: self._progress(inp.run_id),
                ),
            )
        except RunNotFound as err:
            raise ApplicationError(str(err), type=errors.NOT_FOUND) from err
        except RunConflict as err:
            raise ApplicationError(str(err), type=errors.EXECUTOR_REFUSED) from err
        return await self._summary(status, inp.attempt)

    @implements(CONTROL_AGENT)
    async def control_agent(self, inp: ControlInput) -> str:
        """Suspend or resume the run's process group; answers the run's state."""
        try:
            if inp.action == "suspend":
                return self._runs.suspend(inp.run_id).state
            return self._runs.resume(inp.run_id).state
        except RunNotFound as err:
            raise ApplicationError(str(err), type=errors.NOT_FOUND) from err
        except RunConflict as err:
            # Already in the asked state, or finished: nothing left to do.
            raise ApplicationError(str(err), type=errors.EXECUTOR_REFUSED) from err

    @implements(DISCARD_RUN)
    async def discard_run(self, inp: DiscardInput) -> None:
        await self._runs.discard(inp.run_id)

    # --------------------------------------------------------------------- helpers
    def _progress(self, run_id: str) -> dict[str, Any]:
        with contextlib.suppress(RunNotFound):
            status = self._runs.status(run_id)
            return {"state": status.state, "output_bytes": self._runs.output_bytes(run_id)}
        return {"state": "unknown"}

    async def _store(self, kind: str, data: bytes) -> str:
        """Put an artifact, riding out a database outage for a while (heartbeating, so
        the host is not taken for lost): a step is attempted once, and an outage must
        not turn a finished agent into a failed task."""
        deadline = time.monotonic() + STORE_DEADLINE_S
        delay = 0.5
        while True:
            try:
                async with self._sessions() as session:
                    return await put_artifact(session, kind, data)
            except (SQLAlchemyError, OSError) as err:
                if time.monotonic() > deadline:
                    raise ApplicationError(f"could not store the {kind}: {err}") from err
                activity.logger.warning("storing the %s failed, retrying: %s", kind, err)
                activity.heartbeat({"state": f"storing {kind}", "retry_in_s": delay})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _summary(self, status: RunStatus, attempt: int) -> ExecutionSummary:
        diff_artifact = None
        if status.diff is not None and status.changed_files:
            # Stored before the result is reported: the judges and any applying executor
            # read it by id. Content-addressed, so storing it again writes nothing new.
            diff_artifact = await self._store("diff", status.diff)
        agent = status.agent
        return ExecutionSummary(
            host_queue=self._claim.host_queue,
            executor=self._claim.executor,
            attempt=attempt,
            run_id=status.run_id,
            state=status.state,
            base_commit=status.base_commit,
            default_target=status.default_target,
            tree=status.tree,
            exit_code=agent.exit_code if agent else None,
            timed_out=agent.timed_out if agent else False,
            stdout_tail=(agent.stdout_tail if agent else "")[-TAIL_CHARS:],
            stderr_tail=(agent.stderr_tail if agent else "")[-TAIL_CHARS:],
            changed_files=status.changed_files,
            lines_added=status.lines_added,
            lines_removed=status.lines_removed,
            diff_artifact=diff_artifact,
            diff_sha256=status.diff_sha256,
            gates=[
                g.model_copy(update={"output_tail": g.output_tail[-TAIL_CHARS:]})
                for g in status.gates
            ],
            error=status.error,
            redactions=status.redactions,
        )


async def _heartbeating(work: Awaitable[T], details: Callable[[], Any]) -> T:
    """Await `work`, heartbeating its progress every second. A cancellation (delivered by
    Temporal with a heartbeat response) cancels `work` and waits for its cleanup."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_EVERY_S)
            if done:
                return task.result()
            activity.heartbeat(details())
    except asyncio.CancelledError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        details = activity.cancellation_details()
        if details is not None and details.worker_shutdown:
            # This host is going away, not the task: say so, and the workflow starts the
            # run again elsewhere at once instead of waiting for a timeout.
            raise ApplicationError(
                "the executor host is shutting down", type=errors.HOST_SHUTDOWN
            ) from None
        raise
