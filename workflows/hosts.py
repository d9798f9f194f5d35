"""The executor host of a run: claiming one, noticing that it is lost, controlling and
discarding the run's processes and worktree on it."""

from __future__ import annotations

import asyncio
from typing import Literal

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutType
from temporalio.exceptions import TimeoutError as StepTimeout

from workflows.calls import call
from workflows.failures import TaskEnded, cause, reraise_cancellation
from workflows.recording import record
from workflows.state import TaskRun

with workflow.unsafe.imports_passed_through():
    from domain.activities import (
        CLAIM_EXECUTOR,
        CONTROL_AGENT,
        DISCARD_RUN,
        ClaimInput,
        ControlInput,
        DiscardInput,
    )
    from domain.errors import HOST_SHUTDOWN, NOT_FOUND
    from domain.execution import ExecutorClaim
    from workflows import activity_options as opts


class HostLost(Exception):
    """The executor host running a step stopped answering (its heartbeats or its queue)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


_TIMEOUT_MEANING = {
    TimeoutType.HEARTBEAT: "the host sent no heartbeat within the heartbeat timeout",
    TimeoutType.SCHEDULE_TO_START: "no process polled the host queue within the lost-host timeout",
    TimeoutType.START_TO_CLOSE: "the step outlived its start-to-close timeout",
}


def raise_if_host_lost(err: ActivityError) -> None:
    """A step that timed out (no heartbeat, or its queue unpolled) lost its host."""
    failure = err.cause
    if isinstance(failure, StepTimeout):
        why = _TIMEOUT_MEANING.get(failure.type, "the step timed out") if failure.type else ""
        raise HostLost(why or "the step timed out") from err
    if isinstance(failure, ApplicationError) and failure.type in (NOT_FOUND, HOST_SHUTDOWN):
        # The host does not know the run (it is not the process that started it), or it
        # is going away.
        raise HostLost(str(failure)) from err


async def claim_host(run: TaskRun, attempt: int) -> ExecutorClaim:
    """The host of this run: the last one while it lasts, else any executor with room."""
    if run.host is not None:
        return run.host
    options = run.inp.executors
    try:
        run.host = await call(
            CLAIM_EXECUTOR,
            ClaimInput(task_id=run.task_id, iteration=run.iteration, attempt=attempt),
            opts.claiming(options),
            summary=f"claim an executor host, iteration {run.iteration} attempt {attempt}",
        )
    except ActivityError as err:
        reraise_cancellation(err)
        why = f"no executor took the task within {options.claim_timeout_s:.0f} s"
        raise TaskEnded("failed", f"{why}: {cause(err)}") from err
    return run.host


async def host_lost(run: TaskRun, host: ExecutorClaim, run_id: str, attempt: int, why: str) -> None:
    """Forget the host (the next attempt claims another), and fail the task once it has
    lost more hosts than its executor options allow."""
    run.host = None
    run.hosts_lost += 1
    run.lost_queues.add(host.host_queue)
    run.active_run_id = None
    await record(
        run,
        "execution",
        action="host_lost",
        detail={
            "run_id": run_id,
            "executor": host.executor,
            "host_queue": host.host_queue,
            "attempt": attempt,
            "why": why,
            "hosts_lost": run.hosts_lost,
        },
    )
    limit = run.inp.executors.max_host_losses
    if run.hosts_lost > limit:
        raise TaskEnded(
            "failed", f"lost {run.hosts_lost} executor host(s) (limit {limit}); last: {why}"
        )


async def control_agent(run: TaskRun, action: Literal["suspend", "resume"]) -> None:
    """SIGSTOP/SIGCONT the running step's process group on its host."""
    host, run_id = run.host, run.active_run_id
    if host is None or run_id is None:
        return
    try:
        await call(
            CONTROL_AGENT,
            ControlInput(run_id=run_id, action=action),
            opts.host_control(run.inp.executors, host.host_queue),
        )
    except ActivityError as err:
        # The run may have finished or its host gone; the pause flag still holds at the
        # next safe point.
        workflow.logger.info("could not %s run %s: %s", action, run_id, err)


async def discard(run: TaskRun, run_id: str, host_queue: str) -> None:
    """Remove the run's worktree on its host; a host that is gone took it along."""
    if host_queue in run.lost_queues:
        return
    await call(
        DISCARD_RUN,
        DiscardInput(run_id=run_id),
        opts.host_control(run.inp.executors, host_queue),
    )


async def discard_quietly(run: TaskRun, run_id: str, host_queue: str) -> None:
    try:
        await discard(run, run_id, host_queue)
    except (ActivityError, asyncio.CancelledError):
        # The worktree is the executor's to reap; the task outcome must not depend on it.
        workflow.logger.warning("could not discard workspace %s", run_id)
