"""Waivers from the database reach the constitutional judge through validate_task: only
an active, unexpired, independently and sufficiently approved waiver raises the budget;
every other one is a violation naming the waiver and why."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.governance import GovernanceActivities
from agency.db import waivers as store
from agency.db.engine import make_engine, session_maker
from agency.db.migrate import upgrade_database_async
from agency.settings import Settings
from council.models import ChangedFile, Judgment
from council.policy import DEFAULT_POLICY
from council.validation import parse_task_spec
from domain.activities import JudgeInput, ValidateInput
from domain.execution import ExecutionSummary
from tests.support.repos import make_repo, task_spec

# Tier 2 allows 1 file and 5 lines here; the change below has 2 files and 12 lines.
POLICY = {
    **DEFAULT_POLICY,
    "risk_tiers": {
        "1": {"max_files": 1, "max_loc": 5},
        "2": {"max_files": 1, "max_loc": 5},
        "3": {"max_files": 1, "max_loc": 5},
    },
}
CHANGE = ExecutionSummary(
    host_queue="executors/test-host/0",
    executor="test-host/0",
    run_id="r1",
    state="finished",
    exit_code=0,
    changed_files=[
        ChangedFile(path="src/calc.py", added=6, removed=0),
        ChangedFile(path="tests/test_triple.py", added=6, removed=0),
    ],
    lines_added=12,
)


@dataclass
class Env:
    acts: GovernanceActivities
    sessions: async_sessionmaker[AsyncSession]
    repo: Path

    async def judge(self, *waiver_ids: str) -> Judgment:
        spec = parse_task_spec(task_spec(self.repo, waiver_ids=list(waiver_ids)))
        env = ActivityEnvironment()
        validation = await env.run(self.acts.validate_task, ValidateInput(task_id="t-1", spec=spec))
        assert validation.problems == []
        out = await env.run(
            self.acts.judge,
            JudgeInput(
                task_id="t-1",
                stage="result",
                iteration=1,
                spec=spec,
                policy=validation.policy,
                waivers=validation.waivers,
                execution=CHANGE,
                now=datetime.now(UTC),
                can_refine=False,
            ),
        )
        return next(j for j in out.judgments if j.judge == "constitutional")

    async def waiver(self, *, approvers: tuple[str, ...] = ("ann", "bob"), **kw: object) -> str:
        now = datetime.now(UTC)
        values: dict[str, object] = {
            "tenant": "default",
            "title": "Bigger change",
            "reason": "a wider change than the budget allows",
            "reason_code": "architectural_refactor",
            "gates": ["budget_limit"],
            "delta": {"max_files": 5, "max_loc": 100},
            "applies_to": ["FEAT-0001"],
            "risk_owner": "olivia",
            "risk_tier": 2,
            "created_by": "carl",
            "expires_at": now + timedelta(days=1),
            "now": now,
        }
        values.update(kw)
        async with self.sessions() as session:
            row = await store.create_waiver(session, **values)  # type: ignore[arg-type]
            for who in approvers:
                await store.approve_waiver(
                    session,
                    row.id,
                    approver=who,
                    required=2,
                    now=values["now"],  # type: ignore[arg-type]
                )
        return row.id


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'agency.db'}"
    await upgrade_database_async(url)
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(POLICY))
    settings = Settings(data_dir=tmp_path / "data", database_url=url, policy_file=policy)
    engine = make_engine(url)
    sessions = session_maker(engine)
    try:
        yield Env(GovernanceActivities(settings, sessions), sessions, make_repo(tmp_path / "repo"))
    finally:
        await engine.dispose()


def rules(judgment: Judgment) -> dict[str, str]:
    return {v.rule: v.detail for v in judgment.violations}


async def test_without_a_waiver_the_change_is_over_budget(env: Env) -> None:
    judgment = await env.judge()
    assert judgment.verdict == "fail" and "budget_exceeded" in rules(judgment)


async def test_a_valid_waiver_lets_the_over_budget_change_pass(env: Env) -> None:
    waiver_id = await env.waiver()
    judgment = await env.judge(waiver_id)
    found = rules(judgment)
    assert judgment.verdict == "pass", found
    assert "budget_exceeded" not in found
    assert f"covered by waiver(s) {waiver_id}" in found["budget_waived"]


async def test_an_expired_waiver_is_a_violation(env: Env) -> None:
    past = datetime.now(UTC) - timedelta(days=2)
    waiver_id = await env.waiver(now=past, expires_at=past + timedelta(hours=1))
    found = rules(await env.judge(waiver_id))
    assert f"waiver {waiver_id} cannot be used" in found["waiver_unusable"]
    assert "its status is expired" in found["waiver_unusable"]
    assert "budget_exceeded" in found


async def test_a_revoked_waiver_is_a_violation(env: Env) -> None:
    waiver_id = await env.waiver()
    async with env.sessions() as session:
        await store.revoke_waiver(session, waiver_id, by="root", reason="scope grew")
    found = rules(await env.judge(waiver_id))
    assert "its status is revoked by root" in found["waiver_unusable"]
    assert "budget_exceeded" in found


async def test_an_under_approved_waiver_is_a_violation(env: Env) -> None:
    waiver_id = await env.waiver(approvers=("ann",))
    found = rules(await env.judge(waiver_id))
    assert "its status is proposed, not yet active" in found["waiver_unusable"]
    assert "1 independent approver(s); the policy requires 2" in found["waiver_unusable"]
    assert "budget_exceeded" in found


async def test_a_self_approved_waiver_is_a_violation(env: Env) -> None:
    # The API refuses self-approval; a row written around it is still caught by the judge.
    waiver_id = await env.waiver(approvers=())
    async with env.sessions() as session:
        await session.execute(
            insert(store.WaiverApproval).values(
                waiver_id=waiver_id,
                approver="olivia",
                handle="olivia",
                comment="",
                approved_at=datetime.now(UTC),
            )
        )
        await session.execute(
            update(store.WaiverRow).where(store.WaiverRow.id == waiver_id).values(status="active")
        )
        await session.commit()
    found = rules(await env.judge(waiver_id))
    assert "it is self-approved" in found["waiver_unusable"]
    assert "budget_exceeded" in found


async def test_an_unknown_waiver_is_a_violation(env: Env) -> None:
    found = rules(await env.judge("WV-0999"))
    assert found["waiver_unknown"] == "waiver WV-0999 is named by the spec but is not known"


async def test_another_tenants_waiver_is_unknown(env: Env) -> None:
    waiver_id = await env.waiver(tenant="acme")
    assert "waiver_unknown" in rules(await env.judge(waiver_id))


async def test_a_waiver_id_in_both_the_database_and_a_file_is_a_problem(env: Env) -> None:
    waiver_id = await env.waiver()
    waivers_dir = env.acts._settings.effective_waivers_dir
    waivers_dir.mkdir(parents=True)
    (waivers_dir / f"{waiver_id}.yaml").write_text(
        yaml.safe_dump({"id": waiver_id, "status": "active", "gates": ["budget_limit"]})
    )
    spec = parse_task_spec(task_spec(env.repo, waiver_ids=[waiver_id]))
    validation = await ActivityEnvironment().run(
        env.acts.validate_task, ValidateInput(task_id="t-1", spec=spec)
    )
    assert any(
        "defined both in the database and in a waiver file" in p for p in validation.problems
    )
