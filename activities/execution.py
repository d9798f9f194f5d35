"""Activities that drive an executor service over HTTP: run, gate, control, apply, discard.

The executor is idempotent per run id (workflow run id + activity id), so a retried
activity picks up the run it already started instead of running the agent twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import executor_failure
from agency.executor.client import ExecutorClient, ExecutorError
from agency.executor.patching import APPLY_DISPLAY
from agency.executor.schemas import (
    TERMINAL_STATES,
    AgentCommand,
    ApplyRequest,
    ExecuteRequest,
    RunStatus,
)
from agency.inference.artifacts import ArtifactNotFound, ArtifactStore
from agency.settings import Settings
from workflows import activity_options as opts
from workflows.models import (
    ApplyInput,
    ChooseExecutorInput,
    ControlInput,
    DiscardInput,
    ExecuteInput,
    ExecutionSummary,
    GatesInput,
)

T = TypeVar("T")

TAIL_CHARS = 4096
POLL_WAIT_S = 2.0


class ExecutionActivities:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._artifacts = ArtifactStore.for_data_dir(settings.data_dir)

    @activity.defn(name="choose_executor")
    async def choose_executor(self, inp: ChooseExecutorInput) -> str:
        """The healthy executor with the fewest active runs."""
        best: tuple[int, str] | None = None
        problems: list[str] = []
        for url in self._settings.executor_urls:
            try:
                async with ExecutorClient(url, timeout=5.0) as client:
                    health = await client.health()
            except ExecutorError as err:
                problems.append(f"{url}: {err.detail}")
                continue
            if health.problem:
                # Up, but it would refuse to run agents (e.g. no sandbox): not a candidate.
                problems.append(f"{url}: {health.problem}")
                continue
            if best is None or health.active_runs < best[0]:
                best = (health.active_runs, url)
        if best is None:
            # Retryable: executors come back, and the retry policy bounds the wait.
            raise ApplicationError("no executor is reachable: " + "; ".join(problems))
        return best[1]

    @activity.defn(name="execute")
    async def execute(self, inp: ExecuteInput) -> ExecutionSummary:
        spec = inp.spec
        argv, patch = spec.agent.argv, None
        if spec.agent.model is not None:
            # A model-driven agent: the executor applies the drafted patch in the sandbox.
            if inp.patch_artifact is None:
                raise ApplicationError(
                    "model agent without a drafted patch", type=opts.INVALID_INPUT
                )
            try:
                patch = self._artifacts.get_text(inp.patch_artifact)
            except ArtifactNotFound as err:
                raise ApplicationError(str(err), type=opts.INVALID_INPUT) from err
            argv = list(APPLY_DISPLAY)
        if argv is None:
            raise ApplicationError("agent has no argv", type=opts.INVALID_INPUT)
        request = ExecuteRequest(
            run_id=inp.run_id,
            task_id=inp.task_id,
            iteration=inp.iteration,
            repo=spec.repo,
            base_ref=spec.base_ref,
            base_commit=inp.base_commit,
            agent=AgentCommand(argv=argv, timeout_s=spec.agent.timeout_s, env=spec.agent.env),
            feedback=inp.feedback,
            patch=patch,
        )
        async with ExecutorClient(inp.executor_url) as client:
            status = await _call(client.execute(request))
            status = await _follow(client, status)
        return summarize(inp.executor_url, status)

    @activity.defn(name="run_gates")
    async def run_gates(self, inp: GatesInput) -> ExecutionSummary:
        async with ExecutorClient(inp.executor_url) as client:
            status = await _call(client.run_gates(inp.run_id, inp.spec.gates))
            status = await _follow(client, status)
        return summarize(inp.executor_url, status)

    @activity.defn(name="control_run")
    async def control_run(self, inp: ControlInput) -> None:
        async with ExecutorClient(inp.executor_url) as client:
            try:
                await client.control(inp.run_id, inp.action)
            except ExecutorError as err:
                if err.status == 409:
                    # Already in the asked state, or finished: nothing left to do.
                    activity.logger.info("control %s on %s: %s", inp.action, inp.run_id, err)
                    return
                raise executor_failure(err) from err

    @activity.defn(name="apply_change")
    async def apply_change(self, inp: ApplyInput) -> str:
        async with ExecutorClient(inp.executor_url) as client:
            result = await _call(
                client.apply(
                    inp.run_id, ApplyRequest(target_branch=inp.target_branch, message=inp.message)
                )
            )
        return result.commit

    @activity.defn(name="discard_workspace")
    async def discard_workspace(self, inp: DiscardInput) -> None:
        async with ExecutorClient(inp.executor_url) as client:
            try:
                await client.discard(inp.run_id)
            except ExecutorError as err:
                if err.status == 404:
                    return
                raise executor_failure(err) from err


async def _call(coro: Awaitable[T]) -> T:
    try:
        return await coro
    except ExecutorError as err:
        raise executor_failure(err) from err


async def _follow(client: ExecutorClient, status: RunStatus) -> RunStatus:
    """Long-poll the run until it ends, heartbeating; on cancellation kill it first."""
    try:
        while status.state not in TERMINAL_STATES:
            activity.heartbeat(status.state)
            status = await _call(client.get(status.run_id, wait_s=POLL_WAIT_S, since=status.state))
    except asyncio.CancelledError:
        # Temporal cancelled us (task canceled or timed out): kill the process group
        # before reporting, so nothing keeps running behind the workflow's back.
        await asyncio.shield(_kill(client, status.run_id))
        raise
    return status


async def _kill(client: ExecutorClient, run_id: str) -> None:
    try:
        await client.control(run_id, "cancel")
    except ExecutorError as err:
        activity.logger.warning("could not cancel run %s: %s", run_id, err)


def summarize(executor_url: str, status: RunStatus) -> ExecutionSummary:
    agent = status.agent
    return ExecutionSummary(
        executor_url=executor_url,
        run_id=status.run_id,
        state=status.state,
        base_commit=status.base_commit,
        exit_code=agent.exit_code if agent else None,
        timed_out=agent.timed_out if agent else False,
        stdout_tail=(agent.stdout_tail if agent else "")[-TAIL_CHARS:],
        stderr_tail=(agent.stderr_tail if agent else "")[-TAIL_CHARS:],
        changed_files=status.changed_files,
        lines_added=status.lines_added,
        lines_removed=status.lines_removed,
        diff_artifact=status.diff_artifact,
        diff_sha256=status.diff_sha256,
        gates=[
            g.model_copy(update={"output_tail": g.output_tail[-TAIL_CHARS:]}) for g in status.gates
        ],
        error=status.error,
    )
