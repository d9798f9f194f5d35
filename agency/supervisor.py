"""Child processes of the one-machine stack: start, wait until ready, supervise, stop.

Each child runs in its own session (so its own process group): Ctrl-C in the terminal
reaches only us, and stopping a child signals its whole group, including whatever it
spawned. Output goes to `<log_dir>/<name>.log`, whose tail is shown when a child dies
during startup.

Two phases. `plan()` lists the children to come (so the state file shows all of them
from the start); `start()` launches one and blocks until its probe says ready; a child
that dies then is a misconfiguration and raises StackError (retrying would loop
forever). Once every child is up, `supervise()` starts a monitor thread that polls every
`poll_s`: a child that dies is marked "restarting", relaunched when its backoff is due
(capped exponential, reset after it stayed up `backoff_reset_after_s`), "starting" until
its probe passes (probes run on a small pool, so a slow one never holds up the loop),
then "up". Deaths and restarts go to the `report` callback and `<log_dir>/supervisor.log`;
every state change rewrites the state file (agency/stack_state.py). Only `stop()` ends
children, in waves.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from agency.stack_state import PartStateName, StackState, write_stack_state
from agency.supervised import (
    Backoff,
    Child,
    ChildSpec,
    Probe,
    exit_status,
    signal_group,
    stop_waves,
)

POLL_S = 0.25
# How long stop() waits for the monitor thread to finish its current round.
MONITOR_JOIN_S = 5.0

__all__ = ["Backoff", "ChildSpec", "Probe", "StackError", "Supervisor"]


class StackError(Exception):
    """A child could not start or died; the message says which and shows its log tail."""


def _stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Supervisor:
    def __init__(
        self,
        log_dir: Path,
        env: dict[str, str] | None = None,
        *,
        state_file: Path | None = None,
        report: Callable[[str], None] | None = None,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 30.0,
        backoff_reset_after_s: float = 60.0,
        poll_s: float = POLL_S,
    ) -> None:
        self.log_dir = log_dir
        self.env = dict(os.environ if env is None else env)
        self.state_file = state_file
        self.report = report or (lambda _line: None)
        self.backoff = (backoff_initial_s, backoff_max_s, backoff_reset_after_s)
        Backoff(*self.backoff)  # refuse bad parameters now, not at the first death
        self.poll_s = poll_s
        self.children: list[Child] = []
        # Serialises state changes, state-file writes and log lines between the monitor
        # thread and the caller's thread.
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._monitor: threading.Thread | None = None
        self._probes: ThreadPoolExecutor | None = None
        self._failure: BaseException | None = None
        self._state_file_broken = False

    @property
    def supervisor_log(self) -> Path:
        return self.log_dir / "supervisor.log"

    # ------------------------------------------------------------------ reporting
    def note(self, line: str) -> None:
        """Report a line and append it to supervisor.log (which must never stop us)."""
        with self._lock:
            with contextlib.suppress(OSError):
                self.log_dir.mkdir(parents=True, exist_ok=True)
                with self.supervisor_log.open("a", encoding="utf-8") as log:
                    log.write(f"{_stamp()} {line}\n")
            # A terminal that went away (EIO, EPIPE) must not end supervision either.
            with contextlib.suppress(OSError):
                self.report(line)

    def snapshot(self) -> StackState:
        with self._lock:
            return StackState(
                supervisor_pid=os.getpid(),
                updated_at=datetime.now(UTC),
                parts=[child.part_state() for child in self.children],
            )

    def _set_state(self, child: Child, state: PartStateName) -> None:
        with self._lock:
            child.state = state
            child.since = datetime.now(UTC)
            self._write_state()

    def _write_state(self) -> None:
        if self.state_file is None:
            return
        try:
            write_stack_state(self.state_file, self.snapshot())
        except OSError as exc:
            # The file is for people and the API; a full disk must not stop supervision.
            if not self._state_file_broken:
                self._state_file_broken = True
                self.note(f"cannot write {self.state_file}: {exc}")
        else:
            self._state_file_broken = False

    # ------------------------------------------------------------------- startup
    def plan(self, names: list[str]) -> None:
        """Announce the children start() will start, so that the state file lists each
        from the beginning ("starting", no pid): a reader must not take the first two
        parts being up for the whole stack being up."""
        known = {child.name for child in self.children}
        for name in names:
            if name not in known:
                spec = ChildSpec(name, [])
                self.children.append(Child(spec, self._log_path(name), Backoff(*self.backoff)))
        self._write_state()

    def start(self, spec: ChildSpec) -> Child:
        """Start a child and block until its probe says ready (or raise StackError)."""
        if self._monitor is not None:
            raise RuntimeError("children are started before supervise()")
        child = next((c for c in self.children if c.name == spec.name), None)
        if child is None:
            child = Child(spec, self._log_path(spec.name), Backoff(*self.backoff))
        elif child.process is not None:
            raise RuntimeError(f"{spec.name} is started already")
        child.spec = spec
        self._launch(child, "starting")
        if child not in self.children:
            self.children.append(child)
        self._write_state()
        self._wait_ready(child)
        child.up_at = time.monotonic()
        self._set_state(child, "up")
        return child

    def _log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def _launch(self, child: Child, what: str) -> None:
        spec = child.spec
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with child.log_path.open("ab") as log:
            log.write(f"\n=== {_stamp()} {what}: {' '.join(spec.argv)}\n".encode())
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
        with self._lock:
            child.process = process
            child.started_at = time.monotonic()
            child.up_at = None
            child.probe = None
            child.probe_after = 0.0
            child.probe_reason = "not probed yet"
            child.state = "starting"
            child.since = datetime.now(UTC)

    def _wait_ready(self, child: Child) -> None:
        deadline = time.monotonic() + child.spec.ready_timeout_s
        while True:
            # An earlier child dying while this one starts fails the startup too.
            for other in self.children:
                if other.process is not None and not other.alive():
                    raise StackError(other.death_report("during startup"))
            if child.spec.ready is None:
                return
            assert child.pid is not None
            reason = child.spec.ready(child.pid)
            if reason is None:
                return
            if time.monotonic() >= deadline:
                raise StackError(
                    f"{child.name} did not become ready within {child.spec.ready_timeout_s:.0f}s "
                    f"({reason}); last lines of {child.log_path}:\n{child.tail()}"
                )
            time.sleep(self.poll_s)

    # --------------------------------------------------------------- supervision
    def supervise(self) -> None:
        """From now on restart children that die, until stop()."""
        if self._monitor is not None:
            return
        unstarted = [child.name for child in self.children if child.process is None]
        if unstarted:
            raise RuntimeError(f"planned but not started: {', '.join(unstarted)}")
        self._stopping.clear()
        self._failure = None
        self._probes = ThreadPoolExecutor(
            max_workers=max(1, len(self.children)), thread_name_prefix="supervisor-probe"
        )
        # A daemon: if our process ends without stop(), the thread must not keep it alive.
        self._monitor = threading.Thread(target=self._run, name="supervisor", daemon=True)
        self._monitor.start()

    def _run(self) -> None:
        try:
            while not self._stopping.wait(self.poll_s):
                for child in list(self.children):
                    if self._stopping.is_set():
                        return
                    self._tick(child)
        except BaseException as exc:
            self._failure = exc
            self.note(f"the supervisor failed: {type(exc).__name__}: {exc}")

    def _tick(self, child: Child) -> None:
        now = time.monotonic()
        if child.state in ("starting", "up"):
            assert child.process is not None
            code = child.process.poll()
            if code is not None:
                self._died(child, code, now)
            elif child.state == "starting":
                self._probe(child, now)
        elif child.state == "restarting" and now >= child.restart_at:
            self._restart(child)

    def _died(self, child: Child, code: int, now: float) -> None:
        assert child.pid is not None
        pid = child.pid
        # Whatever it spawned goes too: a stray grandchild could hold its port.
        signal_group(pid, signal.SIGKILL)
        up_for = None if child.up_at is None else now - child.up_at
        delay = child.backoff.delay(up_for)
        with self._lock:
            child.last_exit = exit_status(code)
            child.restart_at = now + delay
            child.probe = None
            self.note(
                f"{child.name} (pid {pid}) died: {child.last_exit}; restarts so far: "
                f"{child.restarts}; restarting in {delay:.3g}s (log: {child.log_path})"
            )
            self._set_state(child, "restarting")

    def _restart(self, child: Child) -> None:
        child.restarts += 1
        try:
            self._launch(child, f"restart {child.restarts}")
        except StackError as exc:
            delay = child.backoff.delay(None)
            with self._lock:
                child.last_exit = "could not start"
                child.restart_at = time.monotonic() + delay
                self.note(f"{exc}; trying again in {delay:.3g}s")
                self._set_state(child, "restarting")
            return
        self.note(f"{child.name} restarted (restart {child.restarts}, pid {child.pid})")
        self._write_state()

    def _probe(self, child: Child, now: float) -> None:
        pid = child.pid
        assert pid is not None
        if child.probe is not None and child.probe.done():
            future, child.probe = child.probe, None
            try:
                reason = future.result()
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
            if reason is None:
                self._became_up(child, now)
                return
            child.probe_reason = reason
            child.probe_after = now + self.poll_s
        if child.spec.ready is None:
            self._became_up(child, now)
            return
        if now - child.started_at >= child.spec.ready_timeout_s:
            # Hung rather than dead: kill it; the next round sees the death and restarts it.
            self.note(
                f"{child.name} (pid {pid}) did not become ready within "
                f"{child.spec.ready_timeout_s:.0f}s ({child.probe_reason}); killing it"
            )
            signal_group(pid, signal.SIGKILL)
            return
        if child.probe is None and now >= child.probe_after and self._probes is not None:
            child.probe = self._probes.submit(child.spec.ready, pid)

    def _became_up(self, child: Child, now: float) -> None:
        child.up_at = now
        # Reported before the state file says "up", so that whoever sees the one finds
        # the other.
        self.note(f"{child.name} is up again (pid {child.pid}, restart {child.restarts})")
        self._set_state(child, "up")

    def check(self) -> None:
        """Raise StackError if the stack cannot go on by itself.

        Before supervise(): if any child has exited (startup failed). After: only if the
        monitor thread itself failed, since dead children are restarted.
        """
        if self._failure is not None:
            raise StackError(
                f"the supervisor failed ({type(self._failure).__name__}: {self._failure}); "
                f"see {self.supervisor_log}"
            )
        if self._monitor is None:
            for child in self.children:
                if child.process is not None and not child.alive():
                    raise StackError(child.death_report("during startup"))

    def wait(self) -> None:
        """Block until interrupted (KeyboardInterrupt) or the stack cannot go on (StackError)."""
        while True:
            self.check()
            time.sleep(self.poll_s * 2)

    # ---------------------------------------------------------------------- stop
    def stop(self, grace_s: float = 10.0, order: list[list[str]] | None = None) -> None:
        """SIGTERM each group, SIGKILL what is left after the grace period.

        `order` lists waves of child names stopped one wave after the other (the API and
        workers before the server they talk to); children not named go in the first wave.
        """
        self._end_monitor()
        for wave in stop_waves(self.children, order):
            running = [child for child in wave if child.alive()]
            for child in wave:
                if child.alive():
                    self._set_state(child, "stopping")
                    signal_group(child.pid, signal.SIGTERM)
                else:
                    if child.state in ("starting", "up"):
                        # It died before the monitor noticed: its group was not reaped yet.
                        signal_group(child.pid, signal.SIGKILL)
                    self._set_state(child, "stopped")
            deadline = time.monotonic() + grace_s
            # A second Ctrl-C while stopping means: stop waiting, kill now.
            with contextlib.suppress(KeyboardInterrupt):
                while any(child.alive() for child in running) and time.monotonic() < deadline:
                    time.sleep(self.poll_s / 2)
            for child in running:
                # Also reaps stragglers the leader left in its group.
                signal_group(child.pid, signal.SIGKILL)
                assert child.process is not None
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.process.wait(timeout=5)
                self._set_state(child, "stopped")
        self.children.clear()

    def _end_monitor(self) -> None:
        self._stopping.set()
        monitor, self._monitor = self._monitor, None
        if monitor is not None:
            deadline = time.monotonic() + MONITOR_JOIN_S
            with contextlib.suppress(KeyboardInterrupt):
                while monitor.is_alive() and time.monotonic() < deadline:
                    monitor.join(timeout=0.1)
        if self._probes is not None:
            # Probes are bounded; their results are no longer wanted.
            self._probes.shutdown(wait=False, cancel_futures=True)
            self._probes = None
