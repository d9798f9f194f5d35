"""Quality judge, rule by rule."""

from __future__ import annotations

import pytest

from council.judges import quality
from council.judges.context import JudgeContext
from council.models import Judgment
from tests.council.factories import (
    changed,
    gate,
    make_ctx,
    make_policy,
    make_spec,
    plan_evidence,
    result_evidence,
    rules,
    severity_of,
)

SRC_ONLY = [changed("src/http/client.py")]
SRC_LINES = {"src/http/client.py": ["x = 1"]}


def judged(ctx: JudgeContext) -> Judgment:
    return quality.judge(ctx)


def test_clean_result_and_plan_pass() -> None:
    for evidence in (result_evidence(), plan_evidence()):
        j = judged(make_ctx(evidence=evidence))
        assert (j.verdict, j.violations) == ("pass", [])


# ---------------------------------------------------------------------- acceptance backing
def test_criterion_without_any_evidence_is_medium() -> None:
    spec = make_spec(acceptance=[{"id": "A1"}, {"id": "A2"}])
    evidence = result_evidence(gates=[gate("tests", covers=["A1"])])
    j = judged(make_ctx(spec=spec, evidence=evidence))
    assert rules(j) == {"acceptance_unbacked"}
    assert severity_of(j, "acceptance_unbacked") == "medium"
    assert "A2" in j.violations[0].detail
    assert len(j.violations) == 1  # A1 is covered


def test_covers_declared_in_the_spec_count() -> None:
    spec = make_spec(
        acceptance=[{"id": "A1"}, {"id": "A2"}],
        gates=[
            {"name": "tests", "argv": ["pytest"], "covers": ["A1"]},
            {"name": "e2e", "argv": ["e2e"], "covers": ["A2"]},
        ],
    )
    evidence = result_evidence(gates=[gate("tests"), gate("e2e")])
    assert rules(judged(make_ctx(spec=spec, evidence=evidence))) == set()


def test_any_passed_gate_without_covers_backs_weakly() -> None:
    spec = make_spec(acceptance=[{"id": "A1"}, {"id": "A2"}])
    evidence = result_evidence(gates=[gate("tests")])  # no covers anywhere
    assert rules(judged(make_ctx(spec=spec, evidence=evidence))) == set()


def test_failed_gate_backs_nothing() -> None:
    evidence = result_evidence(
        gates=[gate("tests", passed=False, covers=["A1"])],
        changed_files=SRC_ONLY,
        added_lines=SRC_LINES,
    )
    j = judged(make_ctx(spec=make_spec(mode="refactor"), evidence=evidence))
    assert rules(j) == {"acceptance_unbacked"}


def test_added_test_mentioning_the_id_backs_it() -> None:
    spec = make_spec(acceptance=[{"id": "AC-7"}])
    evidence = result_evidence(
        gates=[gate("tests", passed=False)],
        changed_files=[changed("tests/test_retry.py")],
        added_lines={"tests/test_retry.py": ["def test_third_try():  # AC-7"]},
    )
    assert rules(judged(make_ctx(spec=spec, evidence=evidence))) == set()
    # A mention of a longer id is not a mention of this one.
    other = evidence.model_copy(
        update={"added_lines": {"tests/test_retry.py": ["# AC-70 and XAC-7"]}}
    )
    assert rules(judged(make_ctx(spec=spec, evidence=other))) == {"acceptance_unbacked"}


def test_id_mentioned_in_a_non_test_file_does_not_count() -> None:
    spec = make_spec(mode="refactor", acceptance=[{"id": "A1"}])
    evidence = result_evidence(
        gates=[], changed_files=SRC_ONLY, added_lines={"src/http/client.py": ["# A1"]}
    )
    assert rules(judged(make_ctx(spec=spec, evidence=evidence))) == {"acceptance_unbacked"}


def test_no_acceptance_is_high_at_both_stages() -> None:
    spec = make_spec().model_copy(update={"acceptance": []})
    for evidence in (plan_evidence(), result_evidence()):
        j = judged(make_ctx(spec=spec, evidence=evidence))
        assert severity_of(j, "acceptance_missing") == "high"
        assert j.verdict == "fail"


