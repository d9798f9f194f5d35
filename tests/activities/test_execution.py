"""The executor-facing activities against real executor services over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.execution import ExecutionActivities
from agency.asgi_thread import free_port, serve_app
from agency.executor.app import create_app
from agency.settings import Settings
from workflows.models import ChooseExecutorInput


def _settings(tmp_path: Path, name: str) -> Settings:
    return Settings(data_dir=tmp_path / name)


async def test_choose_executor_skips_one_that_cannot_sandbox(tmp_path: Path) -> None:
    unsandboxed = create_app(_settings(tmp_path, "a"), bwrap_path=str(tmp_path / "no-bwrap"))
    sandboxed = create_app(_settings(tmp_path, "b"))
    with serve_app(unsandboxed) as bad, serve_app(sandboxed) as good:
        acts = ExecutionActivities(Settings(executor_urls=[bad, good]))
        chosen = await ActivityEnvironment().run(
            acts.choose_executor, ChooseExecutorInput(task_id="t")
        )
    assert chosen == good


async def test_choose_executor_names_every_unusable_executor(tmp_path: Path) -> None:
    gone = f"http://127.0.0.1:{free_port()}"
    unsandboxed = create_app(_settings(tmp_path, "a"), bwrap_path=str(tmp_path / "no-bwrap"))
    with serve_app(unsandboxed) as bad:
        acts = ExecutionActivities(Settings(executor_urls=[gone, bad]))
        with pytest.raises(ApplicationError) as caught:
            await ActivityEnvironment().run(acts.choose_executor, ChooseExecutorInput(task_id="t"))
    message = str(caught.value)
    assert gone in message and bad in message and "bubblewrap" in message.lower()
