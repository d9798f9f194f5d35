"""End to end: an over-budget change is rejected, and passes with an approved waiver from
the database (`agency waiver create` / `approve`)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from temporalio.testing import WorkflowEnvironment

from agency.db import waivers as store
from agency.db.engine import make_engine, session_maker
from agency.worker import running_worker
from council.policy import DEFAULT_POLICY
from tests.support.harness import harness
from tests.support.repos import git

# Tier 2 allows one file here; the test agent changes two (src/calc.py and a test).
SMALL = {"max_files": 1, "max_loc": 1000}
POLICY = {**DEFAULT_POLICY, "risk_tiers": {"1": SMALL, "2": SMALL, "3": SMALL}}


async def test_a_valid_waiver_lets_an_over_budget_change_pass(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(POLICY))
    async with harness(dev_env.client, tmp_path) as base:
        settings = base.settings.model_copy(
            update={"policy_file": policy, "task_queue": f"tq-{uuid.uuid4()}"}
        )
        h = dataclasses.replace(base, settings=settings, task_queue=settings.task_queue)
        engine = make_engine(settings.effective_database_url)
        try:
            async with session_maker(engine)() as session:
                waiver = await store.create_waiver(
                    session,
                    tenant="default",
                    title="Two files for triple()",
                    reason="the feature needs its test file too",
                    reason_code="other",
                    gates=["budget_limit"],
                    delta={"max_files": 1, "max_loc": 0},
                    applies_to=["FEAT-0001"],
                    risk_owner="olivia",
                    risk_tier=2,
                    created_by="carl",
                    expires_at=datetime.now(UTC) + timedelta(hours=1),
                )
                for approver in ("ann", "bob"):
                    await store.approve_waiver(session, waiver.id, approver=approver, required=2)
        finally:
            await engine.dispose()

        async with running_worker(h.client, settings, task_queue=settings.task_queue):
            without = await (await h.start(max_iterations=1)).result()
            assert without.phase == "rejected"
            assert "budget_exceeded" in (without.error or "")

            with_waiver = await (await h.start(waiver_ids=[waiver.id])).result()
            assert with_waiver.phase == "completed", with_waiver.error
            assert with_waiver.applied_commit == git(h.repo, "rev-parse", "main")
            constitutional = next(v for v in with_waiver.verdicts if v.judge == "constitutional")
            assert [v.rule for v in constitutional.violations] == ["budget_waived"]
