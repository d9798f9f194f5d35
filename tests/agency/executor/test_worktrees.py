"""agency.executor.worktrees: many runs adding and removing worktrees of one repository at
once, some of them damaged (so that git cannot remove them and prune has to run)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

from agency.executor.gitcli import git
from agency.executor.worktrees import LOCK_NAME, add_worktree, remove_worktree
from tests.agency.executor.conftest import make_repo


def worktrees(repo: Path) -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(repo), "worktree", "list", "--porcelain"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("worktree ")]


async def test_concurrent_adds_and_removes_with_prunes_all_succeed(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    head = (await git("-C", str(repo), "rev-parse", "HEAD")).text

    async def cycle(n: int) -> None:
        for round_ in range(3):
            path = tmp_path / "wt" / f"{n}-{round_}"
            await add_worktree(str(repo), path, head)
            assert (path / "README.md").is_file()
            if n % 2:
                # Damaged: git no longer knows it as a worktree, remove fails, prune runs
                # while the other runs are adding theirs.
                shutil.rmtree(path / ".git", ignore_errors=True)
                (path / ".git").unlink(missing_ok=True)
            await remove_worktree(str(repo), path)
            assert not path.exists()

    # Every run to its end before asserting, so that a failure leaves nothing running.
    results = await asyncio.gather(*(cycle(n) for n in range(8)), return_exceptions=True)
    assert [r for r in results if r is not None] == []
    assert worktrees(repo) == [str(repo.resolve())]
    assert (repo / ".git" / LOCK_NAME).is_file()  # the lock lives in the git directory
