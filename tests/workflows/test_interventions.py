"""Which interventions apply when: the rules alone, without a workflow around them."""

from __future__ import annotations

from pathlib import Path

from council.validation import parse_task_spec
from domain.interventions import Intervention, OverrideInput
from domain.task import TaskInput
from tests.support.repos import task_spec
from workflows.interventions import holds, refusal
from workflows.state import TaskRun


def run_with_bound(bound: int, taken: int) -> TaskRun:
    spec = parse_task_spec(task_spec(Path("/nonexistent")))
    run = TaskRun(TaskInput(task_id="t", spec=spec, max_holding_interventions=bound))
    run.phase = "awaiting_approval"
    run.holding_interventions = taken
    return run


def test_past_the_bound_what_holds_a_task_is_refused_with_what_is_left() -> None:
    run = run_with_bound(2, 2)
    for name in ("pause", "guidance", "parameters", "override"):
        why = refusal(run, name, OverrideInput(verdict="approve"))
        assert why is not None and "has taken 2" in why and "cancel" in why, name


def test_the_way_out_is_never_refused_for_the_number() -> None:
    run = run_with_bound(2, 2)
    run.paused = True
    assert refusal(run, "resume", Intervention()) is None
    assert refusal(run, "cancel", Intervention()) is None
    run.pending_action = "approve"
    assert refusal(run, "approve", Intervention()) is None
    # An override that decides the awaited approval is a way out, not a hold.
    assert not holds(run, "override")
    assert refusal(run, "override", OverrideInput(verdict="reject")) is None


def test_below_the_bound_nothing_changes() -> None:
    run = run_with_bound(2, 1)
    assert refusal(run, "pause", Intervention()) is None
    assert holds(run, "pause") and not holds(run, "resume") and not holds(run, "approve")
