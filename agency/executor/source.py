"""Where a run's repository comes from: a local repository, or a mirror of a remote one.

Local paths and file:// URLs are used in place (worktrees are added to that repository,
so applying a change moves its real branch). Other URLs are mirrored into a cache under
the executor's data dir and refreshed on use; applying pushes back to the URL.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from agency.executor.gitcli import GitError, git

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SCP_LIKE = re.compile(r"^[^/:@]+@[^/:]+:")


class SourceError(RuntimeError):
    """The repository cannot be used (missing, not a git repository, unreachable)."""


@dataclass(frozen=True)
class Source:
    path: Path  # where `git -C` runs: a work tree, a bare repository or a mirror
    remote_url: str | None = None  # set when `path` is our mirror of this URL


def local_path(repo: str) -> Path | None:
    """The local path `repo` names, or None when it is a remote URL."""
    if repo.startswith("file://"):
        return Path(unquote(urlparse(repo).path))
    if _URL.match(repo) or _SCP_LIKE.match(repo):
        return None
    return Path(repo).expanduser()


class SourceCache:
    """Resolves request `repo` strings; owns the mirror cache (one lock per mirror)."""

    def __init__(self, mirrors_dir: Path) -> None:
        self._dir = mirrors_dir
        self._locks: dict[str, asyncio.Lock] = {}

    async def resolve(self, repo: str, *, need_commit: str | None = None) -> Source:
        path = local_path(repo)
        if path is not None:
            return await self._local(repo, path)
        return await self._mirror(repo, need_commit)

    async def _local(self, repo: str, path: Path) -> Source:
        resolved = await asyncio.to_thread(_existing_dir, path)
        if resolved is None:
            raise SourceError(f"repository {repo!r} does not exist or is not a directory")
        out = await git("-C", str(resolved), "rev-parse", "--absolute-git-dir", check=False)
        if out.returncode != 0:
            raise SourceError(f"{repo!r} is not a git repository: {out.stderr.strip()}")
        return Source(path=resolved)

    async def _mirror(self, url: str, need_commit: str | None) -> Source:
        key = hashlib.sha256(url.encode()).hexdigest()[:24]
        mirror = self._dir / f"{key}.git"
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            try:
                if not mirror.is_dir():
                    await self._clone(url, mirror)
                elif need_commit is None or not await has_commit(mirror, need_commit):
                    await git("-C", str(mirror), "fetch", "--prune", "--quiet", "origin")
            except GitError as exc:
                raise SourceError(f"cannot fetch {url!r}: {exc.stderr}") from exc
        return Source(path=mirror, remote_url=url)

    async def _clone(self, url: str, mirror: Path) -> None:
        # Clone beside the final name and rename, so a crash never leaves a half mirror
        # that later runs would mistake for a complete one.
        partial = mirror.with_suffix(".partial")
        shutil.rmtree(partial, ignore_errors=True)
        mirror.parent.mkdir(parents=True, exist_ok=True)
        try:
            await git("clone", "--mirror", "--quiet", "--", url, str(partial))
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        partial.rename(mirror)


def _existing_dir(path: Path) -> Path | None:
    return path.resolve() if path.is_dir() else None


async def has_commit(repo: Path, sha: str) -> bool:
    out = await git("-C", str(repo), "cat-file", "-e", f"{sha}^{{commit}}", check=False)
    return out.returncode == 0
