"""Failure types (`ApplicationError.type`) that activities raise and the workflow reads.

They are the contract between the two sides: the workflow's retry policies name the ones
retrying cannot fix (workflows/activity_options.py), and it takes some as a sign that a
host is lost.
"""

from __future__ import annotations

# Retrying cannot fix these.
INVALID_INPUT = "InvalidInput"
EXECUTOR_REFUSED = "ExecutorRefused"
APPLY_CONFLICT = "ApplyConflict"
NOT_FOUND = "NotFound"
# Retryable: an executor at capacity declines a claim so that another one takes it.
EXECUTOR_BUSY = "ExecutorBusy"
# A step ended because its executor host is shutting down: the host is lost.
HOST_SHUTDOWN = "HostShutdown"
