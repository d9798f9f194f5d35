"""Process-group supervision with real child processes."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import pytest

from agency.stack import http_probe
from agency.supervisor import ChildSpec, StackError, Supervisor


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


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


@pytest.fixture
def supervisor(tmp_path: Path) -> Supervisor:
    sup = Supervisor(tmp_path / "logs")
    yield sup
    sup.stop(grace_s=1)


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
    assert child.alive()
    # Its own process group, so a terminal's Ctrl-C does not reach it directly.
    assert os.getpgid(child.pid) == child.pid != os.getpgid(0)
    assert (tmp_path / "logs" / "web.log").read_text().count("starting:") == 1
    supervisor.stop(grace_s=5)
    assert gone(child.pid)
    assert supervisor.children == []


def test_child_dying_during_startup_is_reported_with_its_log(supervisor: Supervisor) -> None:
    spec = ChildSpec(
        "broken",
        python("import sys; print('cannot bind: port taken', flush=True); sys.exit(3)"),
        ready=lambda: "not yet",
        ready_timeout_s=20,
    )
    with pytest.raises(StackError) as caught:
        supervisor.start(spec)
    message = str(caught.value)
    assert "broken exited during startup" in message
    assert "exit code 3" in message
    assert "cannot bind: port taken" in message


def test_child_that_never_gets_ready_times_out(supervisor: Supervisor) -> None:
    spec = ChildSpec(
        "slow",
        python("import time; time.sleep(30)"),
        ready=lambda: "still warming",
        ready_timeout_s=0.5,
    )
    with pytest.raises(StackError, match=r"did not become ready within .*still warming"):
        supervisor.start(spec)


def test_check_reports_a_child_that_died_later(supervisor: Supervisor) -> None:
    supervisor.start(
        ChildSpec("short", python("import time; print('bye', flush=True); time.sleep(0.3)"))
    )
    time.sleep(1.0)
    with pytest.raises(StackError) as caught:
        supervisor.check()
    assert "short exited unexpectedly (exit code 0)" in str(caught.value)
    assert str(caught.value).endswith("bye")


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

    deadline = time.monotonic() + 10
    while not announced() and time.monotonic() < deadline:
        time.sleep(0.05)
    grandchild = int(announced()[0].split()[1])
    started = time.monotonic()
    supervisor.stop(grace_s=0.5)
    assert time.monotonic() - started < 5
    assert gone(child.pid) and gone(grandchild)
