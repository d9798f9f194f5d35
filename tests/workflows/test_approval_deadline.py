"""Strict mode's approval deadline, on the time-skipping test server."""

from __future__ import annotations

import time
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from agency.temporal_setup import register_search_attributes
from domain import search_attributes
from tests.support.harness import TEMPORAL_TEST_SERVER_BIN, harness, state_of
from tests.support.repos import git


async def test_strict_task_fails_when_the_approval_deadline_passes(tmp_path: Path) -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEMPORAL_TEST_SERVER_BIN),
        data_converter=pydantic_data_converter,
    )
    try:
        # The test server knows no custom search attribute until it is added, as on a
        # cluster (its operator service implements adding only).
        await register_search_attributes(env.client, env.client.namespace)
        async with harness(env.client, tmp_path) as h:
            head = git(h.repo, "rev-parse", "main")
            started = time.monotonic()
            # A day to decide: the test server skips the wait.
            handle = await h.start(approval_timeout_s=24 * 3600, execution_mode="strict")
            result = await handle.result()
            elapsed = time.monotonic() - started

            assert result.phase == "failed"
            assert result.error is not None and "approval deadline passed" in result.error
            assert elapsed < 60, f"took {elapsed:.1f} s of wall time"
            assert git(h.repo, "rev-parse", "main") == head
            state = await state_of(handle)
            assert state.pending_action is None
            audit = await h.audit(handle)
            assert any(a.approval_status == "pending" for a in audit)  # type: ignore[attr-defined]
            assert audit[-1].action == "failed"  # type: ignore[attr-defined]
            # The attributes followed: no longer awaiting a human, failed.
            shown = (await handle.describe()).typed_search_attributes
            assert shown.get(search_attributes.PHASE) == "failed"
            assert shown.get(search_attributes.AWAITING_APPROVAL) is False
    finally:
        await env.shutdown()
