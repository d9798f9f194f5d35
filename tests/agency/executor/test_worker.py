"""The executor process's worker (agency/executor/worker.py) against a real Temporal server.

Proves: an executor without a sandbox (and not allowed to run unsandboxed) refuses to
start, naming bubblewrap; one executor directory serves one executor at a time (the
second is refused; the directory is free again once the first stops); a starting
executor removes the worktrees its predecessor left; and a running executor polls both
the shared executor queue and its own host queue (DescribeTaskQueue shows this process).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from agency.executor.layout import Layout
from agency.executor.worker import ExecutorUnusable, running_executor
from agency.settings import Settings
from tests.agency.executor.conftest import needs_bwrap


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    data = tmp_path / "agency"
    return Settings(
        data_dir=data,
        database_url=f"sqlite+aiosqlite:///{data / 'agency.db'}",
        executor_task_queue=f"ex-{uuid.uuid4()}",
        executor_name="test-host",
        **overrides,
    )


async def pollers(client: Client, queue: str) -> list[str]:
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        )
    )
    return [p.identity for p in response.pollers]


async def test_an_executor_without_a_sandbox_refuses_to_start(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    config = settings(tmp_path)
    with pytest.raises(ExecutorUnusable, match="bubblewrap") as err:
        async with running_executor(dev_env.client, config, bwrap_path=str(tmp_path / "no-bwrap")):
            pytest.fail("an executor without a sandbox started")
    assert "AGENCY_ALLOW_UNSANDBOXED=1" in str(err.value)
    assert not Layout(config.executor_data_dir).lock_file.exists()  # it took nothing

    allowed = settings(tmp_path, allow_unsandboxed=True)
    async with running_executor(
        dev_env.client, allowed, bwrap_path=str(tmp_path / "no-bwrap")
    ) as host:
        assert host.claim.sandbox == "none"


@needs_bwrap
async def test_one_executor_directory_serves_one_executor_at_a_time(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    config = settings(tmp_path)
    layout = Layout(config.executor_data_dir.resolve())
    leftover = layout.worktree("run-left-by-a-dead-process")
    leftover.mkdir(parents=True)
    (layout.run_logs("run-left-by-a-dead-process")).mkdir(parents=True)
    async with running_executor(dev_env.client, config) as first:
        assert first.claim.sandbox == "bwrap"
        assert not leftover.exists()  # reaped at start
        assert not layout.run_logs("run-left-by-a-dead-process").exists()
        assert layout.lock_file.read_text() == f"{os.getpid()}\n"
        with pytest.raises(ExecutorUnusable, match="another executor"):
            async with running_executor(dev_env.client, settings(tmp_path)):
                pytest.fail("two executors on one directory")
    # Stopped: the directory is free for the next one, which is a new host.
    async with running_executor(dev_env.client, config) as second:
        assert second.claim.host_queue != first.claim.host_queue
        assert second.claim.host_queue.startswith(f"{config.executor_task_queue}/test-host/")


@needs_bwrap
async def test_a_running_executor_polls_the_shared_and_its_own_queue(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    config = settings(tmp_path)
    me = f"{os.getpid()}@"
    async with running_executor(dev_env.client, config) as host:
        deadline = time.monotonic() + 10
        for queue in (config.executor_task_queue, host.claim.host_queue):
            while not any(i.startswith(me) for i in await pollers(dev_env.client, queue)):
                assert time.monotonic() < deadline, f"nobody of this process polls {queue}"
                await asyncio.sleep(0.05)
