"""The sandbox, seen from inside an agent.

Proves: the world is read-only except the worktree and a private /tmp; the network is
unshared unless the request or the executor allows it; the agency data directory (the
database file, the admin key, other runs' worktrees and logs) is hidden; yet git works
in a worktree of a remote repository whose mirror lives inside that hidden directory;
without bubblewrap nothing runs unless unsandboxed execution is allowed.

The data directories here live under /var/tmp, as a real one does outside /tmp: under
/tmp (private in the sandbox) everything would be invisible whether hidden or not.
"""

from __future__ import annotations

import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from agency.executor.host import HostRuns, RunNotFound
from agency.executor.sandbox import SandboxUnavailable
from agency.executor.worktrees import remove_tree
from tests.agency.executor.conftest import (
    PY,
    MakeHost,
    finished,
    git,
    needs_bwrap,
    new_host,
    request,
    sh,
)

pytestmark = needs_bwrap


@pytest.fixture
def outside_dir() -> Iterator[Path]:
    """A directory outside /tmp, removed afterwards."""
    path = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="agency-test-"))
    yield path
    remove_tree(path)


@pytest.fixture
async def data_dir(outside_dir: Path) -> AsyncIterator[Path]:
    """An agency data dir outside /tmp holding a database file and the admin key."""
    data = outside_dir / "agency"
    data.mkdir()
    (data / "agency.db").write_text("SQLite format 3 secret-rows")
    (data / "admin.key").write_text("agency-admin-secret-key")
    yield data


@pytest.fixture
async def outside_host(data_dir: Path) -> AsyncIterator[HostRuns]:
    runs = new_host(data_dir)
    await runs.reap()
    yield runs
    await runs.close()


async def test_writes_outside_the_worktree_fail_and_change_nothing(
    host: HostRuns, repo: Path, outside_dir: Path
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
    status = await finished(host, request(repo, agent))
    assert status.agent is not None
    out = status.agent.stdout_tail
    assert "outside=0" not in out and "repo=0" not in out
    assert "inside=0" in out and "home=0" in out  # the worktree and the private /tmp work
    assert victim.read_text() == "original\n"
    assert (repo / "README.md").read_text() == "hello\n"
    assert not (Path("/tmp") / home_marker).exists()  # the sandbox's /tmp was its own
    assert [f.path for f in status.changed_files] == ["inside.txt"]


async def test_network_is_refused_unless_the_request_or_the_executor_allows_it(
    make_host: MakeHost, repo: Path
) -> None:
    host = await make_host()
    open_host = await make_host("open", sandbox_network=True)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        probe = [
            PY,
            "-c",
            "import socket\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=3).close()\n"
            "    print('connected')\n"
            "except OSError as e:\n"
            "    print('refused', e)\n",
        ]
        denied = await finished(host, request(repo, probe))
        allowed = await finished(host, request(repo, probe, network=True))
        by_setting = await finished(open_host, request(repo, probe))
    outputs = [s.agent.stdout_tail if s.agent else "" for s in (denied, allowed, by_setting)]
    assert outputs[0].startswith("refused")
    # The controls: the same probe reaches the listener when the network is allowed.
    assert outputs[1:] == ["connected\n", "connected\n"]


async def test_the_data_dir_and_other_runs_are_hidden(
    outside_host: HostRuns, data_dir: Path, repo: Path
) -> None:
    first = request(repo, sh("echo secret-of-first > secret.txt; echo logged-by-first"))
    await finished(outside_host, first)
    other = outside_host.layout.worktree(first.run_id)
    other_logs = outside_host.layout.run_logs(first.run_id)
    assert (other / "secret.txt").exists() and (other_logs / "agent.stdout").exists()
    snoop = request(
        repo,
        sh(
            f"cat {data_dir}/agency.db; echo db=$?; cat {data_dir}/admin.key; echo key=$?; "
            f"cat {other}/secret.txt; cat {other_logs}/agent.stdout; "
            f"ls -A {data_dir} {outside_host.layout.workspaces} {outside_host.layout.logs}"
        ),
    )
    status = await finished(outside_host, snoop)
    assert status.agent is not None
    out = status.agent.stdout_tail
    assert "db=1" in out and "key=1" in out
    for secret in ("secret-rows", "admin-secret", "secret-of-first", "logged-by-first"):
        assert secret not in out
    assert "agency.db" not in out and "admin.key" not in out and first.run_id not in out
    # Its own worktree is there, though: the one writable place.
    assert snoop.run_id in out
    assert (data_dir / "agency.db").read_text() == "SQLite format 3 secret-rows"


async def test_git_works_in_a_worktree_of_a_mirror_inside_the_hidden_data_dir(
    outside_host: HostRuns, data_dir: Path, git_daemon: tuple[str, Path]
) -> None:
    url, bare = git_daemon
    base = git(bare, "rev-parse", "main")
    agent = sh(
        "git log -1 --format=%H; git show HEAD:README.md; echo more >> README.md; "
        "git status --porcelain; git diff --stat | tail -1; "
        f"cat {data_dir}/admin.key; echo key=$?; "
        'touch "$(git rev-parse --git-common-dir)/planted"; echo planted=$?'
    )
    status = await finished(outside_host, request(url, agent))
    (mirror,) = outside_host.layout.mirrors.iterdir()
    assert mirror.is_relative_to(data_dir)
    assert status.base_commit == base and status.default_target == "main"
    assert status.agent is not None and "fatal" not in status.agent.stderr_tail
    lines = status.agent.stdout_tail.splitlines()
    assert lines[:4] == [base, "hello", " M README.md", " 1 file changed, 1 insertion(+)"]
    # The mirror is readable, not writable, and the rest of the data dir stays hidden.
    assert "key=1" in lines and "planted=1" in lines
    assert "agency-admin-secret-key" not in status.agent.stdout_tail
    assert not (mirror / "planted").exists()
    assert [(f.path, f.added) for f in status.changed_files] == [("README.md", 1)]


async def test_without_bubblewrap_nothing_runs_unless_unsandboxed_is_allowed(
    make_host: MakeHost, repo: Path, tmp_path: Path
) -> None:
    missing = str(tmp_path / "no-bwrap-here")
    refusing = await make_host("refusing", bwrap_path=missing)
    assert refusing.sandbox.kind == "none"
    req = request(repo, sh("echo ran > ran.txt"))
    with pytest.raises(SandboxUnavailable) as err:
        await refusing.execute(req)
    assert "bubblewrap" in str(err.value) and "AGENCY_ALLOW_UNSANDBOXED=1" in str(err.value)
    # Nothing was recorded or run.
    with pytest.raises(RunNotFound):
        refusing.status(req.run_id)
    assert not refusing.layout.worktree(req.run_id).exists()

    allowing = await make_host("allowing", bwrap_path=missing, allow_unsandboxed=True)
    status = await finished(allowing, req)
    assert status.sandbox == "none"
    assert [f.path for f in status.changed_files] == ["ran.txt"]
