"""Worktrees: made at the base, read back as a change (files, line counts, diff), removed."""

from __future__ import annotations

import hashlib
from pathlib import Path

from agency.executor.client import ExecutorClient
from tests.agency.executor.conftest import (
    PY,
    RunningExecutor,
    git,
    make_repo,
    needs_bwrap,
    request,
    sh,
    until_terminal,
)

pytestmark = needs_bwrap

FILES = {
    "src/app.py": "".join(f"line {i}\n" for i in range(10)),
    "old.txt": "a\nb\nc\n",
    "moved.txt": "".join(f"stable {i}\n" for i in range(20)),
    ".gitignore": "*.log\n",
    "name with space.txt": "x\n",
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
p("blob.bin").write_bytes(bytes(range(256)))       # binary
p("name with space.txt").write_text("x\\ny\\n")     # +1
p("debug.log").write_text("ignored by .gitignore\\n")
p("__pycache__").mkdir()
p("__pycache__/m.cpython.pyc").write_bytes(b"cache")
"""


async def test_changed_files_and_line_counts(
    client: ExecutorClient, executor: RunningExecutor, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    req = request(repo, [PY, "-c", AGENT])
    await client.execute(req)
    status = await until_terminal(client, req.run_id)
    assert status.state == "finished", status.error
    rows = {f.path: (f.status, f.added, f.removed, f.binary) for f in status.changed_files}
    assert rows == {
        "src/app.py": ("modified", 2, 1, False),
        "old.txt": ("deleted", 0, 3, False),
        "renamed.txt": ("renamed", 0, 0, False),
        "new dir/ünïcode.txt": ("added", 2, 0, False),
        "blob.bin": ("added", 0, 0, True),
        "name with space.txt": ("modified", 1, 0, False),
    }
    assert status.lines_added == sum(r[1] for r in rows.values()) == 5
    assert status.lines_removed == sum(r[2] for r in rows.values()) == 4

    diff = await client.artifact(status.diff_artifact or "")
    assert hashlib.sha256(diff.encode()).hexdigest() == status.diff_sha256
    assert "+changed 2" in diff and "-line 2" in diff and "+inserted" in diff
    assert "rename from moved.txt" in diff
    assert "__pycache__" not in diff and "debug.log" not in diff
    # The source repository itself was not touched by the run.
    assert git(repo, "status", "--porcelain") == ""
    assert not (repo / "renamed.txt").exists()


async def test_worktree_starts_at_base_ref_or_pinned_commit(
    client: ExecutorClient, repo: Path
) -> None:
    first = git(repo, "rev-parse", "HEAD")
    (repo / "README.md").write_text("second\n")
    git(repo, "commit", "--quiet", "-am", "second")
    git(repo, "branch", "feature", first)
    by_ref = request(repo, ["cat", "README.md"], base_ref="feature")
    pinned = request(repo, ["cat", "README.md"], base_commit=first)
    head = request(repo, ["cat", "README.md"])
    for req in (by_ref, pinned, head):
        await client.execute(req)
    results = [await until_terminal(client, r.run_id) for r in (by_ref, pinned, head)]
    assert [(s.base_commit, s.agent.stdout_tail if s.agent else None) for s in results] == [
        (first, "hello\n"),
        (first, "hello\n"),
        (git(repo, "rev-parse", "HEAD"), "second\n"),
    ]


async def test_discard_removes_the_worktree_and_keeps_the_record(
    client: ExecutorClient, executor: RunningExecutor, repo: Path
) -> None:
    # The agent makes part of its worktree unwritable; removal must still succeed.
    req = request(repo, sh("mkdir -p locked/deep && echo x > locked/deep/f && chmod 500 locked"))
    await client.execute(req)
    await until_terminal(client, req.run_id)
    worktree = executor.worktree(req.run_id)
    assert worktree.is_dir()
    assert str(worktree) in git(repo, "worktree", "list")
    await client.discard(req.run_id)
    assert not worktree.exists()
    assert str(worktree) not in git(repo, "worktree", "list")
    status = await client.get(req.run_id)
    assert status.discarded and status.state == "finished"
    await client.discard(req.run_id)  # idempotent


async def test_file_url_is_a_local_repository(client: ExecutorClient, repo: Path) -> None:
    req = request(f"file://{repo}", sh("echo hi >> README.md"))
    await client.execute(req)
    status = await until_terminal(client, req.run_id)
    assert status.state == "finished"
    assert [(f.path, f.added) for f in status.changed_files] == [("README.md", 1)]


async def test_an_agent_rewriting_dot_git_cannot_redirect_the_executor(
    client: ExecutorClient, executor: RunningExecutor, repo: Path, tmp_path: Path
) -> None:
    # A fake repository whose config would run a command on `git add` if git used it.
    evil = make_repo(tmp_path / "evil")
    pwned = tmp_path / "pwned"
    git(evil, "config", "core.fsmonitor", f"touch {pwned}; false")
    agent = sh(f"echo 'gitdir: {evil}/.git' > .git && echo change >> README.md")
    req = request(repo, agent)
    await client.execute(req)
    status = await until_terminal(client, req.run_id)
    assert status.state == "finished", status.error
    assert [(f.path, f.added) for f in status.changed_files] == [("README.md", 1)]
    await client.discard(req.run_id)
    assert not pwned.exists()
    assert not executor.worktree(req.run_id).exists()
    assert str(executor.worktree(req.run_id)) not in git(repo, "worktree", "list")
