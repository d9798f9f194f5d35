"""Process-group supervision with real child processes: startup, restarts, state file, stop."""

from __future__ import annotations

import os
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agency.readiness import http_probe
from agency.stack import STOP_ORDER
from agency.stack_state import PartState, StackState, read_stack_state
from agency.supervisor import Backoff, ChildSpec, Probe, StackError, Supervisor

# Fast supervision for tests: restarts after 50 ms, 100 ms, 200 ms, 200 ms, ...
FAST = {"backoff_initial_s": 0.05, "backoff_max_s": 0.2, "poll_s": 0.02}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gone(pid: int, within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                # A zombie waiting for its (new) parent to reap it is dead too.
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def wait_until(predicate: Callable[[], object], within_s: float = 15.0) -> None:
    deadline = time.monotonic() + within_s
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {within_s}s")
        time.sleep(0.02)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def looping_child(flags: Path, name: str) -> list[str]:
    """A child that reports ready by creating `ready-<pid>` and then runs until killed.

    It exits 1 at once while `flags/crash-<name>` exists and starts without ever getting
    ready while `flags/hang-<name>` exists; on SIGTERM it logs to `flags/stops`, takes
    0.3 s, and logs again (so stop waves can be told apart).
    """
    code = f"""
import os, signal, sys, time
flags, name = {str(flags)!r}, {name!r}
def log(line):
    with open(os.path.join(flags, "stops"), "a") as out:
        out.write(line + "\\n")
def term(*_):
    log(name + " term")
    time.sleep(0.3)
    log(name + " exit")
    sys.exit(0)
signal.signal(signal.SIGTERM, term)
if os.path.exists(os.path.join(flags, "crash-" + name)):
    sys.exit(1)
if not os.path.exists(os.path.join(flags, "hang-" + name)):
    open(os.path.join(flags, "ready-%d" % os.getpid()), "w").close()
while True:
    time.sleep(1)
"""
    return python(code)


def ready_file(flags: Path) -> Probe:
    # Pid-aware like the Temporal poller probe: a predecessor's file does not count.
    def probe(pid: int) -> str | None:
        return None if (flags / f"ready-{pid}").exists() else "no ready file yet"

    return probe


class Reports:
    """The report callback's lines (it is called from the monitor thread)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, line: str) -> None:
        with self._lock:
            self.lines.append(line)

    def matching(self, pattern: str) -> list[str]:
        with self._lock:
            return [line for line in self.lines if re.search(pattern, line)]


@pytest.fixture
def flags(tmp_path: Path) -> Path:
    path = tmp_path / "flags"
    path.mkdir()
    return path


@pytest.fixture
def reports() -> Reports:
    return Reports()


@pytest.fixture
def supervisor(tmp_path: Path, reports: Reports) -> Iterator[Supervisor]:
    sup = Supervisor(tmp_path / "logs", state_file=tmp_path / "stack.json", report=reports, **FAST)
    yield sup
    sup.stop(grace_s=1)


def start_looping(sup: Supervisor, flags: Path, name: str, timeout_s: float = 20) -> int:
    child = sup.start(
        ChildSpec(name, looping_child(flags, name), ready_file(flags), ready_timeout_s=timeout_s)
    )
    assert child.pid is not None
    return child.pid


def parts(tmp_path: Path) -> dict[str, PartState]:
    state = read_stack_state(tmp_path / "stack.json")
    assert state is not None
    return {part.name: part for part in state.parts}


def part(tmp_path: Path, name: str) -> PartState:
    return parts(tmp_path)[name]


def text_of(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def reported_delays(log: Path, name: str) -> list[float]:
    text = text_of(log)
    return [
        float(d) for d in re.findall(rf"{name} \(pid \d+\) died: .*restarting in ([\d.]+)s", text)
    ]


# ------------------------------------------------------------------------ startup


def test_http_child_becomes_ready_logs_and_stops(supervisor: Supervisor, tmp_path: Path) -> None:
    port = free_port()
    child = supervisor.start(
        ChildSpec(
            "web",
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
            ready=http_probe(f"http://127.0.0.1:{port}/"),
            ready_timeout_s=20,
        )
    )
    assert child.alive() and child.pid is not None
    # Its own process group, so a terminal's Ctrl-C does not reach it directly.
    assert os.getpgid(child.pid) == child.pid != os.getpgid(0)
    assert (tmp_path / "logs" / "web.log").read_text().count("starting:") == 1
    assert part(tmp_path, "web").state == "up"
    supervisor.stop(grace_s=5)
    assert gone(child.pid)
    assert supervisor.children == []


def test_child_dying_during_startup_is_reported_with_its_log(supervisor: Supervisor) -> None:
    spec = ChildSpec(
        "broken",
        python("import sys; print('cannot bind: port taken', flush=True); sys.exit(3)"),
        ready=lambda _pid: "not yet",
        ready_timeout_s=20,
    )
    with pytest.raises(StackError) as caught:
        supervisor.start(spec)
    message = str(caught.value)
    assert "broken exited during startup" in message
    assert "exit code 3" in message
    assert "cannot bind: port taken" in message


def test_earlier_child_dying_while_a_later_one_starts_fails_the_startup(
    supervisor: Supervisor,
) -> None:
    supervisor.start(ChildSpec("first", python("import sys, time; time.sleep(0.3); sys.exit(4)")))
    with pytest.raises(StackError, match=r"first exited during startup \(exit code 4\)"):
        supervisor.start(
            ChildSpec("second", python("import time; time.sleep(30)"), ready=lambda _pid: "no")
        )


def test_child_that_never_gets_ready_times_out(supervisor: Supervisor) -> None:
    spec = ChildSpec(
        "slow",
        python("import time; time.sleep(30)"),
        ready=lambda _pid: "still warming",
        ready_timeout_s=0.5,
    )
    with pytest.raises(StackError, match=r"did not become ready within .*still warming"):
        supervisor.start(spec)


def test_check_before_supervision_reports_a_dead_child(supervisor: Supervisor) -> None:
    child = supervisor.start(ChildSpec("short", python("print('bye', flush=True)")))
    wait_until(lambda: not child.alive())
    with pytest.raises(StackError) as caught:
        supervisor.check()
    assert "short exited during startup (exit code 0)" in str(caught.value)
    assert str(caught.value).endswith("bye")


def test_planned_parts_are_listed_before_they_start(
    supervisor: Supervisor, tmp_path: Path, flags: Path
) -> None:
    supervisor.plan(["a", "b"])
    assert {n: (p.state, p.pid) for n, p in parts(tmp_path).items()} == {
        "a": ("starting", None),
        "b": ("starting", None),
    }
    start_looping(supervisor, flags, "a")
    state = read_stack_state(tmp_path / "stack.json")
    assert state is not None and not state.all_up()
    assert [p.state for p in state.parts] == ["up", "starting"]
    with pytest.raises(RuntimeError, match="planned but not started: b"):
        supervisor.supervise()
    start_looping(supervisor, flags, "b")
    state = read_stack_state(tmp_path / "stack.json")
    assert state is not None and state.all_up()


def test_a_planned_part_never_started_ends_stopped(supervisor: Supervisor, tmp_path: Path) -> None:
    supervisor.plan(["later"])
    supervisor.stop(grace_s=1)
    assert part(tmp_path, "later").state == "stopped"


# -------------------------------------------------------------------- supervision


def test_killed_child_is_restarted_and_the_others_keep_running(
    supervisor: Supervisor, tmp_path: Path, flags: Path, reports: Reports
) -> None:
    pids = {name: start_looping(supervisor, flags, name) for name in ("a", "b", "c")}
    supervisor.supervise()
    supervisor.check()  # supervising, nothing to complain about

    os.kill(pids["b"], signal.SIGKILL)
    wait_until(lambda: part(tmp_path, "b").state == "up" and part(tmp_path, "b").restarts == 1)

    after = parts(tmp_path)
    assert after["b"].pid not in (None, pids["b"])
    assert after["b"].last_exit == "killed by signal 9"
    assert after["b"].log == str(tmp_path / "logs" / "b.log")
    for name in ("a", "c"):
        assert (after[name].pid, after[name].restarts, after[name].state) == (pids[name], 0, "up")
        assert after[name].last_exit is None
    # Reported to the caller and to supervisor.log alike.
    died = rf"b \(pid {pids['b']}\) died: killed by signal 9; restarts so far: 0"
    restarted = rf"b restarted \(restart 1, pid {after['b'].pid}\)"
    log = (tmp_path / "logs" / "supervisor.log").read_text()
    for pattern in (died, restarted, r"b is up again"):
        assert reports.matching(pattern), pattern
        assert re.search(pattern, log), pattern
    assert "restart 1:" in (tmp_path / "logs" / "b.log").read_text()
    # A dead child is restarted, not a reason to stop the stack.
    supervisor.check()


def test_backoff_grows_to_its_cap_and_resets_after_a_good_run(tmp_path: Path, flags: Path) -> None:
    sup = Supervisor(
        tmp_path / "logs",
        state_file=tmp_path / "stack.json",
        backoff_initial_s=0.05,
        backoff_max_s=0.2,
        backoff_reset_after_s=0.5,
        poll_s=0.02,
    )
    log = tmp_path / "logs" / "supervisor.log"
    try:
        pid = start_looping(sup, flags, "flaky")
        sup.supervise()
        (flags / "crash-flaky").touch()
        os.kill(pid, signal.SIGKILL)
        # Every restart now exits 1 at once: the delay doubles up to the cap.
        wait_until(lambda: len(reported_delays(log, "flaky")) >= 5)
        assert reported_delays(log, "flaky")[:5] == [0.05, 0.1, 0.2, 0.2, 0.2]
        assert part(tmp_path, "flaky").last_exit == "exit code 1"

        (flags / "crash-flaky").unlink()
        wait_until(lambda: part(tmp_path, "flaky").state == "up")
        recovered = part(tmp_path, "flaky")
        assert recovered.restarts >= 5

        # Up for longer than backoff_reset_after_s: the next death starts over.
        wait_until(lambda: time.time() - recovered.since.timestamp() > 0.6)
        deaths = len(reported_delays(log, "flaky"))
        assert recovered.pid is not None
        os.kill(recovered.pid, signal.SIGKILL)
        wait_until(lambda: len(reported_delays(log, "flaky")) > deaths)
        assert reported_delays(log, "flaky")[deaths] == 0.05
    finally:
        sup.stop(grace_s=1)


def test_restarted_child_that_never_gets_ready_is_killed_and_tried_again(
    tmp_path: Path, flags: Path
) -> None:
    sup = Supervisor(tmp_path / "logs", state_file=tmp_path / "stack.json", **FAST)
    log = tmp_path / "logs" / "supervisor.log"
    try:
        pid = start_looping(sup, flags, "hung", timeout_s=1.0)
        sup.supervise()
        (flags / "hang-hung").touch()
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: "did not become ready within 1s" in text_of(log))
        wait_until(lambda: part(tmp_path, "hung").restarts >= 2)
        (flags / "hang-hung").unlink()
        wait_until(lambda: part(tmp_path, "hung").state == "up")
    finally:
        sup.stop(grace_s=1)


def test_a_restart_that_cannot_exec_is_tried_again(tmp_path: Path) -> None:
    script = tmp_path / "child.sh"
    script.write_text("#!/bin/sh\nexec sleep 60\n")
    script.chmod(0o755)
    sup = Supervisor(tmp_path / "logs", state_file=tmp_path / "stack.json", **FAST)
    log = tmp_path / "logs" / "supervisor.log"
    try:
        child = sup.start(ChildSpec("gone", [str(script)]))
        sup.supervise()
        script.rename(tmp_path / "aside.sh")
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        wait_until(lambda: part(tmp_path, "gone").last_exit == "could not start")
        assert f"gone: cannot start {script}" in text_of(log)
        (tmp_path / "aside.sh").rename(script)
        wait_until(lambda: part(tmp_path, "gone").state == "up")
        assert part(tmp_path, "gone").restarts >= 2
    finally:
        sup.stop(grace_s=1)


def test_stop_goes_in_waves_and_leaves_every_part_stopped(tmp_path: Path, flags: Path) -> None:
    # A long backoff keeps the killed worker in "restarting" until the stop.
    sup = Supervisor(
        tmp_path / "logs",
        state_file=tmp_path / "stack.json",
        backoff_initial_s=30,
        backoff_max_s=30,
        poll_s=0.02,
    )
    names = ["temporal", "executor", "worker", "api"]
    pids = {name: start_looping(sup, flags, name) for name in names}
    sup.supervise()
    os.kill(pids["worker"], signal.SIGKILL)
    wait_until(lambda: part(tmp_path, "worker").state == "restarting")
    assert part(tmp_path, "worker").pid is None

    sup.stop(grace_s=5, order=STOP_ORDER)

    assert all(gone(pid) for pid in pids.values())
    final = parts(tmp_path)
    assert [p.state for p in final.values()] == ["stopped"] * 4
    assert all(p.pid is None for p in final.values())
    assert final["worker"].last_exit == "killed by signal 9"
    stops = (flags / "stops").read_text().splitlines()
    # Each of the first wave took 0.3 s to exit; Temporal heard of it only afterwards.
    assert stops.index("temporal term") > max(
        stops.index(f"{name} exit") for name in ("api", "executor")
    )
    assert "worker term" not in stops  # it was dead already
    state = read_stack_state(tmp_path / "stack.json")
    assert isinstance(state, StackState) and state.supervisor_pid == os.getpid()


def test_stop_kills_the_whole_group_and_ignorers_of_sigterm(
    supervisor: Supervisor, tmp_path: Path
) -> None:
    # The leader ignores SIGTERM and has a grandchild in its group.
    code = (
        "import signal, subprocess, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "p = subprocess.Popen(['sleep', '60'])\n"
        "print('grandchild', p.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    child = supervisor.start(ChildSpec("stubborn", python(code)))
    log = tmp_path / "logs" / "stubborn.log"

    def announced() -> list[str]:
        # The log's header repeats the argv, so look for the printed line itself.
        return [line for line in log.read_text().splitlines() if line.startswith("grandchild ")]

    wait_until(announced, within_s=10)
    grandchild = int(announced()[0].split()[1])
    assert child.pid is not None
    started = time.monotonic()
    supervisor.stop(grace_s=0.5)
    assert time.monotonic() - started < 5
    assert gone(child.pid) and gone(grandchild)


def test_backoff_doubles_caps_and_resets() -> None:
    backoff = Backoff(initial_s=1, max_s=30, reset_after_s=60)
    assert [backoff.delay(None) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff.delay(59.0) == 30  # not up long enough
    assert backoff.delay(60.0) == 1
    with pytest.raises(ValueError):
        Backoff(initial_s=0)
