"""Executor metrics: how long agents and gates run, and how many runs a host holds.

Observed by the executor's activities (activities/executor.py) around each step, so a
step's time includes its sandbox and worktree set-up: what a task waits for. `outcome`
is the run's state after the step (agency.executor.schemas.RunState), or "error" when
the step raised (the sandbox refused, the run was gone, the step was cancelled).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar

from prometheus_client import Gauge, Histogram

from agency.executor.schemas import RunState
from agency.metrics.labels import bounded, values_of

# A run's states, and what a step that raised ends as.
OUTCOMES = values_of(RunState) | {"error"}
STEP_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600)

AGENT_RUN_DURATION = Histogram(
    "agency_executor_agent_run_duration_seconds",
    "Time an agent step took on this executor (worktree, sandbox and agent), by outcome.",
    ["outcome"],
    buckets=STEP_BUCKETS,
)
GATE_RUN_DURATION = Histogram(
    "agency_executor_gate_run_duration_seconds",
    "Time a run's gates took on this executor (all of a run's gates together), by outcome.",
    ["outcome"],
    buckets=STEP_BUCKETS,
)
ACTIVE_RUNS = Gauge(
    "agency_executor_active_runs",
    "Runs this executor holds that have not ended (a claim's capacity is counted in these).",
)


class HasActiveRuns(Protocol):
    def active(self) -> int: ...


class HasState(Protocol):
    @property
    def state(self) -> str: ...


Status = TypeVar("Status", bound=HasState)


# The hosts of this process (one in production; a test may run several): the gauge is
# read from them at each scrape, so it is never stale. Weak, in case a host is dropped
# without leaving the block.
_hosts: weakref.WeakSet[HasActiveRuns] = weakref.WeakSet()
ACTIVE_RUNS.set_function(lambda: float(sum(host.active() for host in list(_hosts))))


@contextmanager
def active_runs_of(host: HasActiveRuns) -> Iterator[None]:
    """Count `host`'s runs in the gauge while the block runs (the host's lifetime)."""
    _hosts.add(host)
    try:
        yield
    finally:
        _hosts.discard(host)


async def timed_step(histogram: Histogram, step: Awaitable[Status]) -> Status:
    """Await `step`, observing its time in `histogram` with the run's state after it as
    the outcome, or "error" when it raised (cancellation included)."""
    started = time.perf_counter()
    outcome = "error"
    try:
        status = await step
        outcome = bounded(status.state, OUTCOMES, "error")
        return status
    finally:
        histogram.labels(outcome).observe(time.perf_counter() - started)
