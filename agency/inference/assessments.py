"""Judges' written assessments: what each judge asks the model, and what a vote means.

The rules decide; the model comments. An assessment is advisory unless the policy sets
`agency.model_assessment_vote`, and then the model's verdict is averaged with the rule
verdict of a judge whose rules found nothing serious (no critical or high violation):
rules stay authoritative for vetoes and blocking failures. A model that fails or stays
silent changes nothing; the failure is recorded in the assessment.
"""

from __future__ import annotations

import re

from agency.inference.types import ChatMessage
from council.models import Evidence, Judgment, Verdict
from council.spec import TaskSpec

MAX_ASSESSMENT = 2000

ROLES = {
    "constitutional": "scope, change budget, waivers and forbidden paths",
    "technical": "the agent's exit status, the quality gates, secrets and stubs",
    "quality": "acceptance criteria backed by tests and evidence",
    "integration": "blast radius, contracts, dependencies and migrations",
}

_VOTE = re.compile(r"verdict\s*[:=-]\s*\**\s*(pass|fail|uncertain)", re.IGNORECASE)
VALUE: dict[str, float] = {"pass": 1.0, "uncertain": 0.5, "fail": 0.0}


def assessment_messages(
    judgment: Judgment, spec: TaskSpec, evidence: Evidence
) -> list[ChatMessage]:
    facts = [
        f"Task {spec.id}: {spec.title} (mode {spec.mode}, risk tier {spec.risk_tier}).",
        f"Scope: {', '.join(spec.scope.in_) or '-'}.",
    ]
    if evidence.stage == "result":
        files = ", ".join(f.path for f in evidence.changed_files[:10]) or "none"
        gates = ", ".join(f"{g.name} {'passed' if g.passed else 'failed'}" for g in evidence.gates)
        facts += [
            f"Agent exit code: {evidence.agent_exit_code}.",
            f"Changed files: {files} (+{evidence.lines_added} -{evidence.lines_removed}).",
            f"Gates: {gates or 'none'}.",
        ]
    found = "; ".join(f"{v.severity} {v.rule}: {v.detail[:200]}" for v in judgment.violations[:6])
    facts += [
        f"Your rules found: {found or 'no violations'}.",
        f"Rule verdict: {judgment.verdict}. {judgment.rationale[:300]}",
    ]
    return [
        ChatMessage(
            role="system",
            content=(
                f"You are the {judgment.judge} judge of a code review council; you look at "
                f"{ROLES.get(judgment.judge, 'the change')}. Write two short sentences "
                "assessing the evidence, then a last line 'VERDICT: pass', 'VERDICT: fail' "
                "or 'VERDICT: uncertain'."
            ),
        ),
        ChatMessage(role="user", content="\n".join(facts)),
    ]


def model_vote(text: str) -> Verdict | None:
    match = _VOTE.search(text)
    return match.group(1).lower() if match else None  # type: ignore[return-value]


def with_assessment(judgment: Judgment, text: str, *, vote: bool) -> Judgment:
    """The judgment with the model's assessment; with `vote`, its verdict may move."""
    text = text.strip()[:MAX_ASSESSMENT] or "(the model wrote nothing)"
    update: dict[str, object] = {"assessment": text}
    opinion = model_vote(text) if vote else None
    serious = any(v.severity in ("critical", "high") for v in judgment.violations)
    if opinion is not None and not serious:
        value = (VALUE[judgment.verdict] + VALUE[opinion]) / 2
        verdict: Verdict = "pass" if value >= 0.75 else "fail" if value <= 0.25 else "uncertain"
        if verdict != judgment.verdict:
            update["verdict"] = verdict
            update["rationale"] = (
                f"{judgment.rationale} Model vote {opinion!r} moved the verdict from "
                f"{judgment.verdict} to {verdict}."
            )[:4000]
    return judgment.model_copy(update=update)


def with_failure(judgment: Judgment, reason: str) -> Judgment:
    """The rule judgment unchanged, with the model's failure recorded in its place."""
    return judgment.model_copy(update={"assessment": f"[no assessment: {reason}]"[:MAX_ASSESSMENT]})
