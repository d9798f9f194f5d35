"""Applying a judged change: commit its tree on the base commit and move the target branch.

Any executor can apply any task's change; the host that ran the agent may be gone. The
commit is made from the tree recorded after the agent (`commit-tree`), not from whatever
a worktree holds now, so gates cannot alter what lands. When that tree is not in this
executor's copy of the repository (a mirror of a remote made elsewhere), it is rebuilt
from the stored binary diff on the base commit and must hash to the same tree id.

Exactly once: the commit message carries the trailer `Agency-Task: <task id>`, and an
apply first looks for a commit with it on the target branch (since the base commit). A
retried apply, or one racing a stalled predecessor, finds that commit and stops. Author
and committer dates come from the caller (the workflow's clock), so the same request
makes the same commit id on every host.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from agency.executor.gitcli import GitError, git
from agency.executor.source import Source
from agency.executor.worktrees import add_worktree, remove_worktree

_ZERO = "0" * 40
_ATTEMPTS = 4
TASK_TRAILER = "Agency-Task"


class ApplyConflict(RuntimeError):
    """The change cannot be applied as asked (conflict, dirty checkout); retrying the same
    request cannot help."""


class ApplyRefused(ValueError):
    """The apply request itself is wrong (bad branch name, no branch to apply to)."""


class ApplyBusy(RuntimeError):
    """The target branch kept moving or stayed locked; a later attempt may succeed."""


@dataclass(frozen=True)
class ApplyResult:
    commit: str
    branch: str
    # True when an earlier attempt (or another executor) had applied it already.
    already_applied: bool = False


@dataclass(frozen=True)
class ApplyPlan:
    source: Source
    task_id: str
    base_commit: str
    tree: str
    target: str | None
    message: str
    date: str  # git date, "<unix seconds> +0000"
    scratch: Path  # a place for temporary worktrees
    # The change as a binary diff against the base commit, fetched only when needed.
    diff: Callable[[], Awaitable[bytes]]
    author_name: str = "Agent Agency"
    author_email: str = "agency@localhost"


async def apply_change(plan: ApplyPlan) -> ApplyResult:
    """Commit the tree and move the branch, or find that this task's commit is there."""
    target = await _target(plan)
    repo = str(plan.source.path)
    if plan.source.remote_url:
        await _fetch(repo)
    tip = await _tip(repo, target)
    if tip is not None and (found := await _applied_commit(plan, tip)):
        return ApplyResult(commit=found, branch=target, already_applied=True)
    await _ensure_tree(plan)
    env = _identity(plan)
    commit = (
        await git(
            "-C",
            repo,
            "commit-tree",
            plan.tree,
            "-p",
            plan.base_commit,
            "-F",
            "-",
            env=env,
            stdin=plan.message.encode(),
        )
    ).text
    for _ in range(_ATTEMPTS):
        new = commit
        if tip is not None and tip != plan.base_commit:
            new = await _cherry_pick(plan, commit, tip, target, env)
        if await _move(plan, target, new, tip):
            return ApplyResult(commit=new, branch=target)
        # The branch moved (or is locked by another writer): look again.
        if plan.source.remote_url:
            await _fetch(repo)
        tip = await _tip(repo, target)
        if tip is not None and (found := await _applied_commit(plan, tip)):
            return ApplyResult(commit=found, branch=target, already_applied=True)
    raise ApplyBusy(f"branch {target!r} kept moving or stayed locked while the change was applied")


async def _target(plan: ApplyPlan) -> str:
    target = plan.target
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


async def _applied_commit(plan: ApplyPlan, tip: str) -> str | None:
    """This task's commit on the branch (reachable from `tip`, not from the base)."""
    out = await git(
        "-C",
        str(plan.source.path),
        "log",
        "--format=%H",
        "--max-count=1",
        "--fixed-strings",
        f"--grep={TASK_TRAILER}: {plan.task_id}",
        tip,
        f"^{plan.base_commit}",
        "--",
        check=False,
    )
    if out.returncode != 0 or not out.text:
        return None
    return out.text


async def _ensure_tree(plan: ApplyPlan) -> None:
    """Make sure the judged tree is in this repository, rebuilding it from the diff."""
    repo = str(plan.source.path)
    present = await git("-C", repo, "cat-file", "-e", f"{plan.tree}^{{tree}}", check=False)
    if present.returncode == 0:
        return
    diff = await plan.diff()
    scratch = plan.scratch
    await _drop_scratch(repo, scratch)
    try:
        await add_worktree(repo, scratch, plan.base_commit)
        out = await git(
            "-C", str(scratch), "apply", "--binary", "--index", "-", stdin=diff, check=False
        )
        if out.returncode != 0:
            raise ApplyConflict(f"the stored change does not apply to its base: {out.stderr}")
        rebuilt = (await git("-C", str(scratch), "write-tree")).text
    finally:
        await _drop_scratch(repo, scratch)
    if rebuilt != plan.tree:
        raise ApplyConflict(
            f"the stored change rebuilds tree {rebuilt[:12]}, not the judged {plan.tree[:12]}"
        )


def _identity(plan: ApplyPlan) -> dict[str, str]:
    return {
        "GIT_AUTHOR_NAME": plan.author_name,
        "GIT_AUTHOR_EMAIL": plan.author_email,
        "GIT_AUTHOR_DATE": plan.date,
        "GIT_COMMITTER_NAME": plan.author_name,
        "GIT_COMMITTER_EMAIL": plan.author_email,
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
    repo = str(plan.source.path)
    scratch = plan.scratch
    await _drop_scratch(repo, scratch)
    try:
        await add_worktree(repo, scratch, tip)
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
                f"branch {target!r} moved from {plan.base_commit[:12]} to {tip[:12]} and "
                f"the change does not apply cleanly on it (conflicts in: {files})"
            )
        return (await git("-C", str(scratch), "rev-parse", "HEAD")).text
    finally:
        await _drop_scratch(repo, scratch)


async def _drop_scratch(repo: str, scratch: Path) -> None:
    await remove_worktree(repo, scratch)


async def _move(plan: ApplyPlan, target: str, new: str, tip: str | None) -> bool:
    """Move `target` from `tip` to `new`; False when it moved meanwhile (caller retries)."""
    repo = str(plan.source.path)
    if plan.source.remote_url:
        # Without --force a push only fast-forwards; a rejection means the remote moved.
        out = await git(
            "-C",
            repo,
            "push",
            "--quiet",
            "--",
            plan.source.remote_url,
            f"{new}:refs/heads/{target}",
            check=False,
        )
        if out.returncode != 0:
            if "rejected" in out.stderr or "fetch first" in out.stderr:
                return False
            raise ApplyConflict(f"cannot push to {plan.source.remote_url}: {out.stderr.strip()}")
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
        if await _tip(repo, target) != tip or _locked(out.stderr):
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


def _locked(stderr: str) -> bool:
    """Another writer holds the index or the ref (git's `<file>.lock` already exists)."""
    return ".lock" in stderr and ("exists" in stderr or "Unable to create" in stderr)


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
