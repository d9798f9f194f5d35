"""The sandbox, seen from inside an agent: read-only world, no network, hidden executor state."""

from __future__ import annotations

import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agency.executor.client import ExecutorClient, ExecutorError
from tests.agency.executor.conftest import (
    PY,
    RunningExecutor,
    StartExecutor,
    needs_bwrap,
    request,
    sh,
    until_terminal,
)

pytestmark = needs_bwrap


@pytest.fixture
def outside_dir() -> Iterator[Path]:
    # Not under /tmp (private inside the sandbox), so a write fails for being read-only,
    # not merely for landing in a throwaway tmpfs.
    path = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="agency-outside-"))
    yield path
    for child in path.iterdir():
        child.unlink()
    path.rmdir()


async def test_writes_outside_the_worktree_fail_and_change_nothing(
    client: ExecutorClient, repo: Path, outside_dir: Path
) -> None:
    victim = outside_dir / "victim.txt"
    victim.write_text("original\n")
    home_marker = f"agency-home-{uuid.uuid4().hex}"
    agent = sh(
        f"echo pwned > {victim}; echo outside=$?; "
        f"echo pwned > {repo}/README.md; echo repo=$?; "
        f"echo x > $HOME/{home_marker}; echo home=$?; "
        "echo inside > inside.txt; echo inside=$?"
    )
    req = request(repo, agent)
    await client.execute(req)
    status = await until_terminal(client, req.run_id)
    assert status.agent is not None
    out = status.agent.stdout_tail
    assert "outside=0" not in out and "repo=0" not in out
    assert "inside=0" in out and "home=0" in out  # the worktree and the private /tmp work
    assert victim.read_text() == "original\n"
    assert (repo / "README.md").read_text() == "hello\n"
    assert not (Path("/tmp") / home_marker).exists()  # the sandbox's /tmp was its own
    assert [f.path for f in status.changed_files] == ["inside.txt"]


async def test_network_is_refused_inside_the_sandbox_unless_allowed(
    client: ExecutorClient, repo: Path
) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        probe = (
            "import socket\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=3).close()\n"
            "    print('connected')\n"
            "except OSError as e:\n"
            "    print('refused', e)\n"
        )
        denied = request(repo, [PY, "-c", probe])
        allowed = request(repo, [PY, "-c", probe], network=True)
        for req in (denied, allowed):
            await client.execute(req)
        denied_status = await until_terminal(client, denied.run_id)
        allowed_status = await until_terminal(client, allowed.run_id)
    assert denied_status.agent is not None and allowed_status.agent is not None
    assert denied_status.agent.stdout_tail.startswith("refused")
    # The control: the same probe reaches the listener when the network is allowed.
    assert allowed_status.agent.stdout_tail.strip() == "connected"


async def test_other_runs_and_executor_state_are_hidden(
    client: ExecutorClient, executor: RunningExecutor, repo: Path
) -> None:
    first = request(repo, sh("echo secret > secret.txt"))
    await client.execute(first)
    await until_terminal(client, first.run_id)
    other = executor.worktree(first.run_id)
    assert (other / "secret.txt").exists()
    record = executor.data / "runs" / f"{first.run_id}.json"
    snoop = request(repo, sh(f"cat {other}/secret.txt; cat {record}; ls {executor.data}/runs"))
    await client.execute(snoop)
    status = await until_terminal(client, snoop.run_id)
    assert status.agent is not None
    assert "secret" not in status.agent.stdout_tail
    assert first.run_id not in status.agent.stdout_tail


async def test_without_bubblewrap_runs_are_refused_unless_unsandboxed_is_allowed(
    start_executor: StartExecutor, repo: Path, tmp_path: Path
) -> None:
    missing = str(tmp_path / "no-bwrap-here")
    refusing = start_executor(bwrap_path=missing)
    async with ExecutorClient(refusing.url) as client:
        health = await client.health()
        assert health.sandbox == "none" and "AGENCY_ALLOW_UNSANDBOXED=1" in (health.problem or "")
        req = request(repo, sh("echo ran > ran.txt"))
        with pytest.raises(ExecutorError) as err:
            await client.execute(req)
        assert err.value.status == 503 and err.value.retryable
        assert "bubblewrap" in err.value.detail and "AGENCY_ALLOW_UNSANDBOXED=1" in err.value.detail
        # Nothing was recorded or run: the run id is unknown.
        with pytest.raises(ExecutorError) as err:
            await client.get(req.run_id)
        assert err.value.status == 404
    refusing.stop()

    allowing = start_executor(bwrap_path=missing, allow_unsandboxed=True)
    async with ExecutorClient(allowing.url) as client:
        assert (await client.health()).problem is None
        await client.execute(req)
        status = await until_terminal(client, req.run_id)
    assert status.state == "finished" and status.sandbox == "none"
    assert [f.path for f in status.changed_files] == ["ran.txt"]
