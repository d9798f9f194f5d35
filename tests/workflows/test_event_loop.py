"""No blocking work on the event loop of a worker or an executor.

One governed task (validation, two council rounds, a sandboxed agent, a gate, apply,
records, provenance) runs with asyncio's debug mode on and its slow-callback threshold at
100 ms: any step of ours that holds the loop that long (git, YAML or file work done
inline instead of on a thread) is logged by asyncio with the coroutine's file and line,
and fails the test. Slow callbacks outside our code (the SDK's, the database driver's)
are not ours to fix here and are not counted.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.support.harness import harness

SLOW_S = 0.1
OURS = tuple(
    str(Path(__file__).resolve().parents[2] / package)
    for package in ("activities", "agency", "workflows", "api", "council")
)


class SlowCallbacks(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.ours: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Executing") and any(path in message for path in OURS):
            self.ours.append(message)


async def test_a_governed_task_never_holds_the_event_loop(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    loop = asyncio.get_running_loop()
    caught = SlowCallbacks()
    logger = logging.getLogger("asyncio")
    logger.addHandler(caught)
    debug, threshold = loop.get_debug(), loop.slow_callback_duration
    loop.set_debug(True)
    loop.slow_callback_duration = SLOW_S
    try:
        async with harness(dev_env.client, tmp_path) as h:
            handle = await h.start()
            result = await handle.result()
    finally:
        loop.set_debug(debug)
        loop.slow_callback_duration = threshold
        logger.removeHandler(caught)
    assert result.phase == "completed", result.error
    if caught.ours:
        pytest.fail("our code held the event loop:\n" + "\n".join(caught.ours))
