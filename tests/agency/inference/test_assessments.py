"""What a judge asks the model, and what its assessment does to the verdict."""

from __future__ import annotations

import pytest

from agency.inference.assessments import (
    assessment_messages,
    model_vote,
    with_assessment,
    with_failure,
)
from council.models import Judgment, Violation
from tests.council.factories import make_spec, result_evidence


def judgment(verdict: str = "pass", *violations: Violation) -> Judgment:
    return Judgment(
        judge="quality",
        verdict=verdict,  # type: ignore[arg-type]
        confidence=0.9,
        violations=list(violations),
        rationale="rules said so",
    )


def test_the_prompt_carries_the_evidence_and_the_rule_verdict() -> None:
    high = Violation(rule="tests_missing", severity="high", detail="no test for A1")
    system, user = assessment_messages(judgment("fail", high), make_spec(), result_evidence())
    assert "quality judge" in system.content and "VERDICT" in system.content
    assert "tests_missing" in user.content and "Rule verdict: fail" in user.content
    assert "Agent exit code: 0" in user.content


@pytest.mark.parametrize(
    ("text", "vote"),
    [
        ("Looks fine.\nVERDICT: pass", "pass"),
        ("verdict - FAIL because tests are missing", "fail"),
        ("**Verdict:** uncertain", "uncertain"),
        ("I think it is good.", None),
    ],
)
def test_the_models_vote_is_read_from_its_last_line(text: str, vote: str | None) -> None:
    assert model_vote(text) == vote


def test_an_assessment_is_advisory_unless_the_policy_makes_it_a_vote() -> None:
    advisory = with_assessment(judgment("pass"), "Risky.\nVERDICT: fail", vote=False)
    assert advisory.verdict == "pass" and advisory.assessment == "Risky.\nVERDICT: fail"
    voted = with_assessment(judgment("pass"), "Risky.\nVERDICT: fail", vote=True)
    assert voted.verdict == "uncertain" and "Model vote 'fail'" in voted.rationale
    agreed = with_assessment(judgment("uncertain"), "Fine. VERDICT: pass", vote=True)
    assert agreed.verdict == "pass"
    silent = with_assessment(judgment("pass"), "No opinion.", vote=True)
    assert silent.verdict == "pass"


def test_rules_stay_authoritative_for_vetoes_and_blocking_failures() -> None:
    for severity in ("critical", "high"):
        found = Violation(rule="r", severity=severity, detail="d")  # type: ignore[arg-type]
        kept = with_assessment(judgment("fail", found), "All good. VERDICT: pass", vote=True)
        assert kept.verdict == "fail" and kept.violations == [found]


def test_a_failure_is_recorded_and_changes_nothing_else() -> None:
    before = judgment("fail")
    after = with_failure(before, "the model failed: boom")
    assert after.assessment == "[no assessment: the model failed: boom]"
    assert after.model_copy(update={"assessment": None}) == before
