"""Golden histories replayed against the current workflow code (determinism check).

`before_local_effects_*` were recorded before records, validation and judging became local
activities (workflows/versions.py); tasks started then must still replay."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.task import TaskWorkflow

HISTORIES = sorted((Path(__file__).parents[1] / "histories").glob("*.json"))
# Read at collection time: the files are small, and the test itself stays non-blocking.
HISTORY_TEXT = {p.stem: p.read_text() for p in HISTORIES}


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_golden_history_replays_without_divergence(path: Path) -> None:
    history = WorkflowHistory.from_json(f"golden-{path.stem}", HISTORY_TEXT[path.stem])
    replayer = Replayer(workflows=[TaskWorkflow], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


def test_there_are_golden_histories() -> None:
    current = {"auto_completed", "strict_approved", "host_lost"}
    assert {p.stem for p in HISTORIES} >= current | {f"before_local_effects_{n}" for n in current}
