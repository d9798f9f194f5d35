"""One supervised child process: what to run (ChildSpec), how long to wait before a
restart (Backoff), and what the supervisor knows of it (Child: process, state, restarts,
its probe, its log's tail). agency.supervisor runs them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from agency.stack_state import PartState, PartStateName

# A readiness probe gets the pid of the process it checks (a restarted child has a new
# one) and returns None when ready, or a short reason why not. It must return within a
# few seconds: it runs on the monitor's pool, and `stop()` does not wait for it.
Probe = Callable[[int], str | None]

TAIL_LINES = 25


@dataclass
class ChildSpec:
    name: str
    argv: list[str]
    ready: Probe | None = None
    ready_timeout_s: float = 60.0
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Backoff:
    """Delays before restarts: initial_s, doubling up to max_s; back to initial_s once
    the child had stayed up reset_after_s (a crash an hour later is a new story)."""

    initial_s: float = 1.0
    max_s: float = 30.0
    reset_after_s: float = 60.0
    next_s: float = field(init=False)

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.max_s:
            raise ValueError("backoff needs 0 < initial_s <= max_s")
        self.next_s = self.initial_s

    def delay(self, up_for_s: float | None) -> float:
        """The delay before the next restart; `up_for_s` is None if it never got up."""
        if up_for_s is not None and up_for_s >= self.reset_after_s:
            self.next_s = self.initial_s
        delay = self.next_s
        self.next_s = min(self.next_s * 2, self.max_s)
        return delay


def exit_status(returncode: int) -> str:
    return f"killed by signal {-returncode}" if returncode < 0 else f"exit code {returncode}"


@dataclass(eq=False)
class Child:
    spec: ChildSpec
    log_path: Path
    backoff: Backoff
    process: subprocess.Popen[bytes] | None = None
    state: PartStateName = "starting"
    since: datetime = field(default_factory=lambda: datetime.now(UTC))
    restarts: int = 0
    last_exit: str | None = None
    # Monotonic times of the current process: launched, became up; when to restart.
    started_at: float = 0.0
    up_at: float | None = None
    restart_at: float = 0.0
    # The probe in flight (monitor phase), and the last reason it gave.
    probe: Future[str | None] | None = None
    probe_after: float = 0.0
    probe_reason: str = "not probed yet"

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail(self, lines: int = TAIL_LINES) -> str:
        return log_tail(self.log_path, lines)

    def death_report(self, when: str) -> str:
        code = None if self.process is None else self.process.returncode
        how = "not started" if code is None else exit_status(code)
        return (
            f"{self.name} exited {when} ({how}); last lines of {self.log_path}:\n"
            f"{self.tail() or '(log is empty)'}"
        )

    def part_state(self) -> PartState:
        # A pid only while a process of ours runs under it.
        running = self.state in ("starting", "up", "stopping")
        return PartState(
            name=self.name,
            state=self.state,
            pid=self.pid if running else None,
            restarts=self.restarts,
            last_exit=self.last_exit,
            since=self.since,
            log=str(self.log_path),
        )


def log_tail(path: Path, lines: int = TAIL_LINES) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 16 * 1024))
            data = handle.read()
    except OSError:
        return ""
    text = data.decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def signal_group(pid: int | None, sig: signal.Signals) -> None:
    """Signal a child's whole process group (it runs in a session of its own)."""
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def stop_waves(children: list[Child], order: list[list[str]] | None) -> list[list[Child]]:
    """The children in the waves `stop()` ends them in: those no wave names first, then
    each named wave; latest started first within a wave."""
    if not order:
        return [list(reversed(children))]
    named = {name for wave in order for name in wave}
    waves = [[c for c in reversed(children) if c.name not in named]]
    waves += [[c for c in reversed(children) if c.name in wave] for wave in order]
    return [wave for wave in waves if wave]
