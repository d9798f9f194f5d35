"""Fixtures for the executor: real git repositories, real bubblewrap, real executor hosts.

A host here is `HostRuns` on its own executor directory under the test's tmp_path, the
object the executor's activities drive; tests call it directly (no Temporal needed) and
observe processes through /proc.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agency.executor.host import HostRuns
from agency.executor.schemas import AgentCommand, ExecuteRequest, RunStatus
from agency.executor.worker import host_runs
from agency.settings import Settings

PY = sys.executable
BWRAP = "/usr/bin/bwrap"

needs_bwrap = pytest.mark.skipif(not os.access(BWRAP, os.X_OK), reason="bubblewrap is missing")


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


def clone(source: Path | str, dest: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", str(source), str(dest)], check=True)
    return dest


def has_object(repo: Path, name: str) -> bool:
    out = subprocess.run(["git", "-C", str(repo), "cat-file", "-e", name], capture_output=True)
    return out.returncode == 0


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
        run_id=f"run-{uuid.uuid4().hex[:12]}" if run_id is None else run_id,
        task_id=fields.pop("task_id", "FEAT-0001"),
        repo=str(repo),
        agent=AgentCommand(argv=argv, timeout_s=timeout, env=env),
        **fields,
    )


def sh(script: str) -> list[str]:
    return ["sh", "-c", script]


def marker() -> str:
    """A `sleep` argument no other test uses, to find this test's processes in /proc."""
    return f"{uuid.uuid4().int % 10**6 + 10**6}.5"


async def until(predicate: Callable[[], bool], limit_s: float = 10, what: str = "") -> None:
    deadline = time.monotonic() + limit_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what or predicate}"
        await asyncio.sleep(0.02)


def _proc(pid: str) -> tuple[list[bytes], bytes, int] | None:
    """(argv, state, process group) of a process, or None when it is gone."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()
    return cmdline.split(b"\0")[:-1], fields[0], int(fields[2])


def _pids() -> list[str]:
    return [e.name for e in os.scandir("/proc") if e.name.isdigit()]


def sleepers(mark: str) -> list[int]:
    """Live (non-zombie) `sleep <mark>` processes."""
    found: list[int] = []
    for pid in _pids():
        info = _proc(pid)
        if info and info[0] == [b"sleep", mark.encode()] and info[1] not in (b"Z", b"X"):
            found.append(int(pid))
    return found


def group_states(mark: str) -> dict[int, str]:
    """State letter of every live process in the process groups of the processes whose
    command line names `mark` (the sandbox wrapper's included)."""
    procs = {pid: info for pid in _pids() if (info := _proc(pid)) is not None}
    needle = mark.encode()
    groups = {info[2] for info in procs.values() if any(needle in arg for arg in info[0])}
    return {
        int(pid): info[1].decode()
        for pid, info in procs.items()
        if info[2] in groups and info[1] not in (b"Z", b"X")
    }


def all_stopped(mark: str) -> bool:
    states = group_states(mark)
    return bool(states) and all(s in ("T", "t") for s in states.values())


def none_stopped(mark: str) -> bool:
    states = group_states(mark)
    return bool(states) and not any(s in ("T", "t") for s in states.values())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def host_settings(data_dir: Path, **overrides: Any) -> Settings:
    return Settings(data_dir=data_dir, executor_name="test-host", **overrides)


def host_for(settings: Settings, *, bwrap_path: str | None = None) -> HostRuns:
    """The executor host the executor process makes from `settings` (not reaped yet)."""
    return host_runs(settings, bwrap_path=bwrap_path)


def new_host(data_dir: Path, *, bwrap_path: str | None = None, **overrides: Any) -> HostRuns:
    return host_for(host_settings(data_dir, **overrides), bwrap_path=bwrap_path)


MakeHost = Callable[..., Awaitable[HostRuns]]


@pytest.fixture
async def make_host(tmp_path: Path) -> AsyncIterator[MakeHost]:
    """Make a ready executor host (reaped) with `<tmp_path>/<name>` as its data dir."""
    made: list[HostRuns] = []

    async def make(name: str = "data", **options: Any) -> HostRuns:
        runs = new_host(tmp_path / name, **options)
        await runs.reap()
        made.append(runs)
        return runs

    yield make
    for runs in made:
        await runs.close()


@pytest.fixture
async def host(make_host: MakeHost) -> HostRuns:
    return await make_host()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


async def finished(runs: HostRuns, req: ExecuteRequest) -> RunStatus:
    status = await runs.execute(req)
    assert status.state == "finished", status.error
    return status


@pytest.fixture
def git_daemon(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A bare repository served read-write by `git daemon` on a loopback port."""
    served = tmp_path / "served"
    work = make_repo(tmp_path / "origin-work")
    served.mkdir()
    git(served, "clone", "--bare", "--quiet", str(work), str(served / "origin.git"))
    port = free_port()
    daemon = subprocess.Popen(
        [
            "git",
            "daemon",
            "--listen=127.0.0.1",
            f"--port={port}",
            "--export-all",
            "--enable=receive-pack",
            "--reuseaddr",
            f"--base-path={served}",
            str(served),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # `git daemon` runs `git-daemon` as a child: its own group, so both go at the end.
        start_new_session=True,
    )
    try:
        url = f"git://127.0.0.1:{port}/origin.git"
        deadline = time.monotonic() + 10
        while subprocess.run(["git", "ls-remote", url], capture_output=True).returncode != 0:
            assert time.monotonic() < deadline, "git daemon did not start"
            time.sleep(0.05)
        yield url, served / "origin.git"
    finally:
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait()
