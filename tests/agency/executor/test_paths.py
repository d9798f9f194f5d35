"""Path safety: ids, relative paths and symlinks in a change cannot reach outside a worktree.

Proves the checks on their own, then that a run whose change holds a symlink leading
out of the worktree fails (the link is reported, never followed), while a symlink that
stays inside is an ordinary change.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from agency.executor.host import HostRuns
from agency.executor.paths import relative_path_problem, run_id_problem, symlink_problem
from tests.agency.executor.conftest import finished, needs_bwrap, request, sh


@pytest.mark.parametrize("run_id", ["..", "a..b", "../etc", "a/b", ".hidden", "", "x" * 201])
def test_unsafe_run_ids_are_refused(run_id: str) -> None:
    assert run_id_problem(run_id) is not None


@pytest.mark.parametrize("run_id", ["run-1", "wf.2_activity-3", "A" * 200])
def test_plain_run_ids_are_accepted(run_id: str) -> None:
    assert run_id_problem(run_id) is None


@pytest.mark.parametrize("run_id", ["..", "../etc", "a/b", ".hidden", "", "x" * 201, "a\0b"])
def test_a_request_cannot_name_a_run_outside_the_workspaces(run_id: str, repo: Path) -> None:
    with pytest.raises(ValidationError):
        request(repo, ["true"], run_id=run_id)


@pytest.mark.parametrize("path", ["../x", "a/../../x", "/etc/passwd", "a\0b", ""])
def test_escaping_relative_paths_are_refused(path: str) -> None:
    assert relative_path_problem(path) is not None


def test_symlinks_are_judged_by_where_they_lead(tmp_path: Path) -> None:
    root = tmp_path / "wt"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "target.txt").write_text("x")
    os.symlink("target.txt", root / "sub" / "ok")
    os.symlink("../sub/target.txt", root / "sub" / "ok-up-and-back")
    os.symlink("/etc", root / "abs")
    os.symlink("../../outside", root / "sub" / "up")
    os.symlink("sub/up", root / "via-escaping-link")
    assert symlink_problem(root, "sub/ok") is None
    assert symlink_problem(root, "sub/ok-up-and-back") is None
    assert "absolute" in (symlink_problem(root, "abs") or "")
    assert "outside" in (symlink_problem(root, "sub/up") or "")
    assert "outside" in (symlink_problem(root, "via-escaping-link") or "")


@needs_bwrap
@pytest.mark.parametrize(
    ("link", "why"),
    [("/etc", "absolute"), ("../../../../../../etc/passwd", "outside")],
)
async def test_a_symlink_leading_outside_fails_the_run(
    host: HostRuns, repo: Path, link: str, why: str
) -> None:
    req = request(repo, sh(f"ln -s {link} escape && echo fine > ok.txt"))
    status = await host.execute(req)
    assert status.state == "failed"
    assert "escape" in (status.error or "") and why in (status.error or "")
    assert status.error and status.error.startswith("unsafe change: ")
    # It was never followed: the symlink is reported as such and is still a link.
    assert os.readlink(host.layout.worktree(req.run_id) / "escape") == link
    assert sorted(f.path for f in status.changed_files) == ["escape", "ok.txt"]
    assert host.active() == 0


@needs_bwrap
async def test_a_symlink_inside_the_worktree_is_an_ordinary_change(
    host: HostRuns, repo: Path
) -> None:
    status = await finished(host, request(repo, sh("ln -s README.md readme-link")))
    assert [(f.path, f.status) for f in status.changed_files] == [("readme-link", "added")]
