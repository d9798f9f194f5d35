"""Shared by the judges: turning violations into a verdict, a confidence and a rationale.

Verdict: any critical or high violation fails; otherwise any medium makes the judge
uncertain; lows alone (or nothing) pass.

Confidence is how sure the judge is of that verdict, a deterministic function of the
violation counts (rules are exact checks; what lowers confidence is borderline evidence):
  - fail:      1.0 with a critical; else 0.7 + 0.1 per high, at most 0.95
  - uncertain: 0.6 with one medium, 0.1 less per further medium, at least 0.3
  - pass:      1.0 with nothing; 0.05 less per low, at least 0.6
"""

from __future__ import annotations

from collections.abc import Iterable

from council.models import JudgeName, Judgment, Severity, Verdict, Violation

SEVERITY_ORDER: dict[Severity, int] = {"critical": 0, "high": 1, "medium": 2, "low": 3}
_MAX_DETAIL = 2000
_MAX_LISTED = 10


def violation(rule: str, severity: Severity, detail: str) -> Violation:
    if len(detail) > _MAX_DETAIL:
        detail = detail[: _MAX_DETAIL - 3] + "..."
    return Violation(rule=rule, severity=severity, detail=detail)


def listing(items: Iterable[str], limit: int = _MAX_LISTED) -> str:
    """'a, b, c' or 'a, b, ... and 7 more' so details stay short and bounded."""
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"


def verdict_of(violations: list[Violation]) -> Verdict:
    severities = {v.severity for v in violations}
    if severities & {"critical", "high"}:
        return "fail"
    if "medium" in severities:
        return "uncertain"
    return "pass"


def confidence_of(violations: list[Violation]) -> float:
    counts = {s: sum(1 for v in violations if v.severity == s) for s in SEVERITY_ORDER}
    verdict = verdict_of(violations)
    if verdict == "fail":
        return 1.0 if counts["critical"] else min(0.95, 0.7 + 0.1 * counts["high"])
    if verdict == "uncertain":
        return max(0.3, 0.6 - 0.1 * (counts["medium"] - 1))
    return max(0.6, 1.0 - 0.05 * counts["low"])


def make_judgment(judge: JudgeName, violations: list[Violation], clean: str) -> Judgment:
    """A judgment whose rationale is `clean` when nothing was found, else names the worst."""
    ordered = sorted(violations, key=lambda v: SEVERITY_ORDER[v.severity])
    verdict = verdict_of(ordered)
    if not ordered:
        rationale = clean
    else:
        worst = ordered[0]
        lead = {"fail": "Fails", "uncertain": "Uncertain", "pass": "Passes with notes"}[verdict]
        count = len(ordered)
        rationale = (
            f"{lead}: {count} issue{'s' if count != 1 else ''}; the most severe "
            f"({worst.severity}, {worst.rule}): {worst.detail}"
        )
    return Judgment(
        judge=judge,
        verdict=verdict,
        confidence=round(confidence_of(ordered), 4),
        violations=ordered,
        rationale=rationale[:4000],
    )
