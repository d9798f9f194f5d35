"""A host lost mid-run: the workflow starts the run again on another executor host.

Two executor hosts share the executor queue. The first takes the task; once its agent
runs, that host shuts down (as when its process is stopped): the running step reports
that its host is going away, the workflow records the loss and claims the other host,
the agent runs again from the same base commit, and the change is applied once. (Hosts
that die silently, SIGKILL or SIGSTOP, are the fault suite's, tests/faults/.)
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from agency.executor.worker import running_executor
from tests.support.harness import harness, state_of
from tests.support.repos import git
from tests.workflows.test_task import scripted_agent


async def test_a_run_whose_host_is_lost_runs_again_on_another_host(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with harness(
        dev_env.client,
        tmp_path,
        executor=False,
        executor_heartbeat_timeout_s=2.0,
        executor_lost_after_s=2.0,
    ) as h:
        base = git(h.repo, "rev-parse", "main")
        first = h.settings.model_copy(update={"executor_name": "host-a"})
        second = h.settings.model_copy(update={"executor_name": "host-b"})
        async with running_executor(dev_env.client, first) as host_a:
            handle = await h.start(agent=scripted_agent("slow", timeout_s=60, AGENT_SECONDS="3"))
            deadline = time.monotonic() + 30
            while host_a.runs.active() == 0:
                assert time.monotonic() < deadline, "host-a never started the agent"
                await asyncio.sleep(0.05)
        # host-a is gone (its queues unpolled) while its agent was running.
        async with running_executor(dev_env.client, second):
            result = await handle.result()
        audit = await h.audit(handle)
        state = await state_of(handle)

    assert result.phase == "completed", result.error
    executes = [a for a in audit if a.action == "execute"]  # type: ignore[attr-defined]
    assert [(e.detail["executor"].split("/")[0], e.detail["attempt"]) for e in executes] == [
        ("host-a", 1),
        ("host-b", 2),
    ]
    [lost] = [a for a in audit if a.action == "host_lost"]  # type: ignore[attr-defined]
    assert lost.detail["executor"].startswith("host-a/") and lost.detail["attempt"] == 1
    assert "shutting down" in lost.detail["why"]
    [executed] = [a for a in audit if a.action == "executed"]  # type: ignore[attr-defined]
    assert executed.detail["base_commit"] == base and executed.detail["attempt"] == 2
    # Applied once: main moved by exactly one commit, carrying this task's trailer.
    assert git(h.repo, "rev-list", "--count", f"{base}..main") == "1"
    assert f"Agency-Task: {result.task_id}" in git(h.repo, "log", "-1", "--format=%B", "main")
    assert state.execution is not None and state.execution.attempt == 2