# ---------------------------------------------------------------------- tests added
@pytest.mark.parametrize("mode", ["feature", "fix"])
def test_feature_or_fix_without_tests_is_medium(mode: str) -> None:
    evidence = result_evidence(changed_files=SRC_ONLY, added_lines=SRC_LINES)
    j = judged(make_ctx(spec=make_spec(mode=mode), evidence=evidence))
    assert rules(j) == {"tests_missing"}
    assert severity_of(j, "tests_missing") == "medium"


@pytest.mark.parametrize("mode", ["refactor", "doc", "chore"])
def test_other_modes_need_no_new_tests(mode: str) -> None:
    evidence = result_evidence(changed_files=SRC_ONLY, added_lines=SRC_LINES)
    assert rules(judged(make_ctx(spec=make_spec(mode=mode), evidence=evidence))) == set()


@pytest.mark.parametrize(
    "test_path", ["tests/test_a.py", "src/http/client_test.go", "web/a.test.ts", "spec/a_spec.rb"]
)
def test_feature_with_a_test_file_is_fine(test_path: str) -> None:
    evidence = result_evidence(changed_files=[*SRC_ONLY, changed(test_path)], added_lines={})
    assert "tests_missing" not in rules(judged(make_ctx(evidence=evidence)))


def test_deleting_a_test_is_not_adding_one() -> None:
    files = [*SRC_ONLY, changed("tests/test_a.py", 0, 10, status="deleted")]
    evidence = result_evidence(changed_files=files, added_lines={})
    assert "tests_missing" in rules(judged(make_ctx(evidence=evidence)))


# ---------------------------------------------------------------------- coverage
@pytest.mark.parametrize(
    ("output", "percent"),
    [
        ("Name    Stmts   Miss  Cover\nTOTAL     120     12    90%\n", 90.0),
        ("ok  pkg  0.1s  coverage: 81.5% of statements", 81.5),
        ("coverage: 50%\n...\nTOTAL 10 1 90%", 90.0),
        ("no figures here", None),
    ],
)
def test_coverage_percent_parsing(output: str, percent: float | None) -> None:
    assert quality.coverage_percent(output) == percent


def test_low_coverage_is_low() -> None:
    evidence = result_evidence(gates=[gate("tests", output_tail="TOTAL  200  80  60%")])
    j = judged(make_ctx(evidence=evidence))
    assert rules(j) == {"coverage_low"}
    assert severity_of(j, "coverage_low") == "low"
    assert j.verdict == "pass"


def test_coverage_at_or_over_threshold_is_fine() -> None:
    evidence = result_evidence(gates=[gate("tests", output_tail="TOTAL  200  40  80%")])
    assert rules(judged(make_ctx(evidence=evidence))) == set()
    low = result_evidence(gates=[gate("tests", output_tail="coverage: 55%")])
    assert rules(judged(make_ctx(policy=make_policy(coverage_threshold=50), evidence=low))) == set()


# ---------------------------------------------------------------------- plan stage
def test_plan_acceptance_with_no_gate_is_medium() -> None:
    j = judged(make_ctx(spec=make_spec(gates=[]), evidence=plan_evidence()))
    assert rules(j) == {"acceptance_no_gate"}
    assert severity_of(j, "acceptance_no_gate") == "medium"


def test_plan_gate_covering_other_criteria_only() -> None:
    spec = make_spec(
        acceptance=[{"id": "A1"}, {"id": "A2"}],
        gates=[{"name": "tests", "argv": ["pytest"], "covers": ["A1"]}],
    )
    j = judged(make_ctx(spec=spec, evidence=plan_evidence()))
    assert [v.detail for v in j.violations] == [
        "acceptance criterion A2 has no gate planned to back it"
    ]


def test_plan_generic_gate_backs_everything() -> None:
    spec = make_spec(acceptance=[{"id": "A1"}, {"id": "A2"}])
    assert rules(judged(make_ctx(spec=spec, evidence=plan_evidence()))) == set()
