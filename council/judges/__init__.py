"""The four judges, each a pure function of a JudgeContext, and `run_all` over them."""

from __future__ import annotations

from collections.abc import Callable

from council.judges import constitutional, integration, quality, technical
from council.judges.context import JudgeContext
from council.models import JUDGES, JudgeName, Judgment

JUDGE_FUNCTIONS: dict[JudgeName, Callable[[JudgeContext], Judgment]] = {
    "constitutional": constitutional.judge,
    "technical": technical.judge,
    "quality": quality.judge,
    "integration": integration.judge,
}


def run_all(ctx: JudgeContext) -> list[Judgment]:
    """Every judge's judgment, in the order of council.models.JUDGES."""
    return [JUDGE_FUNCTIONS[name](ctx) for name in JUDGES]


__all__ = ["JUDGE_FUNCTIONS", "JudgeContext", "run_all"]
