"""Regenerate the golden histories replayed by tests/workflows/test_replay.py.

    .venv/bin/python -m tests.histories.record

Run it only when the workflow changes on purpose (a change that makes the replay test
fail is a determinism break for tasks already running).
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from tests.support.harness import TEMPORAL_BIN, harness, state_of
from workflows.models import Intervention, InterventionAck

HERE = Path(__file__).parent


async def main() -> None:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_BIN), data_converter=pydantic_data_converter, ui=False
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            async with harness(env.client, Path(tmp)) as h:
                auto = await h.start()
                await auto.result()
                (HERE / "auto_completed.json").write_text((await auto.fetch_history()).to_json())

                strict = await h.start(execution_mode="strict")
                for _ in range(600):  # up to a minute for the task to reach approval
                    if (await state_of(strict)).pending_action == "approve":
                        break
                    await asyncio.sleep(0.1)
                await strict.execute_update(
                    "approve", Intervention(actor="golden"), result_type=InterventionAck
                )
                await strict.result()
                (HERE / "strict_approved.json").write_text((await strict.fetch_history()).to_json())
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
