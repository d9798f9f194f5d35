"""Adding and removing git worktrees of a repository that other runs, and other executor
processes on the same machine, use at the same time.

`git worktree prune` forgets every worktree whose metadata looks incomplete, and a
worktree being added has incomplete metadata for a moment: a prune running then deletes
it, and the add fails (`failed to read .git/worktrees/<id>/commondir`). So prune runs
only where git could not remove a worktree itself, and adding and pruning a repository's
worktrees hold one lock: an asyncio lock within the process and an advisory file lock in
the repository's git directory across processes (the kernel drops it with its process).
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import shutil
import stat
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from agency.executor.gitcli import git

LOCK_NAME = "agency-worktrees.lock"
# Per event loop (an asyncio lock belongs to the loop it first waits on), per repository.
_process_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


async def add_worktree(repo_dir: str, worktree: Path, commit: str) -> None:
    """`git worktree add --detach` of `commit` at `worktree`; raises GitError."""
    async with _worktree_admin(repo_dir):
        await git("-C", repo_dir, "worktree", "add", "--detach", "--quiet", str(worktree), commit)


async def remove_worktree(repo_dir: str, worktree: Path) -> None:
    """Remove the worktree and its metadata, whatever state it is in."""
    # git refuses (harmlessly, check=False) when the repository itself is gone or the
    # worktree is damaged; whatever it could not remove goes by hand, and then prune
    # forgets the worktree's metadata.
    out = await git(
        "-C", repo_dir, "worktree", "remove", "--force", "--force", str(worktree), check=False
    )
    await asyncio.to_thread(remove_tree, worktree)
    if out.returncode != 0:
        async with _worktree_admin(repo_dir):
            await git("-C", repo_dir, "worktree", "prune", check=False)


@asynccontextmanager
async def _worktree_admin(repo_dir: str) -> AsyncIterator[None]:
    key = await asyncio.to_thread(os.path.realpath, repo_dir)
    locks = _process_locks.setdefault(asyncio.get_running_loop(), {})
    lock = locks.setdefault(key, asyncio.Lock())
    async with lock:
        fd = await asyncio.to_thread(_lock_file, Path(key))
        try:
            if fd is not None:
                await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
            yield
        finally:
            if fd is not None:
                os.close(fd)  # closing drops the lock


def _lock_file(repo: Path) -> int | None:
    """The open lock file in the repository's git directory; None where there is none
    to write (a repository that is gone, or read-only to us: git will say so)."""
    git_dir = repo / ".git" if (repo / ".git").is_dir() else repo
    try:
        return os.open(git_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return None


def remove_tree(path: Path) -> None:
    """rmtree that also removes what an agent made unreadable or unwritable (chmod 0500)."""
    if not path.exists() and not path.is_symlink():
        return
    if path.is_symlink() or path.is_file():
        path.unlink()
        return
    owner_rwx = stat.S_IRWXU
    os.chmod(path, os.stat(path).st_mode | owner_rwx)
    # Top-down: each directory is opened up before os.walk descends into it.
    for root, dirs, _files in os.walk(path):
        for d in dirs:
            p = os.path.join(root, d)
            if not os.path.islink(p):
                os.chmod(p, os.stat(p).st_mode | owner_rwx)
    shutil.rmtree(path)
