"""Path safety: ids, request paths and symlinks in a change cannot reach outside a workspace."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from agency.executor.client import ExecutorClient, ExecutorError
from agency.executor.paths import relative_path_problem, run_id_problem, symlink_problem
from agency.executor.schemas import ApplyRequest
from tests.agency.executor.conftest import (
    RunningExecutor,
    needs_bwrap,
    request,
    sh,
    until_terminal,
)


@pytest.mark.parametrize("run_id", ["..", "a..b", "../etc", "a/b", ".hidden", "", "x" * 201])
def test_unsafe_run_ids_are_refused(run_id: str) -> None:
    assert run_id_problem(run_id) is not None


@pytest.mark.parametrize("run_id", ["run-1", "wf.2_activity-3", "A" * 200])
def test_plain_run_ids_are_accepted(run_id: str) -> None:
    assert run_id_problem(run_id) is None


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
async def test_run_ids_with_dot_dot_are_422(
    client: ExecutorClient, executor: RunningExecutor, repo: Path
) -> None:
    async with httpx.AsyncClient(base_url=executor.url) as http:
        body = request(repo, ["true"]).model_dump(mode="json") | {"run_id": "a..b"}
        response = await http.post("/execute", json=body)
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert "run_id" in response.json()["detail"]
        response = await http.get("/runs/%2E%2E")
        assert response.status_code == 422
        response = await http.get("/artifacts/..%2F..%2Fruns")
        assert response.status_code == 404
    with pytest.raises(ExecutorError) as err:
        await client.get("x..y")
    assert err.value.status == 422 and not err.value.retryable


@needs_bwrap
@pytest.mark.parametrize(
    ("link", "why"),
    [("/etc", "absolute"), ("../../../../../../etc/passwd", "outside")],
)
async def test_a_symlink_leading_outside_fails_the_run(
    client: ExecutorClient, executor: RunningExecutor, repo: Path, link: str, why: str
) -> None:
    req = request(repo, sh(f"ln -s {link} escape && echo fine > ok.txt"))
    await client.execute(req)
    status = await until_terminal(client, req.run_id)
    assert status.state == "failed"
    assert "escape" in (status.error or "") and why in (status.error or "")
    # It was never followed: the symlink is reported as such and /etc was not read.
    assert os.readlink(executor.worktree(req.run_id) / "escape") == link
    with pytest.raises(ExecutorError) as err:
        await client.apply(req.run_id, _apply())
    assert err.value.status == 409


@needs_bwrap
async def test_a_symlink_inside_the_worktree_is_an_ordinary_change(
    client: ExecutorClient, repo: Path
) -> None:
    req = request(repo, sh("ln -s README.md readme-link"))
    await client.execute(req)
    status = await until_terminal(client, req.run_id)
    assert status.state == "finished"
    assert [(f.path, f.status) for f in status.changed_files] == [("readme-link", "added")]


def _apply() -> ApplyRequest:
    return ApplyRequest(message="x")
