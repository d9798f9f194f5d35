"""Fixtures for the executor: real git repositories, real bubblewrap, the app over real HTTP."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from agency.executor.app import create_app
from agency.executor.client import ExecutorClient
from agency.executor.schemas import TERMINAL_STATES, AgentCommand, ExecuteRequest, RunStatus
from agency.settings import Settings

PY = sys.executable

needs_bwrap = pytest.mark.skipif(
    not os.access("/usr/bin/bwrap", os.X_OK), reason="bubblewrap is not installed"
)


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


def make_repo(path: Path, files: dict[str, str] | None = None, branch: str = "main") -> Path:
    """A repository with one commit on `branch` (checked out) holding `files`."""
    path.mkdir(parents=True)
    git(path, "init", "--quiet", f"--initial-branch={branch}")
    git(path, "config", "user.name", "Test Owner")
    git(path, "config", "user.email", "owner@example.test")
    for name, text in (files or {"README.md": "hello\n"}).items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git(path, "add", "--all")
    git(path, "commit", "--quiet", "-m", "initial")
    return path


def request(
    repo: Path | str, argv: list[str], run_id: str | None = None, **fields: Any
) -> ExecuteRequest:
    timeout = fields.pop("timeout_s", 30)
    env = fields.pop("env", {})
    return ExecuteRequest(
        run_id=run_id or f"run-{uuid.uuid4().hex[:12]}",
        task_id=fields.pop("task_id", "FEAT-0001"),
        repo=str(repo),
        agent=AgentCommand(argv=argv, timeout_s=timeout, env=env),
        **fields,
    )


def sh(script: str) -> list[str]:
    return ["sh", "-c", script]


async def until_terminal(client: ExecutorClient, run_id: str, limit_s: float = 30) -> RunStatus:
    deadline = time.monotonic() + limit_s
    status = await client.get(run_id)
    while status.state not in TERMINAL_STATES:
        assert time.monotonic() < deadline, f"run still {status.state}"
        status = await client.get(run_id, wait_s=min(5, limit_s), since=status.state)
    return status


async def until(predicate: Callable[[], bool], limit_s: float = 10, what: str = "") -> None:
    deadline = time.monotonic() + limit_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what or predicate}"
        await asyncio.sleep(0.02)


def sleepers(marker: str) -> list[int]:
    """Live (non-zombie) `sleep <marker>` processes (the marker makes them this test's)."""
    found: list[int] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry.name}/cmdline").read_bytes().replace(b"\0", b" ")
            state = Path(f"/proc/{entry.name}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if cmdline.strip() == f"sleep {marker}".encode() and state not in (b"Z", b"X"):
            found.append(int(entry.name))
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RunningExecutor:
    """The executor app served by uvicorn in a thread (its own event loop), on loopback."""

    def __init__(self, settings: Settings, bwrap_path: str | None = None) -> None:
        self.settings = settings
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            create_app(settings, bwrap_path=bwrap_path),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"executor-{port}", daemon=True)

    @property
    def data(self) -> Path:
        return self.settings.executor_data_dir

    def worktree(self, run_id: str) -> Path:
        return self.data / "workspaces" / run_id

    def start(self) -> RunningExecutor:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            assert self.thread.is_alive(), "executor failed to start"
            assert time.monotonic() < deadline, "executor did not start"
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "executor did not stop"


StartExecutor = Callable[..., RunningExecutor]


@pytest.fixture
def start_executor(tmp_path: Path) -> Iterator[StartExecutor]:
    """Start an executor on a data dir under tmp_path (the same one on every call)."""
    started: list[RunningExecutor] = []

    def start(bwrap_path: str | None = None, **settings: Any) -> RunningExecutor:
        settings.setdefault("data_dir", tmp_path / "data")
        executor = RunningExecutor(Settings(**settings), bwrap_path=bwrap_path).start()
        started.append(executor)
        return executor

    yield start
    for executor in started:
        if executor.thread.is_alive():
            executor.stop()


@pytest.fixture
def executor(start_executor: StartExecutor) -> RunningExecutor:
    return start_executor()


@pytest.fixture
async def client(executor: RunningExecutor) -> Any:
    async with ExecutorClient(executor.url, timeout=30) as c:
        yield c


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")
