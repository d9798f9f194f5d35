"""Turning executor errors into Temporal activity errors with the right retry behaviour."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

from agency.executor.client import ExecutorError
from workflows import activity_options as opts


def executor_failure(err: ExecutorError) -> ApplicationError:
    if err.retryable:
        return ApplicationError(f"executor unavailable: {err.detail}")
    if err.status == 404:
        return ApplicationError(err.detail, type=opts.NOT_FOUND)
    if err.status == 409:
        return ApplicationError(err.detail, type=opts.APPLY_CONFLICT)
    return ApplicationError(err.detail, type=opts.EXECUTOR_REFUSED)
