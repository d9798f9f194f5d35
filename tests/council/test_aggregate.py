"""decide(): the aggregation table."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from council.aggregate import decide, weighted_score
from council.judges.common import violation
from council.models import JUDGES, Judgment
from council.policy import Policy
from tests.council.factories import make_policy

P, U, F = "pass", "uncertain", "fail"


def judgments(*verdicts: str, critical_in: int | None = None) -> list[Judgment]:
    out = []
    for i, (name, verdict) in enumerate(zip(JUDGES, verdicts, strict=False)):
        found = []
        if verdict == F:
            found.append(violation("some_rule", "high", "x"))
        if verdict == U:
            found.append(violation("some_rule", "medium", "x"))
        if i == critical_in:
            found.append(violation("forbidden_path", "critical", "touches .git/config"))
        out.append(Judgment(judge=name, verdict=verdict, confidence=0.9, violations=found))  # type: ignore[arg-type]
    return out


@dataclass(frozen=True)
class Case:
    name: str
    verdicts: tuple[str, ...]
    tier: int
    stage: str
    mode: str
    can_refine: bool
    expected: str
    critical_in: int | None = None


CASES = [
    # veto
    Case(
        "critical vetoes even when all pass", (P, P, P, P), 2, "result", "auto", True, "reject", 3
    ),
    Case("critical vetoes at plan", (P, P, P, P), 3, "plan", "strict", False, "reject", 0),
    # tier 1: all four must pass
    Case("t1 all pass", (P, P, P, P), 1, "result", "auto", True, "approve"),
    Case("t1 all pass at plan", (P, P, P, P), 1, "plan", "strict", False, "approve"),
    Case("t1 one uncertain refines", (P, U, P, P), 1, "result", "auto", True, "refine"),
    Case("t1 one uncertain strict refines", (P, U, P, P), 1, "result", "strict", True, "refine"),
    Case("t1 no iterations left rejects", (P, U, P, P), 1, "result", "auto", False, "reject"),
    Case("t1 plan cannot refine", (P, P, F, P), 1, "plan", "auto", True, "reject"),
    Case("t1 missing judgment", (P, P, P), 1, "result", "auto", False, "reject"),
    # tier 2/3 weighted: 0.4/0.2/0.2/0.2, threshold 0.6, margin 0.1
    Case("t2 0.8 approves", (P, F, P, P), 2, "result", "auto", True, "approve"),
    Case("t2 exactly 0.6 approves", (F, P, P, P), 2, "result", "strict", True, "approve"),
    Case(
        "t2 uncertain above threshold approves",
        (P, U, U, U),
        2,
        "result",
        "strict",
        True,
        "approve",
    ),
    Case("t2 close call strict escalates", (F, P, P, U), 2, "result", "strict", True, "escalate"),
    Case("t2 close call auto refines", (F, P, P, U), 2, "result", "auto", True, "refine"),
    Case("t2 close call dry_run refines", (F, P, P, U), 2, "result", "dry_run", True, "refine"),
    Case("t2 close call out of iterations", (F, P, P, U), 2, "result", "auto", False, "reject"),
    Case("t2 close call plan auto approves", (F, P, P, U), 2, "plan", "auto", False, "approve"),
    Case("t2 close call plan dry_run", (F, P, P, U), 2, "plan", "dry_run", True, "approve"),
    Case("t2 close call plan strict", (F, P, P, U), 2, "plan", "strict", False, "escalate"),
    Case("t3 close call strict escalates", (P, F, U, F), 3, "result", "strict", True, "escalate"),
    Case("t2 below refines", (F, F, P, P), 2, "result", "auto", True, "refine"),
    Case("t2 below strict refines", (F, F, P, P), 2, "result", "strict", True, "refine"),
    Case("t2 below out of iterations", (F, F, P, P), 2, "result", "auto", False, "reject"),
    Case("t2 below at plan rejects", (F, F, P, P), 2, "plan", "auto", True, "reject"),
    Case("t3 far below rejects", (F, F, F, U), 3, "result", "strict", False, "reject"),
    Case("t3 missing judgments count as fail", (F, P), 3, "result", "auto", False, "reject"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_decision_table(case: Case) -> None:
    decision = decide(
        judgments(*case.verdicts, critical_in=case.critical_in),
        risk_tier=case.tier,
        policy=make_policy(),
        stage=case.stage,  # type: ignore[arg-type]
        execution_mode=case.mode,
        can_refine=case.can_refine,
    )
    assert decision.outcome == case.expected
    assert decision.reasons[0].endswith(".")
    assert decision.threshold == make_policy().threshold(case.tier)
    if case.critical_in is not None:
        assert [v.rule for v in decision.vetoes] == ["forbidden_path"]
        assert "Vetoed" in decision.reasons[0]
    else:
        assert decision.vetoes == []


def test_close_call_needs_an_uncertain_judge() -> None:
    # threshold 0.7: a score of 0.6 with no uncertain judge is plainly below, not close.
    policy = make_policy(thresholds={"2": 0.7})
    plain = judgments(F, P, P, P)
    strict = decide(
        plain, risk_tier=2, policy=policy, stage="result", execution_mode="strict", can_refine=False
    )
    assert strict.outcome == "reject"
    hedged = judgments(U, F, P, P)  # 0.2 + 0.4 = 0.6, with an uncertain judge
    assert (
        decide(
            hedged,
            risk_tier=2,
            policy=policy,
            stage="result",
            execution_mode="strict",
            can_refine=False,
        ).outcome
        == "escalate"
    )


def test_margin_from_policy() -> None:
    hedged = judgments(F, P, P, U)  # 0.5 against 0.6
    narrow = make_policy(close_call_margin=0.05)
    decision = decide(
        hedged,
        risk_tier=2,
        policy=narrow,
        stage="result",
        execution_mode="strict",
        can_refine=False,
    )
    assert decision.outcome == "reject"


def test_weighted_score_uses_policy_weights() -> None:
    assert weighted_score(judgments(P, F, F, F), make_policy()) == pytest.approx(0.4)
    assert weighted_score(judgments(U, U, U, U), make_policy()) == pytest.approx(0.5)
    equal = make_policy(weights=dict.fromkeys(JUDGES, 1.0))
    assert weighted_score(judgments(P, F, F, F), equal) == pytest.approx(0.25)
    assert weighted_score([], make_policy()) == 0.0


def test_reasons_summarise_each_judge() -> None:
    decision = decide(
        judgments(P, P, P, P),
        risk_tier=2,
        policy=Policy(),
        stage="result",
        execution_mode="auto",
        can_refine=True,
    )
    assert decision.score == pytest.approx(1.0)
    assert "meets" in decision.reasons[0]
    assert [r.split(":")[0] for r in decision.reasons[1:]] == list(JUDGES)


@pytest.mark.parametrize("rule", ["gate_failed", "agent_failed", "agent_timed_out"])
def test_a_failed_blocking_check_is_never_outvoted(rule: str) -> None:
    policy = make_policy()
    found = [
        Judgment(judge="constitutional", verdict="pass", confidence=1.0),
        Judgment(
            judge="technical",
            verdict="fail",
            confidence=0.8,
            violations=[violation(rule, "high", "tests exited 1")],
        ),
        Judgment(judge="quality", verdict="pass", confidence=1.0),
        Judgment(judge="integration", verdict="pass", confidence=1.0),
    ]
    assert weighted_score(found, policy) >= policy.threshold(2)  # the majority would approve
    refine = decide(
        found, risk_tier=2, policy=policy, stage="result", execution_mode="auto", can_refine=True
    )
    assert refine.outcome == "refine" and rule in refine.reasons[0]
    last = decide(
        found, risk_tier=2, policy=policy, stage="result", execution_mode="auto", can_refine=False
    )
    assert last.outcome == "reject"


def test_a_warn_mode_gate_failure_does_not_block() -> None:
    policy = make_policy()
    found = [
        Judgment(judge="constitutional", verdict="pass", confidence=1.0),
        Judgment(
            judge="technical",
            verdict="uncertain",
            confidence=0.6,
            violations=[violation("gate_failed", "medium", "lint exited 1")],
        ),
        Judgment(judge="quality", verdict="pass", confidence=1.0),
        Judgment(judge="integration", verdict="pass", confidence=1.0),
    ]
    decision = decide(
        found, risk_tier=2, policy=policy, stage="result", execution_mode="auto", can_refine=True
    )
    assert decision.outcome == "approve"
