"""Regenerate the golden histories replayed by tests/workflows/test_replay.py.

    .venv/bin/python -m tests.histories.record

Run it only when the workflow changes on purpose (a change that makes the replay test
fail is a determinism break for tasks already running).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from agency.executor.worker import running_executor
from domain import search_attributes
from domain.interventions import Intervention, InterventionAck
from tests.support.harness import TEMPORAL_BIN, Harness, harness, state_of

HERE = Path(__file__).parent


async def save(handle: WorkflowHandle, name: str) -> None:
    await handle.result()
    (HERE / f"{name}.json").write_text((await handle.fetch_history()).to_json())


async def auto_and_strict(h: Harness) -> None:
    await save(await h.start(), "auto_completed")
    strict = await h.start(execution_mode="strict")
    for _ in range(600):  # up to a minute for the task to reach approval
        if (await state_of(strict)).pending_action == "approve":
            break
        await asyncio.sleep(0.1)
    approve = Intervention(actor="golden")
    await strict.execute_update("approve", approve, result_type=InterventionAck)
    await save(strict, "strict_approved")


async def host_lost(env: WorkflowEnvironment, tmp: Path) -> None:
    """A run whose host shuts down mid-agent, started again on a second host."""
    async with harness(env.client, tmp, executor=False) as h:
        first = h.settings.model_copy(update={"executor_name": "golden-a"})
        second = h.settings.model_copy(update={"executor_name": "golden-b"})
        agent = {
            "argv": ["python3", "tools/agent.py"],
            "timeout_s": 60,
            "env": {"AGENT_SCENARIO": "slow", "AGENT_SECONDS": "2"},
        }
        async with running_executor(env.client, first) as host:
            handle = await h.start(agent=agent)
            deadline = time.monotonic() + 60
            while host.runs.active() == 0:
                assert time.monotonic() < deadline, "golden-a never started the agent"
                await asyncio.sleep(0.05)
        async with running_executor(env.client, second):
            await save(handle, "host_lost")


async def main() -> None:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_BIN),
        data_converter=pydantic_data_converter,
        ui=False,
        search_attributes=search_attributes.ALL,
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            async with harness(env.client, Path(tmp) / "a") as h:
                await auto_and_strict(h)
            await host_lost(env, Path(tmp) / "b")
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
