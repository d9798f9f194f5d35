"""The stack of `agency up` (agency/stack.py) for a benchmark: Temporal dev server,
executor, workflow worker and API as separate processes on loopback, in a data dir of
the benchmark's own, on free ports, with the API's rate limits lifted.

Started and stopped by agency.stack.Stack itself, so a benchmark measures the processes
users run (same arguments, same dynamic config, same search attributes, same readiness
probes), not a copy of them. Only the environment differs: every AGENCY_ variable of the
caller is dropped, so that nothing outside the benchmark changes what it measures.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agency.admin_key import admin_key_path
from agency.asgi_thread import free_port
from agency.settings import Settings
from agency.stack import Stack

# Enough that the benchmark's clients never meet a rate limit: it measures the stack.
UNLIMITED = 10**9
# The variables Stack itself sets for its children (agency/stack.py, _child_env).
STACK_SET = frozenset({"AGENCY_DATA_DIR", "AGENCY_TEMPORAL_ADDRESS"})


def bench_settings(data_dir: Path, database_url: str | None) -> Settings:
    """Settings for a private stack: embedded Temporal and the API on free ports."""
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        temporal_address=None,
        temporal_port=free_port(),
        temporal_ui_port=free_port(),
        api_host="127.0.0.1",
        api_port=free_port(),
        rate_limit_viewer=UNLIMITED,
        rate_limit_operator=UNLIMITED,
        rate_limit_admin=UNLIMITED,
        # Metrics stay on (as in production) but on free ports: fixed ones would clash
        # with another stack on the machine.
        worker_metrics_port=free_port(),
        worker_sdk_metrics_port=free_port(),
        executor_metrics_port=free_port(),
        executor_sdk_metrics_port=free_port(),
    )


def child_overrides(settings: Settings) -> dict[str, str]:
    """What the children must agree with us on, beyond what Stack already passes."""
    env = {
        "AGENCY_API_HOST": settings.api_host,
        "AGENCY_API_PORT": str(settings.api_port),
        "AGENCY_TEMPORAL_UI_PORT": str(settings.temporal_ui_port),
        "AGENCY_RATE_LIMIT_VIEWER": str(settings.rate_limit_viewer),
        "AGENCY_RATE_LIMIT_OPERATOR": str(settings.rate_limit_operator),
        "AGENCY_RATE_LIMIT_ADMIN": str(settings.rate_limit_admin),
        "AGENCY_WORKER_METRICS_PORT": str(settings.worker_metrics_port),
        "AGENCY_WORKER_SDK_METRICS_PORT": str(settings.worker_sdk_metrics_port),
        "AGENCY_EXECUTOR_METRICS_PORT": str(settings.executor_metrics_port),
        "AGENCY_EXECUTOR_SDK_METRICS_PORT": str(settings.executor_sdk_metrics_port),
    }
    if settings.database_url:
        env["AGENCY_DATABASE_URL"] = settings.database_url
    return env


class BenchStack(Stack):
    """agency.stack.Stack whose children see only the benchmark's AGENCY_ variables."""

    def _child_env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in super()._child_env().items()
            if not k.startswith("AGENCY_") or k in STACK_SET
        }
        return {**env, **child_overrides(self.settings)}

    @property
    def admin_key(self) -> str:
        """The first admin key, which Stack wrote during startup."""
        return admin_key_path(self.settings).read_text().strip()

    def pid(self, name: str) -> int:
        """The pid of child `name` (temporal, executor, worker, api)."""
        child = next(c for c in self.supervisor.children if c.name == name)
        if child.pid is None:
            raise RuntimeError(f"{name} is not running")
        return child.pid

    def restarts(self) -> dict[str, int]:
        """Children the supervisor had to restart: a benchmark must not hide a crash."""
        return {c.name: c.restarts for c in self.supervisor.children if c.restarts}


@contextmanager
def running_stack(data_dir: Path, database_url: str | None) -> Iterator[BenchStack]:
    """Start the whole stack and stop every process of it on the way out, however it is
    left (an error, Ctrl-C, a timeout)."""
    stack = BenchStack(bench_settings(data_dir, database_url))
    with stack:
        yield stack
