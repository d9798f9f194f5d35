"""Applying a judged change (agency/executor/apply.py) on real repositories.

Proves: the checked-out branch is fast-forwarded (files updated, status clean); a branch
not checked out is moved with update-ref (and a new one is created); a moved target gets
the change cherry-picked; conflicts, a dirty checkout and bad targets are refused with
the branch untouched; a locked branch is busy (retryable). Exactly once: a second apply
finds the task's commit by its trailer. Any executor can apply: one without the judged
tree rebuilds it from the stored diff (locally and through a remote's mirror), a diff
that does not rebuild the judged tree is refused, and the fixed date makes the same
commit id on every host.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agency.executor.apply import (
    ApplyBusy,
    ApplyConflict,
    ApplyPlan,
    ApplyRefused,
    ApplyResult,
    apply_change,
)
from agency.executor.host import HostRuns
from agency.executor.schemas import RunStatus
from agency.executor.source import Source
from tests.agency.executor.conftest import (
    MakeHost,
    clone,
    finished,
    git,
    has_object,
    needs_bwrap,
    request,
    sh,
)

pytestmark = needs_bwrap

TASK = "FEAT-0001"
DATE = "1700000000 +0000"


def make_plan(
    runs: HostRuns,
    source: Source,
    status: RunStatus,
    *,
    target: str | None = "main",
    diff: bytes | None = None,
    date: str = DATE,
    reads: list[str] | None = None,
) -> ApplyPlan:
    """The apply of a finished run's change, as the apply activity builds it. `reads`
    records each time the stored diff is asked for."""
    assert status.base_commit and status.tree and status.diff is not None
    stored = status.diff if diff is None else diff

    async def read_diff() -> bytes:
        if reads is not None:
            reads.append(status.run_id)
        return stored

    return ApplyPlan(
        source=source,
        task_id=TASK,
        base_commit=status.base_commit,
        tree=status.tree,
        target=target,
        message=f"Add a greeting\n\nAgency-Task: {TASK}\n",
        date=date,
        scratch=runs.layout.scratch(f"{TASK}-1"),
        diff=read_diff,
    )


async def change(runs: HostRuns, repo: Path | str, script: str, **kw: str) -> RunStatus:
    status = await finished(runs, request(repo, sh(script), **kw))
    assert status.changed_files, "the agent changed nothing"
    return status


async def source_of(runs: HostRuns, repo: Path | str) -> Source:
    return await runs.sources.resolve(str(repo))


def task_commits(repo: Path, branch: str) -> list[str]:
    return git(repo, "log", "--format=%H", f"--grep=Agency-Task: {TASK}", branch).split()


def worktrees(repo: Path) -> list[str]:
    return [line.split()[0] for line in git(repo, "worktree", "list").splitlines()]


async def test_the_checked_out_branch_is_fast_forwarded_once(host: HostRuns, repo: Path) -> None:
    base = git(repo, "rev-parse", "HEAD")
    status = await change(host, repo, "echo greeting >> README.md")
    reads: list[str] = []
    source = await source_of(host, repo)
    result = await apply_change(make_plan(host, source, status, reads=reads))
    assert result == ApplyResult(commit=result.commit, branch="main", already_applied=False)
    assert git(repo, "rev-parse", "main") == result.commit
    assert git(repo, "rev-parse", f"{result.commit}^") == base
    assert git(repo, "rev-parse", f"{result.commit}^{{tree}}") == status.tree
    # The checked-out files moved with the branch: the change is in the user's files.
    assert (repo / "README.md").read_text() == "hello\ngreeting\n"
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "log", "-1", "--format=%an <%ae> %at|%cn <%ce> %ct", result.commit) == (
        "Agent Agency <agency@localhost> 1700000000|Agent Agency <agency@localhost> 1700000000"
    )
    assert git(repo, "log", "-1", "--format=%B", result.commit) == (
        f"Add a greeting\n\nAgency-Task: {TASK}"
    )
    # The run's objects never entered the repository, so the tree was rebuilt from the
    # stored diff (and hashed to the judged tree).
    assert reads == [status.run_id]
    # Again, even with another date (a later attempt): the task's commit is found.
    again = await apply_change(make_plan(host, source, status, date="1800000000 +0000"))
    assert again == ApplyResult(commit=result.commit, branch="main", already_applied=True)
    assert task_commits(repo, "main") == [result.commit]
    assert git(repo, "rev-list", "--count", "main") == "2"
    assert worktrees(repo) == [str(repo), str(host.layout.worktree(status.run_id))]


async def test_a_branch_not_checked_out_is_moved_with_update_ref(
    host: HostRuns, repo: Path
) -> None:
    git(repo, "branch", "feature")
    status = await change(host, repo, "echo f > f.txt", base_ref="feature")
    assert status.default_target == "feature"
    result = await apply_change(
        make_plan(host, await source_of(host, repo), status, target="feature")
    )
    assert result.branch == "feature" and not result.already_applied
    assert git(repo, "rev-parse", "feature") == result.commit
    assert git(repo, "rev-parse", "main") == git(repo, "rev-parse", "feature^")
    assert not (repo / "f.txt").exists()  # main's checkout is untouched
    assert git(repo, "reflog", "-1", "--format=%gs", "feature") == "agency: apply"


async def test_a_new_branch_is_created_and_refs_heads_is_accepted(
    host: HostRuns, repo: Path
) -> None:
    status = await change(host, repo, "echo x > x.txt")
    source = await source_of(host, repo)
    result = await apply_change(make_plan(host, source, status, target="refs/heads/agency/x"))
    assert result.branch == "agency/x"
    assert git(repo, "rev-parse", "agency/x") == result.commit
    assert git(repo, "rev-parse", "agency/x^") == status.base_commit
    assert git(repo, "rev-parse", "main") == status.base_commit


async def test_a_moved_target_gets_the_change_cherry_picked_on_its_new_tip(
    host: HostRuns, repo: Path
) -> None:
    status = await change(host, repo, "echo mine > mine.txt")
    (repo / "theirs.txt").write_text("theirs\n")
    git(repo, "add", "theirs.txt")
    git(repo, "commit", "--quiet", "-m", "someone else")
    theirs = git(repo, "rev-parse", "HEAD")
    source = await source_of(host, repo)
    result = await apply_change(make_plan(host, source, status))
    assert git(repo, "rev-parse", "main") == result.commit
    assert git(repo, "rev-parse", f"{result.commit}^") == theirs
    assert (repo / "mine.txt").read_text() == "mine\n"
    assert (repo / "theirs.txt").read_text() == "theirs\n"
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "log", "-1", "--format=%at %ct %B", result.commit).startswith(
        "1700000000 1700000000 Add a greeting"
    )
    again = await apply_change(make_plan(host, source, status))
    assert again == ApplyResult(commit=result.commit, branch="main", already_applied=True)
    assert task_commits(repo, "main") == [result.commit]
    # The scratch worktree of the cherry-pick is gone.
    assert worktrees(repo) == [str(repo), str(host.layout.worktree(status.run_id))]
    assert not host.layout.scratch(f"{TASK}-1").exists()


async def test_a_conflicting_moved_target_is_refused_and_nothing_moves(
    host: HostRuns, repo: Path
) -> None:
    status = await change(host, repo, "echo mine > README.md")
    (repo / "README.md").write_text("theirs\n")
    git(repo, "commit", "--quiet", "-am", "conflicting")
    tip = git(repo, "rev-parse", "main")
    with pytest.raises(ApplyConflict) as err:
        await apply_change(make_plan(host, await source_of(host, repo), status))
    assert "does not apply cleanly" in str(err.value) and "README.md" in str(err.value)
    assert git(repo, "rev-parse", "main") == tip
    assert (repo / "README.md").read_text() == "theirs\n"
    assert git(repo, "status", "--porcelain") == ""
    assert worktrees(repo) == [str(repo), str(host.layout.worktree(status.run_id))]


async def test_a_target_that_already_has_the_change_is_refused(host: HostRuns, repo: Path) -> None:
    status = await change(host, repo, "echo same > same.txt")
    (repo / "same.txt").write_text("same\n")
    git(repo, "add", "same.txt")
    git(repo, "commit", "--quiet", "-m", "the same change, by hand")
    tip = git(repo, "rev-parse", "main")
    with pytest.raises(ApplyConflict, match="already contains this change"):
        await apply_change(make_plan(host, await source_of(host, repo), status))
    assert git(repo, "rev-parse", "main") == tip


async def test_a_dirty_checkout_of_the_target_is_refused(host: HostRuns, repo: Path) -> None:
    status = await change(host, repo, "echo x > x.txt")
    (repo / "README.md").write_text("uncommitted\n")
    tip = git(repo, "rev-parse", "main")
    with pytest.raises(ApplyConflict, match="uncommitted changes"):
        await apply_change(make_plan(host, await source_of(host, repo), status))
    assert git(repo, "rev-parse", "main") == tip
    assert (repo / "README.md").read_text() == "uncommitted\n"
    assert not (repo / "x.txt").exists()


@pytest.mark.parametrize("target", [None, "", "no..dots", "-x", "a b", "refs/heads/"])
async def test_a_bad_or_absent_target_is_refused(
    host: HostRuns, repo: Path, target: str | None
) -> None:
    status = await change(host, repo, "echo x > x.txt")
    with pytest.raises(ApplyRefused):
        await apply_change(make_plan(host, await source_of(host, repo), status, target=target))
    assert git(repo, "rev-parse", "main") == status.base_commit
    assert git(repo, "for-each-ref", "--format=%(refname)") == "refs/heads/main"


async def test_a_locked_branch_is_busy_and_applies_once_released(
    host: HostRuns, repo: Path
) -> None:
    git(repo, "branch", "feature")
    status = await change(host, repo, "echo x > x.txt", base_ref="feature")
    lock = Path(git(repo, "rev-parse", "--git-path", "refs/heads/feature.lock"))
    lock = lock if lock.is_absolute() else repo / lock
    lock.write_text("another writer\n")
    source = await source_of(host, repo)
    with pytest.raises(ApplyBusy, match="feature"):
        await apply_change(make_plan(host, source, status, target="feature"))
    assert git(repo, "rev-parse", "feature") == status.base_commit
    lock.unlink()
    result = await apply_change(make_plan(host, source, status, target="feature"))
    assert git(repo, "rev-parse", "feature") == result.commit


async def test_another_executor_rebuilds_the_tree_from_the_diff_and_makes_the_same_commit(
    make_host: MakeHost, repo: Path, tmp_path: Path
) -> None:
    # The same project in two places (a clone made before the run): the second executor
    # has never seen the judged tree.
    elsewhere = clone(repo, tmp_path / "elsewhere")
    ran_here = await make_host("a")
    other = await make_host("b")
    binary = "printf '\\000\\001\\002' > blob.bin && echo greeting >> README.md"
    status = await change(ran_here, repo, binary)
    assert status.tree is not None
    assert not has_object(elsewhere, status.tree)

    reads: list[str] = []
    here = await apply_change(make_plan(ran_here, await source_of(ran_here, repo), status))
    there = await apply_change(
        make_plan(other, await source_of(other, elsewhere), status, reads=reads)
    )
    assert reads == [status.run_id]  # the other executor rebuilt the tree from the diff
    assert there.commit == here.commit  # same tree, parent, message, identity and date
    assert git(elsewhere, "rev-parse", "main") == here.commit
    assert (elsewhere / "blob.bin").read_bytes() == b"\0\1\2"
    assert git(elsewhere, "status", "--porcelain") == ""
    assert worktrees(elsewhere) == [str(elsewhere)]  # the scratch tree is gone


async def test_a_diff_that_does_not_rebuild_the_judged_tree_is_refused(
    make_host: MakeHost, repo: Path, tmp_path: Path
) -> None:
    elsewhere = clone(repo, tmp_path / "elsewhere")
    ran_here = await make_host("a")
    other = await make_host("b")
    judged = await change(ran_here, repo, "echo judged > a.txt")
    another = await change(ran_here, repo, "echo something else > b.txt")
    source = await source_of(other, elsewhere)
    assert another.diff is not None
    with pytest.raises(ApplyConflict, match="rebuilds tree"):
        await apply_change(make_plan(other, source, judged, diff=another.diff))
    with pytest.raises(ApplyConflict, match="does not apply to its base"):
        await apply_change(make_plan(other, source, judged, diff=b"not a diff at all\n"))
    assert git(elsewhere, "rev-parse", "main") == judged.base_commit
    assert worktrees(elsewhere) == [str(elsewhere)]
    assert not other.layout.scratch(f"{TASK}-1").exists()


async def test_a_remote_repository_is_applied_by_an_executor_that_did_not_run_the_agent(
    make_host: MakeHost, git_daemon: tuple[str, Path]
) -> None:
    url, bare = git_daemon
    ran_here = await make_host("a")
    other = await make_host("b")
    base = git(bare, "rev-parse", "main")
    status = await change(ran_here, url, "echo remote >> README.md")
    assert status.base_commit == base
    reads: list[str] = []
    other_source = await source_of(other, url)
    assert other_source.remote_url == url
    assert other_source.path.is_relative_to(other.layout.mirrors)  # its own mirror
    result = await apply_change(make_plan(other, other_source, status, reads=reads))
    assert reads == [status.run_id]
    assert git(bare, "rev-parse", "main") == result.commit
    assert git(bare, "show", "main:README.md") == "hello\nremote"
    assert git(bare, "rev-parse", f"{result.commit}^") == base
    # The executor that ran the agent applies the same plan: it finds the task's commit.
    here = await apply_change(make_plan(ran_here, await source_of(ran_here, url), status))
    assert here == ApplyResult(commit=result.commit, branch="main", already_applied=True)
    assert task_commits(bare, "main") == [result.commit]


async def test_a_moved_remote_target_gets_the_change_cherry_picked_and_pushed(
    host: HostRuns, git_daemon: tuple[str, Path], tmp_path: Path
) -> None:
    url, bare = git_daemon
    status = await change(host, url, "echo mine > mine.txt")
    pusher = clone(url, tmp_path / "pusher")
    (pusher / "theirs.txt").write_text("theirs\n")
    git(pusher, "add", "theirs.txt")
    git(pusher, "-c", "user.name=T", "-c", "user.email=t@example.test", "commit", "-qm", "theirs")
    git(pusher, "push", "--quiet", "origin", "main")
    theirs = git(bare, "rev-parse", "main")
    result = await apply_change(make_plan(host, await source_of(host, url), status))
    assert git(bare, "rev-parse", "main") == result.commit
    assert git(bare, "rev-parse", f"{result.commit}^") == theirs
    assert git(bare, "show", "main:mine.txt") == "mine"
