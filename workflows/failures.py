"""How a task ends early, and what an activity's failure means for it."""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ActivityError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from domain.phases import Phase


class TaskEnded(Exception):
    """Ends the task early with a terminal phase and a reason (not a Temporal failure)."""

    def __init__(self, phase: Phase, error: str | None) -> None:
        super().__init__(error or phase)
        self.phase: Phase = phase
        self.error = error


def reraise_cancellation(err: ActivityError) -> None:
    """An activity that ended because the workflow was canceled is a cancellation,
    not a failure of the task."""
    if is_cancelled_exception(err):
        raise asyncio.CancelledError() from err


def cause(err: BaseException) -> str:
    """The innermost message of an activity failure, for humans."""
    while err.__cause__ is not None:
        err = err.__cause__
    return str(err)
