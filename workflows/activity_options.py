"""Timeouts and retry policies of every activity the task workflow calls.

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
# Retryable: an executor at capacity declines a claim so that another one takes it.
EXECUTOR_BUSY = "ExecutorBusy"
# A step ended because its executor host is shutting down: the host is lost.
HOST_SHUTDOWN = "HostShutdown"

NON_RETRYABLE = [INVALID_INPUT, EXECUTOR_REFUSED, APPLY_CONFLICT, NOT_FOUND]

# Short, local, idempotent work (validation, judging, records). Retried without a limit:
# a database or worker outage must delay the task, never lose it (a bug shows in the
# worker's log and the task waits in its phase, where a human can cancel it).
QUICK_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    non_retryable_error_types=NON_RETRYABLE,
)
# Also how long a retry waits when the worker running the attempt died.
QUICK_TIMEOUT = timedelta(seconds=15)

# Claiming an executor host: retried until one with room answers (bounded by the
# task's claim timeout, a schedule-to-close timeout).
CLAIM_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=1.5,
    maximum_interval=timedelta(seconds=5),
    non_retryable_error_types=NON_RETRYABLE,
)
CLAIM_START_TO_CLOSE = timedelta(seconds=10)

# Steps on the host's own queue (agent, gates) are attempted once: a step that stops
# heartbeating, that nobody takes from the queue, or whose host shuts down means the host
# is lost, and the workflow starts the sequence again on another host at once. Retrying
# on the same queue would only wait for the same silent host (a frozen process still
# holds its long polls, so the retry would be "started" and time out again, each time).
# The steps ride out transient trouble themselves (e.g. a database outage while storing
# the diff).
HOST_STEP_RETRY = RetryPolicy(maximum_attempts=1)
# A paused agent sits in its step; the step's own clock must allow for that. Liveness
# comes from heartbeats, the agent's timeout from the executor.
HOST_STEP_MARGIN = timedelta(hours=24)

# Suspending or resuming a process, and discarding a worktree: short, on the host queue.
CONTROL_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=300),
    backoff_coefficient=1.5,
    maximum_interval=timedelta(seconds=3),
    maximum_attempts=5,
    non_retryable_error_types=[INVALID_INPUT, EXECUTOR_REFUSED, NOT_FOUND],
)
CONTROL_TIMEOUT = timedelta(seconds=30)

# Applying on any executor: idempotent per task (the Agency-Task trailer), so retried
# freely; a conflict is final.
APPLY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=15),
    maximum_attempts=20,
    non_retryable_error_types=NON_RETRYABLE,
)
APPLY_TIMEOUT = timedelta(minutes=2)

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
