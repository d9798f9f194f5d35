from __future__ import annotations

from council.models import Decision, Judgment, Violation
from domain.task import Round
from workflows.feedback import feedback_for_next_iteration


def _round(stage: str, iteration: int, outcome: str, rule: str) -> Round:
    judgment = Judgment(
        judge="technical",
        verdict="fail",
        confidence=0.8,
        violations=[Violation(rule=rule, severity="high", detail=f"{rule} detail")],
    )
    return Round(
        stage=stage,  # type: ignore[arg-type]
        iteration=iteration,
        judgments=[judgment],
        decision=Decision(outcome=outcome, score=0.5, threshold=0.6, reasons=["below"]),  # type: ignore[arg-type]
    )


def test_feedback_names_the_last_result_rounds_violations_and_the_guidance() -> None:
    rounds = [
        _round("plan", 0, "approve", "plan_rule"),
        _round("result", 1, "refine", "old_rule"),
        _round("result", 2, "refine", "gate_failed"),
    ]
    text = feedback_for_next_iteration(rounds, ["keep double() as it is"])
    assert "[technical/high] gate_failed: gate_failed detail" in text
    assert "old_rule" not in text and "plan_rule" not in text
    assert "after iteration 2" in text
    assert text.rstrip().endswith("- keep double() as it is")


def test_no_rounds_and_no_guidance_means_no_feedback() -> None:
    assert feedback_for_next_iteration([_round("plan", 0, "approve", "x")], []) == ""
