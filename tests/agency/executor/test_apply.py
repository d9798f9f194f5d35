"""Applying a run's change to a branch: fast-forward, update-ref, replay on a moved target."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agency.executor.client import ExecutorClient, ExecutorError
from agency.executor.schemas import ApplyRequest
from tests.agency.executor.conftest import (
    StartExecutor,
    free_port,
    git,
    make_repo,
    needs_bwrap,
    request,
    sh,
    until,
    until_terminal,
)

pytestmark = needs_bwrap

MESSAGE = "Add a greeting\n\nAgency-Task: FEAT-0001"
APPLY = ApplyRequest(
    message=MESSAGE, author_name="Agent Agency", author_email="agency@example.test"
)


async def finished_run(client: ExecutorClient, repo: Path | str, script: str, **kw: object) -> str:
    req = request(repo, sh(script), **kw)  # type: ignore[arg-type]
    await client.execute(req)
    status = await until_terminal(client, req.run_id)
    assert status.state == "finished", status.error
    return req.run_id


async def test_apply_fast_forwards_the_checked_out_branch_and_is_idempotent(
    client: ExecutorClient, repo: Path, start_executor: StartExecutor
) -> None:
    base = git(repo, "rev-parse", "HEAD")
    run_id = await finished_run(client, repo, "echo greeting >> README.md")
    result = await client.apply(run_id, APPLY)
    assert result.branch == "main"
    assert git(repo, "rev-parse", "main") == result.commit
    assert git(repo, "rev-parse", f"{result.commit}^") == base
    # The checked-out tree moved with the branch: the change is in the user's files.
    assert (repo / "README.md").read_text() == "hello\ngreeting\n"
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%B", result.commit).strip() == (
        f"Agent Agency <agency@example.test>|Agent Agency <agency@example.test>|{MESSAGE}"
    )
    assert (await client.apply(run_id, APPLY)) == result
    assert (await client.get(run_id)).applied_commit == result.commit
    # Even a fresh executor process (same data dir) returns the same commit.
    async with ExecutorClient(start_executor().url) as other:
        assert (await other.apply(run_id, APPLY)) == result
    assert git(repo, "rev-list", "--count", "main") == "2"


async def test_a_branch_not_checked_out_is_moved_with_update_ref(
    client: ExecutorClient, repo: Path
) -> None:
    git(repo, "branch", "feature")
    run_id = await finished_run(client, repo, "echo f > f.txt", base_ref="feature")
    result = await client.apply(run_id, APPLY)
    assert result.branch == "feature"
    assert git(repo, "rev-parse", "feature") == result.commit
    assert git(repo, "rev-parse", "main") == git(repo, "rev-parse", "feature^")
    assert not (repo / "f.txt").exists()  # main's checkout is untouched


async def test_a_moved_target_gets_the_change_replayed_on_its_new_tip(
    client: ExecutorClient, repo: Path
) -> None:
    run_id = await finished_run(client, repo, "echo mine > mine.txt")
    (repo / "theirs.txt").write_text("theirs\n")
    git(repo, "add", "theirs.txt")
    git(repo, "commit", "--quiet", "-m", "someone else")
    theirs = git(repo, "rev-parse", "HEAD")
    result = await client.apply(run_id, APPLY)
    assert git(repo, "rev-parse", f"{result.commit}^") == theirs
    assert (repo / "mine.txt").read_text() == "mine\n"
    assert (repo / "theirs.txt").read_text() == "theirs\n"
    assert (await client.apply(run_id, APPLY)) == result
    assert git(repo, "worktree", "list").count("\n") == 1  # run worktree + main; no scratch


async def test_a_conflicting_moved_target_is_a_409_and_nothing_moves(
    client: ExecutorClient, repo: Path
) -> None:
    run_id = await finished_run(client, repo, "echo mine > README.md")
    (repo / "README.md").write_text("theirs\n")
    git(repo, "commit", "--quiet", "-am", "conflicting")
    tip = git(repo, "rev-parse", "main")
    with pytest.raises(ExecutorError) as err:
        await client.apply(run_id, APPLY)
    assert err.value.status == 409 and not err.value.retryable
    assert "does not apply cleanly" in err.value.detail and "README.md" in err.value.detail
    assert git(repo, "rev-parse", "main") == tip
    assert (repo / "README.md").read_text() == "theirs\n"


async def test_a_dirty_checkout_of_the_target_is_a_409(client: ExecutorClient, repo: Path) -> None:
    run_id = await finished_run(client, repo, "echo x > x.txt")
    (repo / "README.md").write_text("uncommitted\n")
    tip = git(repo, "rev-parse", "main")
    with pytest.raises(ExecutorError) as err:
        await client.apply(run_id, APPLY)
    assert err.value.status == 409 and "uncommitted changes" in err.value.detail
    assert git(repo, "rev-parse", "main") == tip
    assert (repo / "README.md").read_text() == "uncommitted\n"


async def test_apply_to_a_new_branch_creates_it(client: ExecutorClient, repo: Path) -> None:
    run_id = await finished_run(client, repo, "echo x > x.txt")
    result = await client.apply(run_id, APPLY.model_copy(update={"target_branch": "agency/x"}))
    assert result.branch == "agency/x"
    assert git(repo, "rev-parse", "agency/x") == result.commit


async def test_apply_needs_a_finished_run_with_a_change(client: ExecutorClient, repo: Path) -> None:
    nothing = await finished_run(client, repo, "true")
    with pytest.raises(ExecutorError) as err:
        await client.apply(nothing, APPLY)
    assert err.value.status == 409 and "changed no files" in err.value.detail

    running = request(repo, ["sleep", "30"])
    await client.execute(running)
    with pytest.raises(ExecutorError) as err:
        await client.apply(running.run_id, APPLY)
    assert err.value.status == 409 and "cannot apply" in err.value.detail
    await client.control(running.run_id, "cancel")

    bad = await finished_run(client, repo, "echo y > y.txt")
    with pytest.raises(ExecutorError) as err:
        await client.apply(bad, APPLY.model_copy(update={"target_branch": "no..dots"}))
    assert err.value.status == 422


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
    )
    url = f"git://127.0.0.1:{port}/origin.git"
    deadline = time.monotonic() + 10
    while subprocess.run(["git", "ls-remote", url], capture_output=True).returncode != 0:
        assert time.monotonic() < deadline, "git daemon did not start"
        time.sleep(0.05)
    yield url, served / "origin.git"
    daemon.kill()
    daemon.wait()


async def test_a_remote_repository_is_mirrored_and_apply_pushes(
    client: ExecutorClient, git_daemon: tuple[str, Path]
) -> None:
    url, bare = git_daemon
    base = git(bare, "rev-parse", "main")
    run_id = await finished_run(client, url, "echo remote >> README.md")
    status = await client.get(run_id)
    assert status.base_commit == base
    result = await client.apply(run_id, APPLY)
    await until(lambda: git(bare, "rev-parse", "main") == result.commit, what="push")
    assert git(bare, "show", "main:README.md") == "hello\nremote"
    assert (await client.apply(run_id, APPLY)) == result
