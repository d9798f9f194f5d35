"""Determinism reports on recorded histories, and comparing two tasks' outcomes."""

from __future__ import annotations

import copy
from pathlib import Path

from temporalio import workflow
from temporalio.client import WorkflowHistory

from agency.provenance.replay import check_determinism, compare_outcomes, outcome_of
from domain.task import WORKFLOW_NAME, TaskInput, TaskResult
from workflows.task import TaskWorkflow

HISTORY = Path(__file__).parents[2] / "histories" / "auto_completed.json"


def golden() -> WorkflowHistory:
    return WorkflowHistory.from_json("golden-auto", HISTORY.read_text())


@workflow.defn(name=WORKFLOW_NAME)
class ChangedTaskWorkflow(TaskWorkflow):
    """Test only: the task workflow with one step added where none was recorded."""

    @workflow.run
    async def run(self, inp: TaskInput) -> TaskResult:
        await workflow.sleep(1)
        return await super().run(inp)


async def test_a_finished_task_replays_clean() -> None:
    report = await check_determinism(golden(), [TaskWorkflow])
    assert report.deterministic and report.divergence is None
    assert report.events == len(golden().events)


async def test_a_changed_workflow_is_reported_non_deterministic() -> None:
    report = await check_determinism(golden(), workflows=[ChangedTaskWorkflow])
    assert not report.deterministic
    assert report.divergence is not None and "Nondeterminism" in report.divergence


RECORD = {
    "outcome": "completed",
    "rounds": [
        {"stage": "plan", "iteration": 0, "outcome": "approve", "verdicts": {"technical": "pass"}},
        {
            "stage": "result",
            "iteration": 1,
            "outcome": "approve",
            "verdicts": {"technical": "pass", "quality": "pass"},
        },
    ],
    "executions": [
        {"changed_files": ["src/b.py", "src/a.py"], "lines_added": 4, "lines_removed": 1}
    ],
    "gates": [{"run_id": "r1", "results": [{"name": "tests", "passed": True}]}],
}


def test_the_same_outcome_has_no_differences() -> None:
    rerun = copy.deepcopy(RECORD)
    rerun["executions"][0]["changed_files"].reverse()  # order does not matter
    rerun["gates"][0]["run_id"] = "r2"  # nor the run that produced them
    assert compare_outcomes(RECORD, rerun) == []
    assert outcome_of(RECORD)["changed_files"] == ["src/a.py", "src/b.py"]


def test_each_difference_is_named() -> None:
    rerun = copy.deepcopy(RECORD)
    rerun["outcome"] = "rejected"
    rerun["rounds"][1]["outcome"] = "reject"
    rerun["rounds"][1]["verdicts"]["quality"] = "fail"
    rerun["executions"][0]["changed_files"].append("docs/x.md")
    rerun["gates"][0]["results"][0]["passed"] = False
    found = compare_outcomes(RECORD, rerun)
    assert "outcome: 'completed' then, 'rejected' now" in found
    assert "round 2 (result, iteration 1): decision approve then, reject now" in found
    assert "round 2 (result, iteration 1): quality judged pass then, fail now" in found
    assert any(f.startswith("changed_files:") for f in found)
    assert any(f.startswith("gates:") for f in found)
