"""`agency up` as a user runs it, as a process of the test's own: its data dir, its ports,
its state file, and a way to kill it and every child at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agency.asgi_thread import free_port
from agency.stack_state import is_running, read_stack_state
from tests.faults.deployment import PROJECT_ROOT, wait_until

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
    # More environment for `agency up` (and so for every child), e.g. secrets.
    extra_env: dict[str, str] = field(default_factory=dict)

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
        env.update(self.extra_env)
        return env

    def start(self) -> None:
        self.runs += 1
        self.root.mkdir(parents=True, exist_ok=True)
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
