"""The API's HTTP metrics: requests and their latency by route template, and the
dependency failures it catches (a 503, a stream that waits, a read without its live part).

Labels are bounded: `route` is the matched route's path template (`/api/v1/tasks/{task_id}`,
never the id itself) or UNMATCHED, `method` one of HTTP_METHODS or "other" (a client may
send any token as a method), `status` the status code the API chose.
"""

from __future__ import annotations

import functools

from prometheus_client import Counter, Histogram

from agency.metrics.labels import bounded

UNMATCHED = "unmatched"
HTTP_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)
# Seconds: from a millisecond (a cached read) to half a minute (a submission that waits
# for Temporal); a server-sent event stream is observed when it ends, in the last buckets.
LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
DEPENDENCIES = ("database", "temporal", "unknown")

HTTP_REQUESTS = Counter(
    "agency_http_requests",
    "HTTP requests the API answered, by route template, method and status code.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "agency_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by route template and method.",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
# How the API handled a dependency's failure: answered 503 (the request failed), kept a
# stream open and retried (SSE), or answered a read without the live part (a task's view
# without its workflow's live state).
HANDLED = ("answered_503", "stream_retried", "read_degraded")

DEPENDENCY_ERRORS = Counter(
    "agency_api_dependency_errors",
    "Failures of a dependency the API caught, by dependency (unknown: a network failure or "
    "timeout it could not attribute) and how it handled them.",
    ["dependency", "handled"],
)
for _dependency in DEPENDENCIES:
    for _handled in HANDLED:
        # Series at 0 from the start: a rate() over a counter that appears late misses
        # its first increments.
        DEPENDENCY_ERRORS.labels(_dependency, _handled)


def method_label(method: str) -> str:
    return bounded(method.upper(), HTTP_METHODS)


@functools.cache
def _series(route: str, method: str, status: int) -> tuple[Counter, Histogram]:
    """The two series of a request's labels, looked up once: `labels()` validates and
    locks on each call, half of the middleware's cost. The cache is keyed by label values
    only (the method already bounded), so it is as bounded as the series are."""
    return HTTP_REQUESTS.labels(route, method, str(status)), HTTP_DURATION.labels(route, method)


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    requests, duration = _series(route, method_label(method), status)
    requests.inc()
    duration.observe(seconds)


def count_unavailable(*down: str) -> None:
    """One 503 answered for `down` (the dependencies found down; none: unknown)."""
    for dependency in down or ("unknown",):
        count_dependency_error(dependency, "answered_503")


def count_dependency_error(dependency: str, handled: str) -> None:
    DEPENDENCY_ERRORS.labels(
        bounded(dependency, DEPENDENCIES, "unknown"), bounded(handled, HANDLED)
    ).inc()
