"""Child processes of the one-machine stack: start, wait until ready, watch, stop.

Each child runs in its own session (so its own process group): Ctrl-C in the terminal
reaches only us, and stopping a child signals its whole group, including whatever it
spawned. Output goes to `<log_dir>/<name>.log`, whose tail is shown when a child dies.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

# A readiness probe returns None when ready, or a short reason why not (shown on timeout).
Probe = Callable[[], str | None]

POLL_S = 0.25
TAIL_LINES = 25


class StackError(Exception):
    """A child could not start or died; the message says which and shows its log tail."""


@dataclass
class ChildSpec:
    name: str
    argv: list[str]
    ready: Probe | None = None
    ready_timeout_s: float = 60.0
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Child:
    spec: ChildSpec
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = TAIL_LINES) -> str:
        return log_tail(self.log_path, lines)

    def death_report(self, when: str) -> str:
        code = self.process.returncode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        return (
            f"{self.name} exited {when} ({how}); last lines of {self.log_path}:\n"
            f"{self.tail() or '(log is empty)'}"
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


class Supervisor:
    def __init__(self, log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.log_dir = log_dir
        self.env = dict(os.environ if env is None else env)
        self.children: list[Child] = []

    def start(self, spec: ChildSpec) -> Child:
        """Start a child and block until its probe says ready (or raise StackError)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{spec.name}.log"
        with log_path.open("ab") as log:
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            log.write(f"\n=== {stamp} starting: {' '.join(spec.argv)}\n".encode())
            log.flush()
            try:
                process = subprocess.Popen(
                    spec.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**self.env, **spec.env},
                    start_new_session=True,
                )
            except OSError as exc:
                raise StackError(f"{spec.name}: cannot start {spec.argv[0]}: {exc}") from None
        child = Child(spec, process, log_path)
        self.children.append(child)
        self._wait_ready(child)
        return child

    def _wait_ready(self, child: Child) -> None:
        deadline = time.monotonic() + child.spec.ready_timeout_s
        reason: str | None = "not probed yet"
        while True:
            if not child.alive():
                raise StackError(child.death_report("during startup"))
            if child.spec.ready is None:
                return
            reason = child.spec.ready()
            if reason is None:
                return
            if time.monotonic() >= deadline:
                raise StackError(
                    f"{child.name} did not become ready within {child.spec.ready_timeout_s:.0f}s "
                    f"({reason}); last lines of {child.log_path}:\n{child.tail()}"
                )
            time.sleep(POLL_S)

    def check(self) -> None:
        """Raise StackError if any child has exited."""
        for child in self.children:
            if not child.alive():
                raise StackError(child.death_report("unexpectedly"))

    def wait(self) -> None:
        """Block until a child dies (StackError) or we are interrupted (KeyboardInterrupt)."""
        while True:
            self.check()
            time.sleep(POLL_S * 2)

    def stop(self, grace_s: float = 10.0, order: list[list[str]] | None = None) -> None:
        """SIGTERM each group, SIGKILL what is left after the grace period.

        `order` lists waves of child names stopped one wave after the other (the API and
        workers before the server they talk to); children not named go in the first wave.
        """
        waves = _waves(self.children, order)
        for wave in waves:
            for child in wave:
                _signal_group(child, signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            # A second Ctrl-C while stopping means: stop waiting, kill now.
            with contextlib.suppress(KeyboardInterrupt):
                while any(child.alive() for child in wave) and time.monotonic() < deadline:
                    time.sleep(POLL_S / 2)
            for child in wave:
                # Also reaps stragglers the leader left in its group.
                _signal_group(child, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.process.wait(timeout=5)
        self.children.clear()


def _signal_group(child: Child, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, sig)


def _waves(children: list[Child], order: list[list[str]] | None) -> list[list[Child]]:
    if not order:
        return [list(reversed(children))]
    named = {name for wave in order for name in wave}
    waves = [[c for c in reversed(children) if c.name not in named]]
    waves += [[c for c in reversed(children) if c.name in wave] for wave in order]
    return [wave for wave in waves if wave]
