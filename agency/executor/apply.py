"""Applying a run's change: commit the judged tree and move the target branch to it.

The commit is made from the tree recorded after the agent (`commit-tree`), not from
whatever the worktree holds now, so gates cannot alter what lands. Author and committer
dates are fixed by the caller (persisted at the first attempt): the same request always
makes the same commit id, which is what makes a retried apply safe.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from agency.executor.gitcli import GitError, git
from agency.executor.schemas import ApplyRequest, ApplyResult
from agency.executor.workspace import WorkspaceInfo, remove_tree

_ZERO = "0" * 40
_ATTEMPTS = 4


class ApplyConflict(RuntimeError):
    """The change cannot be applied as asked (conflict, dirty checkout, moving target)."""


class ApplyRefused(ValueError):
    """The apply request itself is wrong (bad branch name, no branch to apply to)."""


@dataclass(frozen=True)
class ApplyPlan:
    info: WorkspaceInfo
    request: ApplyRequest
    date: str  # git date, "<unix seconds> +0000"
    scratch: Path  # a place for a temporary worktree, when the target has moved
    # Commits earlier attempts made; if the target already contains one, we are done.
    known: tuple[str, ...]


async def apply_change(plan: ApplyPlan, remember: Callable[[str], Awaitable[None]]) -> ApplyResult:
    """Commit and move the branch; `remember(commit)` is awaited before any ref moves."""
    target = await _target(plan)
    repo = plan.info.source
    env = _identity(plan)
    commit = (
        await git(
            "-C",
            repo,
            "commit-tree",
            plan.info.tree or "",
            "-p",
            plan.info.base_commit,
            "-F",
            "-",
            env=env,
            stdin=plan.request.message.encode(),
        )
    ).text
    known = (commit, *plan.known)
    for _ in range(_ATTEMPTS):
        if plan.info.remote_url:
            await _fetch(repo)
        tip = await _tip(repo, target)
        if tip is not None:
            for k in known:
                if await _is_ancestor(repo, k, tip):
                    return ApplyResult(commit=k, branch=target)  # applied before
        new = commit
        if tip is not None and tip != plan.info.base_commit:
            new = await _cherry_pick(plan, commit, tip, target, env)
            known = (*known, new)
        await remember(new)
        if await _move(plan, target, new, tip):
            return ApplyResult(commit=new, branch=target)
    raise ApplyConflict(f"branch {target!r} kept moving while the change was applied; try again")


async def _target(plan: ApplyPlan) -> str:
    target = plan.request.target_branch or plan.info.default_target
    if not target:
        raise ApplyRefused(
            "no target branch: base_ref is not a branch and the repository's HEAD is "
            "detached; name target_branch"
        )
    target = target.removeprefix("refs/heads/")
    out = await git("check-ref-format", "--branch", target, check=False)
    if out.returncode != 0 or target.startswith("-"):
        raise ApplyRefused(f"{target!r} is not a valid branch name")
    return target


def _identity(plan: ApplyPlan) -> dict[str, str]:
    req = plan.request
    return {
        "GIT_AUTHOR_NAME": req.author_name,
        "GIT_AUTHOR_EMAIL": req.author_email,
        "GIT_AUTHOR_DATE": plan.date,
        "GIT_COMMITTER_NAME": req.author_name,
        "GIT_COMMITTER_EMAIL": req.author_email,
        "GIT_COMMITTER_DATE": plan.date,
    }


async def _fetch(repo: str) -> None:
    try:
        await git("-C", repo, "fetch", "--prune", "--quiet", "origin")
    except GitError as exc:
        raise ApplyConflict(f"cannot fetch the target repository: {exc.stderr}") from exc


async def _tip(repo: str, branch: str) -> str | None:
    out = await git(
        "-C", repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False
    )
    return out.text if out.returncode == 0 else None


async def _is_ancestor(repo: str, commit: str, tip: str) -> bool:
    out = await git("-C", repo, "merge-base", "--is-ancestor", commit, tip, check=False)
    return out.returncode == 0


async def _cherry_pick(
    plan: ApplyPlan, commit: str, tip: str, target: str, env: dict[str, str]
) -> str:
    """Replay `commit` on the moved target tip in a scratch worktree; conflicts refuse."""
    repo = plan.info.source
    scratch = plan.scratch
    await _drop_scratch(repo, scratch)
    try:
        await git("-C", repo, "worktree", "add", "--detach", "--quiet", str(scratch), tip)
        out = await git("-C", str(scratch), "cherry-pick", commit, env=env, check=False)
        if out.returncode != 0:
            conflicted = await git(
                "-C", str(scratch), "diff", "--name-only", "--diff-filter=U", check=False
            )
            files = ", ".join(conflicted.text.splitlines()) or "none listed"
            await git("-C", str(scratch), "cherry-pick", "--abort", check=False)
            reason = out.stderr.strip() or out.text
            if "empty" in reason:
                raise ApplyConflict(f"branch {target!r} already contains this change")
            raise ApplyConflict(
                f"branch {target!r} moved from {plan.info.base_commit[:12]} to {tip[:12]} and "
                f"the change does not apply cleanly on it (conflicts in: {files})"
            )
        return (await git("-C", str(scratch), "rev-parse", "HEAD")).text
    finally:
        await _drop_scratch(repo, scratch)


async def _drop_scratch(repo: str, scratch: Path) -> None:
    await git("-C", repo, "worktree", "remove", "--force", "--force", str(scratch), check=False)
    await asyncio.to_thread(remove_tree, scratch)
    await git("-C", repo, "worktree", "prune", check=False)


async def _move(plan: ApplyPlan, target: str, new: str, tip: str | None) -> bool:
    """Move `target` from `tip` to `new`; False when it moved meanwhile (caller retries)."""
    repo = plan.info.source
    if plan.info.remote_url:
        # Without --force a push only fast-forwards; a rejection means the remote moved.
        out = await git(
            "-C",
            repo,
            "push",
            "--quiet",
            "--",
            plan.info.remote_url,
            f"{new}:refs/heads/{target}",
            check=False,
        )
        if out.returncode != 0:
            if "rejected" in out.stderr or "fetch first" in out.stderr:
                return False
            raise ApplyConflict(f"cannot push to {plan.info.remote_url}: {out.stderr.strip()}")
        await git("-C", repo, "update-ref", f"refs/heads/{target}", new, check=False)
        return True
    holder = await _checked_out_in(repo, target)
    if holder is not None:
        dirty = await git("-C", holder, "status", "--porcelain", "--untracked-files=no")
        if dirty.text:
            raise ApplyConflict(
                f"branch {target!r} is checked out in {holder} with uncommitted changes; "
                "commit or stash them, or apply to another branch"
            )
        # A fast-forward there updates the branch, the index and the files together.
        out = await git("-C", holder, "merge", "--ff-only", "--quiet", new, check=False)
        if out.returncode == 0:
            return True
        if await _tip(repo, target) != tip:
            return False
        raise ApplyConflict(f"cannot fast-forward {target!r} in {holder}: {out.stderr.strip()}")
    out = await git(
        "-C",
        repo,
        "update-ref",
        "-m",
        "agency: apply",
        f"refs/heads/{target}",
        new,
        tip or _ZERO,
        check=False,
    )
    return out.returncode == 0


async def _checked_out_in(repo: str, branch: str) -> str | None:
    """The work tree that has `branch` checked out, if any."""
    out = await git("-C", repo, "worktree", "list", "--porcelain", "-z")
    path: str | None = None
    for field in out.stdout.decode("utf-8", errors="surrogateescape").split("\0"):
        if field.startswith("worktree "):
            path = field.removeprefix("worktree ")
        elif field == f"branch refs/heads/{branch}" and path is not None:
            return path
    return None
