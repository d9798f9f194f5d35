"""A run's git worktree: made fresh at the base commit, read back as a change, then removed.

After the agent, our own git commands name the worktree's git dir explicitly
(`--git-dir`): the `.git` file inside the worktree was writable by the agent and must
not be able to point git at another repository or configuration.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from agency.executor.changes import ChangeSet, build_changeset, parse_numstat, parse_raw
from agency.executor.changes import unsafe_entries as find_unsafe
from agency.executor.gitcli import GitError, git
from agency.executor.layout import Layout
from agency.executor.source import Source, SourceCache, SourceError, has_commit
from agency.executor.worktrees import add_worktree, remove_worktree


class WorkspaceError(RuntimeError):
    """The workspace cannot be made or read (bad repo, unknown ref, unsafe change)."""


class WorkspaceInfo(BaseModel):
    """Everything needed to find the workspace again, persisted with the run."""

    source: str
    remote_url: str | None = None
    worktree: str
    git_dir: str
    base_commit: str
    # The branch a change goes to when the apply request names none.
    default_target: str | None = None
    # The tree the agent left, staged; what apply commits (exactly what was judged).
    tree: str | None = None

    @property
    def src(self) -> Source:
        return Source(path=Path(self.source), remote_url=self.remote_url)


@dataclass
class Collected:
    changes: ChangeSet
    tree: str
    diff: bytes
    diff_sha256: str
    unsafe: list[str]


async def create(
    sources: SourceCache,
    layout: Layout,
    run_id: str,
    repo: str,
    base_ref: str,
    base_commit: str | None,
) -> WorkspaceInfo:
    try:
        src = await sources.resolve(repo, need_commit=base_commit)
    except SourceError as exc:
        raise WorkspaceError(str(exc)) from exc
    repo_dir = str(src.path)
    # Independent reads, at once: each git is mostly its own start-up.
    commit, target = await asyncio.gather(
        _base_commit(src, repo, base_ref, base_commit), _default_target(repo_dir, base_ref)
    )
    worktree = layout.worktree(run_id)
    if worktree.exists():
        # Left over from a crash before the run record said so: start clean.
        await remove_worktree(repo_dir, worktree)
    worktree.parent.mkdir(parents=True, exist_ok=True)
    try:
        await add_worktree(repo_dir, worktree, commit)
        git_dir = await _worktree_git_dir(worktree)
    except GitError as exc:
        raise WorkspaceError(f"cannot make a worktree of {repo!r}: {exc.stderr}") from exc
    return WorkspaceInfo(
        source=repo_dir,
        remote_url=src.remote_url,
        worktree=str(worktree),
        git_dir=git_dir,
        base_commit=commit,
        default_target=target,
    )


async def _base_commit(src: Source, repo: str, base_ref: str, base_commit: str | None) -> str:
    """The commit the run starts from: the pinned one (which must be there), else the
    commit `base_ref` names now."""
    if base_commit:
        if not await has_commit(src.path, base_commit):
            raise WorkspaceError(f"base commit {base_commit} is not in repository {repo!r}")
        return base_commit
    out = await git(
        "-C",
        str(src.path),
        "rev-parse",
        "--verify",
        "--quiet",
        "--end-of-options",
        f"{base_ref}^{{commit}}",
        check=False,
    )
    if out.returncode != 0:
        raise WorkspaceError(f"base ref {base_ref!r} does not name a commit in {repo!r}")
    return out.text


async def _worktree_git_dir(worktree: Path) -> str:
    """The worktree's git dir, from the `.git` file git has just written (no agent has
    run in it yet); asked of git when the file is not in the form git writes."""
    text = await asyncio.to_thread((worktree / ".git").read_text)
    if text.startswith("gitdir: ") and text.count("\n") == 1:
        path = Path(text.removeprefix("gitdir: ").strip())
        return str(path if path.is_absolute() else (worktree / path).resolve())
    return (await git("-C", str(worktree), "rev-parse", "--absolute-git-dir")).text


async def _default_target(repo_dir: str, base_ref: str) -> str | None:
    """The branch base_ref names, else the branch the repository's HEAD is on, else None."""
    name = base_ref.removeprefix("refs/heads/")
    out = await git(
        "-C", repo_dir, "show-ref", "--verify", "--quiet", f"refs/heads/{name}", check=False
    )
    if out.returncode == 0:
        return name
    out = await git("-C", repo_dir, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    return out.text if out.returncode == 0 and out.text else None


def _tree_git(info: WorkspaceInfo, exclude_file: Path) -> tuple[str, ...]:
    return (
        f"--git-dir={info.git_dir}",
        f"--work-tree={info.worktree}",
        "-c",
        f"core.excludesFile={exclude_file}",
        "-c",
        "core.quotePath=false",
    )


async def collect(info: WorkspaceInfo, layout: Layout, run_id: str) -> Collected:
    """Stage everything the agent left and describe it, with the full diff.

    The diff is binary-complete (`--binary`): applied to the base commit it rebuilds
    exactly the staged tree, so any executor can apply the change, not only this one.

    What staging writes (the agent's files as blobs, the tree) goes to an object directory
    of the run's own, beside the repository's (an alternate, read-only to us): nothing an
    agent wrote, a secret included, enters the user's repository before a change is
    approved and applied, and it goes when the run is discarded.
    """
    g = _tree_git(info, layout.exclude_file)
    base = info.base_commit
    diff = ("diff", "--cached", "-M", "--no-ext-diff", "--no-textconv", "--no-color")
    try:
        objects = (
            await git(*g, "rev-parse", "--path-format=absolute", "--git-path", "objects")
        ).text
        run_objects = layout.run_objects(run_id)
        run_objects.mkdir(parents=True, exist_ok=True)
        env = {
            "GIT_OBJECT_DIRECTORY": str(run_objects),
            "GIT_ALTERNATE_OBJECT_DIRECTORIES": objects,
        }
        # .gitignore (and info/exclude) are honoured: ignored files are not part of a change.
        await git(*g, "add", "--all", "--", ".", cwd=Path(info.worktree), env=env)
        # Four readers of the staged index, at once: each git is mostly its own start-up.
        raw_out, numstat_out, text_out, tree_out = await asyncio.gather(
            git(*g, *diff, "--raw", "-z", base, env=env),
            git(*g, *diff, "--numstat", "-z", base, env=env),
            git(*g, *diff, "--binary", "--src-prefix=a/", "--dst-prefix=b/", base, "--", env=env),
            git(*g, "write-tree", env=env),
        )
        raw, numstat = parse_raw(raw_out.stdout), parse_numstat(numstat_out.stdout)
        text, tree = text_out.stdout, tree_out.text
    except GitError as exc:
        raise WorkspaceError(f"cannot read the change: {exc.stderr}") from exc
    return Collected(
        changes=build_changeset(raw, numstat),
        tree=tree,
        diff=text,
        diff_sha256=hashlib.sha256(text).hexdigest(),
        unsafe=find_unsafe(Path(info.worktree), raw),
    )


async def discard(info: WorkspaceInfo) -> None:
    await remove_worktree(info.source, Path(info.worktree))
