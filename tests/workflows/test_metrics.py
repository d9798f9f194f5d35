"""Task metrics from a real workflow run (Temporal dev server, worker, executor, SQLite):
observed by the `record` activity as it stores each transition, once per record."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.records import RecordActivities
from agency.db.engine import make_engine, session_maker
from council.validation import parse_task_spec
from domain.audit import RecordInput
from domain.interventions import Intervention, InterventionAck
from tests.support.harness import harness
from tests.support.metrics import total, value
from tests.support.repos import task_spec
from tests.workflows.test_task import scripted_agent, wait_for, wait_phase

JUDGES = ("constitutional", "technical", "quality", "integration")
TASK = {"risk_tier": "2", "mode": "feature", "execution_mode": "strict"}
PHASES = (
    "validating",
    "plan_review",
    "executing",
    "gating",
    "result_review",
    "awaiting_approval",
    "applying",
    "recording",
)


def snapshot() -> dict[str, float]:
    """Every figure the test below expects to move."""
    figures = {
        "started": value("agency_tasks_started_total", **TASK),
        "any_started": total("agency_tasks_started_total"),
        "any_finished": total("agency_tasks_finished_total"),
        "completed": value("agency_tasks_finished_total", outcome="completed", **TASK),
        "approval_wait": value("agency_task_approval_wait_seconds_count", outcome="approved"),
        "approve": value(
            "agency_interventions_total", kind="approve", source="api", result="accepted"
        ),
        "resume_refused": value(
            "agency_interventions_total", kind="resume", source="temporal_cli", result="refused"
        ),
        "agent_runs": total("agency_executor_agent_run_duration_seconds_count"),
        "gate_runs": total("agency_executor_gate_run_duration_seconds_count"),
        "plan_decisions": total("agency_council_decisions_total", stage="plan"),
        "result_decisions": total("agency_council_decisions_total", stage="result"),
    }
    for stage in ("plan", "result"):
        for judge in JUDGES:
            figures[f"{judge}/{stage}"] = total(
                "agency_judge_verdicts_total", judge=judge, stage=stage
            )
    for phase in PHASES:
        figures[phase] = value("agency_task_phase_duration_seconds_count", phase=phase)
    return figures


async def test_a_task_run_moves_the_task_metrics_once(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    before = snapshot()
    async with harness(dev_env.client, tmp_path) as h:
        # An agent that runs for two seconds: long enough to see the executor hold it.
        agent = scripted_agent("slow", AGENT_SECONDS="2")
        idle = value("agency_executor_active_runs")
        handle = await h.start(execution_mode="strict", agent=agent)
        await wait_for(lambda: _now(value("agency_executor_active_runs") == idle + 1))
        await wait_phase(handle, "awaiting_approval", within=120)
        assert value("agency_executor_active_runs") == idle  # the run ended with its gates
        # A bare signal (as `temporal workflow signal` sends it), refused and recorded.
        await handle.signal("resume")
        await handle.execute_update(
            "approve", Intervention(actor="dana"), result_type=InterventionAck
        )
        result = await handle.result()
        assert result.phase == "completed", result.error
        assert result.iterations == 1
    after = snapshot()

    # Each once: one task, one iteration, each phase left once, one verdict per judge
    # and stage, one approval; under no other label either (the `any_` figures).
    moved = {name: after[name] - before[name] for name in before}
    assert moved == {name: 1.0 for name in before}, moved


async def test_a_retried_record_is_counted_once(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with harness(dev_env.client, tmp_path, executor=False) as h:
        task_id = str(uuid.uuid4())
        await h._insert(task_id, parse_task_spec(task_spec(h.repo)))
        engine = make_engine(h.settings.effective_database_url)
        try:
            acts = RecordActivities(session_maker(engine))
            rec = RecordInput(
                task_id=task_id,
                seq=1,
                at=datetime.now(UTC),
                kind="phase",
                phase="validating",
                actor="tester",
                action="submitted",
            )
            labels = {"risk_tier": "2", "mode": "feature", "execution_mode": "auto"}
            before = value("agency_tasks_started_total", **labels)
            env = ActivityEnvironment()
            for _ in range(3):  # the first attempt and two retries of the same record
                await env.run(acts.record, rec)
            assert value("agency_tasks_started_total", **labels) == before + 1
        finally:
            await engine.dispose()


async def _now(result: bool) -> bool:
    return result
