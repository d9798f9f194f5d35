"""Timeouts and retry policies of every activity the task workflow calls.

Kept in one place so that the policy for each side effect is visible at a glance: the
workflow's modules take an `ActivityConfig` from here and never spell a timeout
themselves. Non-retryable error types are the `type` names our activities raise through
`ApplicationError(..., type=...)` (domain/errors.py).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.workflow import ActivityCancellationType, ActivityConfig, LocalActivityConfig

with workflow.unsafe.imports_passed_through():
    from domain.errors import APPLY_CONFLICT, EXECUTOR_REFUSED, INVALID_INPUT, NOT_FOUND
    from domain.execution import ExecutorOptions

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
# Judging runs the rules and, when configured, the model's assessments (a minute's budget).
JUDGE_TIMEOUT = timedelta(minutes=2)

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


# --------------------------------------------------------- per activity, as called
# Validation, records and provenance.
QUICK = ActivityConfig(start_to_close_timeout=QUICK_TIMEOUT, retry_policy=QUICK_RETRY)
# The same work as local activities (workflows/versions.py), the same policies: an outage
# of the database delays the task. A retry waiting longer than `local_retry_threshold`
# waits on a durable timer rather than inside the workflow task. A worker that dies
# while one runs leaves its workflow task to time out; the next worker runs it again
# (records are stored once per task and sequence number, judging and validation only
# read).
LOCAL_RETRY_THRESHOLD = timedelta(seconds=10)
RECORDING = LocalActivityConfig(
    start_to_close_timeout=QUICK_TIMEOUT,
    retry_policy=QUICK_RETRY,
    local_retry_threshold=LOCAL_RETRY_THRESHOLD,
)
VALIDATING = RECORDING
JUDGING_LOCAL = LocalActivityConfig(
    start_to_close_timeout=JUDGE_TIMEOUT,
    retry_policy=QUICK_RETRY,
    local_retry_threshold=LOCAL_RETRY_THRESHOLD,
)
JUDGING = ActivityConfig(start_to_close_timeout=JUDGE_TIMEOUT, retry_policy=QUICK_RETRY)
DRAFTING = ActivityConfig(
    start_to_close_timeout=INFERENCE_TIMEOUT,
    heartbeat_timeout=INFERENCE_HEARTBEAT,
    retry_policy=INFERENCE_RETRY,
)


def claiming(executors: ExecutorOptions) -> ActivityConfig:
    """`claim_executor` on the shared executor queue, until the task's claim timeout."""
    return ActivityConfig(
        task_queue=executors.task_queue,
        start_to_close_timeout=CLAIM_START_TO_CLOSE,
        schedule_to_close_timeout=timedelta(seconds=executors.claim_timeout_s),
        retry_policy=CLAIM_RETRY,
    )


def host_step(executors: ExecutorOptions, host_queue: str, work: timedelta) -> ActivityConfig:
    """`run_agent` or `run_gates` on the run's host, whose `work` may take this long."""
    return ActivityConfig(
        task_queue=host_queue,
        start_to_close_timeout=work + HOST_STEP_MARGIN,
        heartbeat_timeout=timedelta(seconds=executors.heartbeat_timeout_s),
        schedule_to_start_timeout=timedelta(seconds=executors.lost_after_s),
        retry_policy=HOST_STEP_RETRY,
        # A canceled step stops its processes and cleans up before the workflow goes on.
        cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    )


def host_control(executors: ExecutorOptions, host_queue: str) -> ActivityConfig:
    """`control_agent` and `discard_run` on the run's host."""
    return ActivityConfig(
        task_queue=host_queue,
        start_to_close_timeout=CONTROL_TIMEOUT,
        schedule_to_start_timeout=timedelta(seconds=executors.lost_after_s),
        retry_policy=CONTROL_RETRY,
    )


def applying(executors: ExecutorOptions) -> ActivityConfig:
    """`apply_change` on any executor (the run's host may be gone)."""
    return ActivityConfig(
        task_queue=executors.task_queue,
        start_to_close_timeout=APPLY_TIMEOUT,
        heartbeat_timeout=timedelta(seconds=executors.heartbeat_timeout_s),
        schedule_to_close_timeout=timedelta(seconds=executors.claim_timeout_s),
        retry_policy=APPLY_RETRY,
    )
