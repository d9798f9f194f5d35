"""Worktrees: made at the base, read back as a change, removed.

Proves: changed files and line counts of every kind of change; the staged tree; a
binary-complete diff (with its sha256) that `git apply --binary` turns back into exactly
that tree on the base commit; the worktree starts at base_ref or a pinned commit; discard
removes even an unwritable worktree; file:// URLs; and an agent rewriting `.git` cannot
steer the executor's own git commands.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from agency.executor.host import HostRuns
from tests.agency.executor.conftest import (
    PY,
    finished,
    git,
    has_object,
    make_repo,
    needs_bwrap,
    request,
    sh,
)

pytestmark = needs_bwrap

FILES = {
    "src/app.py": "".join(f"line {i}\n" for i in range(10)),
    "old.txt": "a\nb\nc\n",
    "moved.txt": "".join(f"stable {i}\n" for i in range(20)),
    "old.bin": "placeholder\n",
    ".gitignore": "*.log\n",
    "name with space.txt": "x\n",
    "tool.sh": "#!/bin/sh\necho tool\n",
}

AGENT = """
import os, pathlib
p = pathlib.Path
app = p("src/app.py").read_text().splitlines(keepends=True)
app[2] = "changed 2\\n"          # one line replaced: +1 -1
app.insert(5, "inserted\\n")    # one line added:    +1
p("src/app.py").write_text("".join(app))
p("old.txt").unlink()            # deleted: -3
os.rename("moved.txt", "renamed.txt")   # renamed, content unchanged
p("new dir").mkdir()
p("new dir/ünïcode.txt").write_text("one\\ntwo\\n")  # added: +2
p("blob.bin").write_bytes(bytes(range(256)) * 4)   # binary, added
p("old.bin").write_bytes(b"\\0\\1\\2 now binary")   # text becomes binary
p("name with space.txt").write_text("x\\ny\\n")     # +1
os.chmod("tool.sh", 0o755)                         # mode change only
p("debug.log").write_text("ignored by .gitignore\\n")
p("__pycache__").mkdir()
p("__pycache__/m.cpython.pyc").write_bytes(b"cache")
p(".pytest_cache").mkdir()
p(".pytest_cache/state").write_text("cache")
"""


def rebuild(repo: Path, base: str, diff: bytes, scratch: Path) -> str:
    """The tree `diff` makes on `base`, through a fresh clone (not the run's worktree)."""
    subprocess.run(["git", "clone", "--quiet", str(repo), str(scratch)], check=True)
    git(scratch, "checkout", "--quiet", "--detach", base)
    subprocess.run(
        ["git", "-C", str(scratch), "apply", "--binary", "--index", "-"],
        input=diff,
        check=True,
        capture_output=True,
    )
    return git(scratch, "write-tree")


def git_with_objects(repo: Path, objects: Path, *args: str) -> str:
    """git in `repo` that also sees the objects a run wrote to its own directory."""
    env = {
        **os.environ,
        "GIT_OBJECT_DIRECTORY": str(objects),
        "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(repo / ".git" / "objects"),
    }
    out = subprocess.run(
        ["git", "-C", str(repo), *args], env=env, check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


async def test_changes_are_collected_with_a_binary_diff_that_rebuilds_the_tree(
    host: HostRuns, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    base = git(repo, "rev-parse", "HEAD")
    req = request(repo, [PY, "-c", AGENT])
    status = await finished(host, req)
    rows = {f.path: (f.status, f.added, f.removed, f.binary) for f in status.changed_files}
    assert rows == {
        "src/app.py": ("modified", 2, 1, False),
        "old.txt": ("deleted", 0, 3, False),
        "renamed.txt": ("renamed", 0, 0, False),
        "new dir/ünïcode.txt": ("added", 2, 0, False),
        "blob.bin": ("added", 0, 0, True),
        "old.bin": ("modified", 0, 0, True),
        "name with space.txt": ("modified", 1, 0, False),
        "tool.sh": ("modified", 0, 0, False),
    }
    assert status.lines_added == sum(r[1] for r in rows.values()) == 5
    assert status.lines_removed == sum(r[2] for r in rows.values()) == 4

    diff = status.diff
    assert diff is not None
    assert hashlib.sha256(diff).hexdigest() == status.diff_sha256
    assert b"+changed 2" in diff and b"-line 2" in diff and b"+inserted" in diff
    assert b"rename from moved.txt" in diff
    assert b"GIT binary patch" in diff and b"new mode 100755" in diff
    assert b"__pycache__" not in diff and b"debug.log" not in diff
    assert b".pytest_cache" not in diff
    # The staged tree is what the worktree holds; its objects are in the run's own object
    # directory, not in the repository (nothing the agent wrote enters it before an
    # apply); the diff alone rebuilds it.
    run_objects = host.layout.run_objects(req.run_id)
    blob = git_with_objects(repo, run_objects, "rev-parse", f"{status.tree}:blob.bin")
    assert blob == git(host.layout.worktree(req.run_id), "hash-object", "blob.bin")
    assert not has_object(repo, status.tree or "")
    assert rebuild(repo, base, diff, tmp_path / "scratch") == status.tree
    # The source repository itself was not touched by the run.
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "rev-parse", "HEAD") == base
    assert not (repo / "renamed.txt").exists()


async def test_worktree_starts_at_base_ref_or_pinned_commit(host: HostRuns, repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    (repo / "README.md").write_text("second\n")
    git(repo, "commit", "--quiet", "-am", "second")
    git(repo, "branch", "feature", first)
    by_ref = await finished(host, request(repo, ["cat", "README.md"], base_ref="feature"))
    pinned = await finished(host, request(repo, ["cat", "README.md"], base_commit=first))
    head = await finished(host, request(repo, ["cat", "README.md"]))
    rows = [
        (s.base_commit, s.default_target, s.agent and s.agent.stdout_tail)
        for s in (
            by_ref,
            pinned,
            head,
        )
    ]
    assert rows == [
        (first, "feature", "hello\n"),
        (first, "main", "hello\n"),
        (git(repo, "rev-parse", "HEAD"), "main", "second\n"),
    ]


async def test_a_detached_head_has_no_default_target(host: HostRuns, repo: Path) -> None:
    git(repo, "checkout", "--quiet", "--detach")
    status = await finished(host, request(repo, ["true"]))
    assert status.default_target is None


async def test_discard_removes_even_an_unwritable_worktree(host: HostRuns, repo: Path) -> None:
    # The agent makes part of its worktree unwritable; removal must still succeed.
    req = request(repo, sh("mkdir -p locked/deep && echo x > locked/deep/f && chmod 500 locked"))
    await finished(host, req)
    worktree = host.layout.worktree(req.run_id)
    assert worktree.is_dir() and host.layout.run_logs(req.run_id).is_dir()
    assert str(worktree) in git(repo, "worktree", "list")
    await host.discard(req.run_id)
    assert not worktree.exists()
    assert not host.layout.run_logs(req.run_id).exists()
    assert str(worktree) not in git(repo, "worktree", "list")
    await host.discard(req.run_id)  # idempotent


async def test_file_url_is_a_local_repository(host: HostRuns, repo: Path) -> None:
    status = await finished(host, request(f"file://{repo}", sh("echo hi >> README.md")))
    assert [(f.path, f.added) for f in status.changed_files] == [("README.md", 1)]
    assert str(host.layout.worktree(status.run_id)) in git(repo, "worktree", "list")
    assert list(host.layout.mirrors.iterdir()) == []  # used in place, not mirrored


async def test_an_agent_rewriting_dot_git_cannot_redirect_the_executor(
    host: HostRuns, repo: Path, tmp_path: Path
) -> None:
    # A fake repository whose config would run a command on `git add` if git used it.
    evil = make_repo(tmp_path / "evil")
    pwned = tmp_path / "pwned"
    git(evil, "config", "core.fsmonitor", f"touch {pwned}; false")
    agent = sh(f"echo 'gitdir: {evil}/.git' > .git && echo change >> README.md")
    req = request(repo, agent)
    status = await finished(host, req)
    assert [(f.path, f.added) for f in status.changed_files] == [("README.md", 1)]
    await host.discard(req.run_id)
    assert not pwned.exists()
    assert not host.layout.worktree(req.run_id).exists()
    assert str(host.layout.worktree(req.run_id)) not in git(repo, "worktree", "list")
    assert git(evil, "worktree", "list").count("\n") == 0
