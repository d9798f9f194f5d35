"""The embedded stack (`agency up`, SQLite) under faults: its supervisor restarts what dies,
and a stack killed whole resumes every open task when `agency up` runs again.

Each child of `agency up` (the executor, the worker, the API, the Temporal dev server)
is killed with SIGKILL while two tasks' agents run; the supervisor starts it again by
itself, and both tasks must end as they would have: completed, applied exactly once,
provenance verified, audit gapless. Then every process of the stack, `agency up`
included, is killed at once mid-agent, and a new `agency up` on the same data dir must
finish the tasks (Temporal's state is in its file under the data dir).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agency.asgi_thread import free_port
from agency.stack_state import is_running, read_stack_state
from tests.faults.deployment import PROJECT_ROOT, wait_until
from tests.faults.tasks import Tasks, agent_running

pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]

AGENT_SECONDS = 5.0
UP_TIMEOUT_S = 180.0


@dataclass
class AgencyUp:
    """`agency up` as a user runs it, on a data dir and ports of the test's own."""

    root: Path
    api_port: int = field(default_factory=free_port)
    temporal_port: int = field(default_factory=free_port)
    ui_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    runs: int = 0

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGENCY_")}
        env.update(
            {
                "AGENCY_DATA_DIR": str(self.data_dir),
                "AGENCY_API_PORT": str(self.api_port),
                "AGENCY_API_URL": self.api_url,
                "AGENCY_TEMPORAL_PORT": str(self.temporal_port),
                "AGENCY_TEMPORAL_UI_PORT": str(self.ui_port),
                "AGENCY_EXECUTOR_HEARTBEAT_TIMEOUT_S": "3",
                "AGENCY_EXECUTOR_LOST_AFTER_S": "3",
                "PYTHONPATH": str(PROJECT_ROOT),
            }
        )
        return env

    def start(self) -> None:
        self.runs += 1
        log = (self.root / f"up-{self.runs}.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "agency.cli", "up"],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        wait_until(self.all_up, UP_TIMEOUT_S, "agency up to bring every part up")

    def state(self) -> Any:
        return read_stack_state(self.data_dir / "stack.json")

    def all_up(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            log = (self.root / f"up-{self.runs}.log").read_text(errors="replace")
            raise AssertionError(f"agency up exited {self.process.returncode}:\n{log[-3000:]}")
        state = self.state()
        return state is not None and is_running(state) and state.all_up()

    def part(self, name: str) -> Any:
        return next(p for p in self.state().parts if p.name == name)

    def admin_key(self) -> str:
        return (self.data_dir / "admin.key").read_text().strip()

    def kill_everything(self) -> None:
        """SIGKILL `agency up` and each of its children at once, as a power cut would
        (their own children, agents in their sandboxes, die with them)."""
        assert self.process is not None
        pids = [p.pid for p in self.state().parts if p.pid]
        self.process.kill()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgencyUp]:
    up = AgencyUp(tmp_path_factory.mktemp("agency-up"))
    try:
        up.start()
        yield up
    finally:
        up.stop()


@pytest.fixture
def tasks(stack: AgencyUp, tmp_path: Path) -> Iterator[Tasks]:
    client = Tasks(stack.api_url, stack.admin_key(), tmp_path)
    try:
        yield client
    finally:
        client.close()


def agents_running(stack: AgencyUp, count: int) -> bool:
    return any(agent_running(d, count) for d in (stack.data_dir / "executors").glob("*"))


@pytest.mark.parametrize("child", ["executor", "worker", "api", "temporal"])
def test_a_killed_child_is_restarted_and_the_tasks_complete(
    stack: AgencyUp, tasks: Tasks, child: str
) -> None:
    in_flight = [tasks.submit(AGENT_SECONDS), tasks.submit(AGENT_SECONDS)]
    wait_until(lambda: agents_running(stack, 2), 60, "two agents running")
    before = stack.part(child)
    others = {p.name: p.pid for p in stack.state().parts if p.name != child}

    os.kill(before.pid, signal.SIGKILL)

    wait_until(
        lambda: (
            stack.part(child).restarts == before.restarts + 1 and stack.part(child).state == "up"
        ),
        90,
        f"the supervisor to restart {child}",
    )
    after = stack.part(child)
    assert after.pid != before.pid and after.last_exit == "killed by signal 9"
    # Nothing else was torn down.
    assert {p.name: p.pid for p in stack.state().parts if p.name != child} == others
    for submitted in in_flight:
        audit = tasks.check_outcome(submitted)
        if child == "executor":
            assert any(e["action"] == "host_lost" for e in audit), audit


def test_the_whole_stack_killed_resumes_every_open_task_on_the_next_agency_up(
    stack: AgencyUp, tasks: Tasks
) -> None:
    in_flight = [tasks.submit(AGENT_SECONDS), tasks.submit(AGENT_SECONDS)]
    wait_until(lambda: agents_running(stack, 2), 60, "two agents running")

    stack.kill_everything()
    stack.start()

    for submitted in in_flight:
        audit = tasks.check_outcome(submitted)
        # The executor died with the stack: each run started again on the new host.
        assert any(e["action"] == "host_lost" for e in audit), json.dumps(audit)[:2000]
