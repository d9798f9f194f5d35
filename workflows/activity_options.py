"""Timeouts and retry policies of every activity the task workflow calls (DESIGN.md §9.2).

Kept in one place so that the policy for each side effect is visible at a glance.
Non-retryable error types are the `type` names our activities raise through
`ApplicationError(..., type=...)`.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

# Error types (ApplicationError.type) that retrying cannot fix.
INVALID_INPUT = "InvalidInput"
EXECUTOR_REFUSED = "ExecutorRefused"
APPLY_CONFLICT = "ApplyConflict"
NOT_FOUND = "NotFound"

NON_RETRYABLE = [INVALID_INPUT, EXECUTOR_REFUSED, APPLY_CONFLICT, NOT_FOUND]

# Short, local, idempotent work (validation, judging, records).
QUICK_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=10,
    non_retryable_error_types=NON_RETRYABLE,
)
QUICK_TIMEOUT = timedelta(seconds=30)

# Calls to an executor over HTTP. The executor is idempotent per run id, so a retried
# call never runs the agent twice.
EXECUTOR_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=15),
    maximum_attempts=8,
    non_retryable_error_types=NON_RETRYABLE,
)
# Heartbeats from a long execution: a worker that dies is noticed within this window.
EXECUTION_HEARTBEAT = timedelta(seconds=15)
# Room for the executor's own timeouts plus the time to make the worktree.
EXECUTION_MARGIN = timedelta(minutes=5)

# Suspending or resuming a process: a run may not exist yet when a pause arrives just
# after execution starts, so NotFound is retried here (a handful of times).
CONTROL_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=300),
    backoff_coefficient=1.5,
    maximum_interval=timedelta(seconds=3),
    maximum_attempts=10,
    non_retryable_error_types=[INVALID_INPUT, EXECUTOR_REFUSED],
)

# Generation on the worker's inference engine (drafting a model agent's patch). A
# missing or unknown model is InvalidInput (retrying cannot install it); anything else
# is retried a few times. Heartbeats show the engine is still producing tokens.
INFERENCE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=3,
    non_retryable_error_types=NON_RETRYABLE,
)
INFERENCE_TIMEOUT = timedelta(minutes=15)
INFERENCE_HEARTBEAT = timedelta(minutes=2)
