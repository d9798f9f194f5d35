"""The phases a task goes through, in the order the workflow enters them, and the
ones that end it."""

from __future__ import annotations

from typing import Literal, get_args

Phase = Literal[
    "queued",
    "validating",
    "plan_review",
    "executing",
    "gating",
    "result_review",
    "awaiting_approval",
    "applying",
    "recording",
    "completed",
    "failed",
    "rejected",
    "canceled",
]
# Every phase, in that order (the dashboard lists them so).
PHASES: tuple[str, ...] = get_args(Phase)
TERMINAL_PHASES: frozenset[str] = frozenset({"completed", "failed", "rejected", "canceled"})
