"""Verdict, confidence and rationale from violations."""

from __future__ import annotations

import pytest

from council.judges.common import confidence_of, listing, make_judgment, verdict_of, violation
from council.models import Violation


def vs(*severities: str) -> list[Violation]:
    return [violation(f"r{i}", s, f"detail {i}") for i, s in enumerate(severities)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("severities", "verdict", "confidence"),
    [
        ((), "pass", 1.0),
        (("low",), "pass", 0.95),
        (("low",) * 20, "pass", 0.6),
        (("medium",), "uncertain", 0.6),
        (("medium", "medium", "low"), "uncertain", 0.5),
        (("medium",) * 10, "uncertain", 0.3),
        (("high",), "fail", 0.8),
        (("high", "high", "medium"), "fail", 0.9),
        (("high",) * 5, "fail", 0.95),
        (("critical", "low"), "fail", 1.0),
    ],
)
def test_verdict_and_confidence_table(
    severities: tuple[str, ...], verdict: str, confidence: float
) -> None:
    found = vs(*severities)
    assert verdict_of(found) == verdict
    assert confidence_of(found) == pytest.approx(confidence)


def test_rationale_names_the_worst_violation() -> None:
    j = make_judgment("quality", vs("low", "high", "medium"), clean="all good")
    assert j.verdict == "fail"
    assert j.rationale.startswith("Fails: 3 issues")
    assert "(high, r1): detail 1" in j.rationale
    assert [v.severity for v in j.violations] == ["high", "medium", "low"]


def test_rationale_when_clean() -> None:
    j = make_judgment("technical", [], clean="all good")
    assert (j.verdict, j.rationale, j.confidence) == ("pass", "all good", 1.0)


def test_long_details_are_bounded() -> None:
    assert len(violation("r", "low", "x" * 5000).detail) == 2000


def test_listing_is_bounded() -> None:
    assert listing(["a", "b"]) == "a, b"
    assert listing([str(i) for i in range(12)], limit=3) == "0, 1, 2 and 9 more"
