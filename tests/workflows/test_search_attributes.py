"""A task as the Temporal web UI and CLI see it, on a real dev server: found by a list
query on its search attributes while it awaits approval and once completed, with its
static summary and details and its current details; and its history, with the upserts,
replays."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from domain import search_attributes as sa
from domain.interventions import Intervention, InterventionAck, ParametersInput
from tests.support.harness import harness
from workflows.task import TaskWorkflow

# Visibility is written after the history, by the server's own queue: a list query
# sees an upsert a little later.
VISIBLE_WITHIN_S = 30.0


async def ids_matching(client: Client, query: str) -> set[str]:
    return {wf.id async for wf in client.list_workflows(query)}


async def until_listed(client: Client, query: str, workflow_id: str) -> None:
    deadline = time.monotonic() + VISIBLE_WITHIN_S
    while workflow_id not in await ids_matching(client, query):
        assert time.monotonic() < deadline, f"{workflow_id} not listed by {query!r}"
        await asyncio.sleep(0.2)


async def current_details(handle: WorkflowHandle) -> str:
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    return metadata.current_details


async def test_a_strict_task_is_found_awaiting_approval_then_completed(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    client = dev_env.client
    async with harness(client, tmp_path) as h:
        handle = await h.start(execution_mode="strict", risk_tier=2)
        task_id = handle.id.removeprefix("task-")
        mine = f"WorkflowId = '{handle.id}'"

        await until_listed(
            client,
            f"AgencyPhase = 'awaiting_approval' AND AgencyAwaitingApproval = true AND {mine}",
            handle.id,
        )
        details = await current_details(handle)
        assert "awaiting approval" in details and "approve or reject" in details
        # A human makes the task more critical: the attribute follows.
        await handle.execute_update(
            "parameters", ParametersInput(actor="alice", risk_tier=1), result_type=InterventionAck
        )
        await until_listed(client, f"AgencyRiskTier = 1 AND {mine}", handle.id)
        await handle.execute_update(
            "approve", Intervention(actor="alice"), result_type=InterventionAck
        )
        result = await handle.result()
        assert result.phase == "completed", result.error

        await until_listed(
            client,
            f"AgencyPhase = 'completed' AND AgencyAwaitingApproval = false AND {mine}",
            handle.id,
        )
        # What the UI's list and the task's page show.
        description = await handle.describe()
        shown = description.typed_search_attributes
        assert shown.get(sa.PHASE) == "completed"
        assert shown.get(sa.AWAITING_APPROVAL) is False
        assert shown.get(sa.RISK_TIER) == 1
        assert shown.get(sa.MODE) == "strict"
        assert shown.get(sa.TENANT) == "default"
        assert shown.get(sa.REPO) == str(h.repo)
        summary = await description.static_summary()
        assert summary is not None and summary.endswith(f"task {task_id}")
        details_md = await description.static_details()
        assert details_md is not None
        assert f"({h.settings.api_url}/ui/tasks/{task_id})" in details_md
        assert "execution mode strict, risk tier 2" in details_md  # as submitted
        assert (await current_details(handle)).startswith("**completed**")
        # The tier query an operator would type finds it; another mode's does not.
        assert handle.id in await ids_matching(client, f"AgencyRiskTier <= 2 AND {mine}")
        assert handle.id not in await ids_matching(client, f"AgencyRiskTier = 2 AND {mine}")
        assert handle.id not in await ids_matching(client, f"AgencyMode = 'auto' AND {mine}")

        # Its history (upserts, the patch marker) replays against the workflow code.
        history = await handle.fetch_history()
        replayer = Replayer(workflows=[TaskWorkflow], data_converter=pydantic_data_converter)
        replayed = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        assert replayed.replay_failure is None, replayed.replay_failure
