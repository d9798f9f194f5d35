"""The HTTP surface: problem+json errors, 422 lists, long polls, artifacts, health."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from agency.executor.client import ExecutorClient
from tests.agency.executor.conftest import RunningExecutor, needs_bwrap, request, sh

pytestmark = needs_bwrap

PROBLEM = "application/problem+json"


async def test_unknown_runs_and_artifacts_are_404_problems(executor: RunningExecutor) -> None:
    async with httpx.AsyncClient(base_url=executor.url) as http:
        for method, url in [
            ("GET", "/runs/nope"),
            ("POST", "/runs/nope/cancel"),
            ("POST", "/runs/nope/suspend"),
            ("DELETE", "/runs/nope"),
            ("GET", "/artifacts/nope"),
            ("GET", "/no-such-route"),
        ]:
            response = await http.request(method, url)
            assert response.status_code == 404, url
            assert response.headers["content-type"] == PROBLEM
            body = response.json()
            assert set(body) >= {"type", "title", "status", "detail"}
            assert body["status"] == 404


async def test_422_lists_every_problem_and_never_a_stack_trace(
    executor: RunningExecutor, repo: Path
) -> None:
    body = request(repo, ["true"]).model_dump(mode="json")
    body.update(run_id="../x", iteration=0, base_commit="nothex")
    body["agent"]["timeout_s"] = -1
    async with httpx.AsyncClient(base_url=executor.url) as http:
        response = await http.post("/execute", json=body)
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        problem = response.json()
        locs = {tuple(e["loc"]) for e in problem["errors"]}
        assert {
            ("body", "run_id"),
            ("body", "iteration"),
            ("body", "base_commit"),
            ("body", "agent", "timeout_s"),
        } <= locs
        for field in ("run_id", "iteration", "base_commit", "timeout_s"):
            assert field in problem["detail"]
        assert "Traceback" not in response.text

        # Checks beyond the schema are listed together too.
        body = request(repo, ["tr\0ue"], env={"BAD-NAME": "x"}).model_dump(mode="json")
        response = await http.post("/execute", json=body)
        assert response.status_code == 422
        assert len(response.json()["errors"]) == 2

        response = await http.post(
            "/execute", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert response.status_code == 422 and response.headers["content-type"] == PROBLEM

        response = await http.get("/runs/some-run", params={"wait": 31})
        assert response.status_code == 422 and "wait" in response.json()["detail"]


async def test_long_poll_returns_on_a_state_change(client: ExecutorClient, repo: Path) -> None:
    req = request(repo, sh("sleep 0.5"))
    await client.execute(req)
    status = await client.get(req.run_id)
    seen = [status.state]
    started = time.monotonic()
    while status.state != "finished":
        status = await client.get(req.run_id, wait_s=10)
        seen.append(status.state)
    assert time.monotonic() - started < 5  # woken by the change, not by the 10 s limit
    assert seen[-1] == "finished" and "running" in seen

    # A finished run answers at once; a state already left answers at once too.
    started = time.monotonic()
    assert (await client.get(req.run_id, wait_s=10)).state == "finished"
    assert (await client.get(req.run_id, wait_s=10, since="running")).state == "finished"
    assert time.monotonic() - started < 2


async def test_long_poll_lasts_its_wait_when_nothing_changes(
    client: ExecutorClient, repo: Path
) -> None:
    req = request(repo, ["sleep", "30"])
    await client.execute(req)
    status = await client.get(req.run_id)
    while status.state == "preparing":
        status = await client.get(req.run_id, wait_s=5, since="preparing")
    started = time.monotonic()
    assert (await client.get(req.run_id, wait_s=0.4, since="running")).state == "running"
    assert time.monotonic() - started >= 0.4
    await client.control(req.run_id, "cancel")


async def test_execute_is_202_then_200_and_health_counts_active_runs(
    executor: RunningExecutor, client: ExecutorClient, repo: Path
) -> None:
    req = request(repo, ["sleep", "30"])
    async with httpx.AsyncClient(base_url=executor.url) as http:
        first = await http.post("/execute", json=req.model_dump(mode="json"))
        second = await http.post("/execute", json=req.model_dump(mode="json"))
        artifact_missing = await http.get(f"/artifacts/{req.run_id}")
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json()["run_id"] == req.run_id
    assert artifact_missing.status_code == 404
    health = await client.health()
    assert health.status == "ok" and health.sandbox == "bwrap" and health.problem is None
    assert health.active_runs == 1
    await client.control(req.run_id, "cancel")
    assert (await client.health()).active_runs == 0


async def test_artifacts_are_plain_text(
    executor: RunningExecutor, client: ExecutorClient, repo: Path
) -> None:
    req = request(repo, sh("echo more >> README.md"))
    await client.execute(req)
    while (status := await client.get(req.run_id, wait_s=5)).state != "finished":
        pass
    async with httpx.AsyncClient(base_url=executor.url) as http:
        response = await http.get(f"/artifacts/{status.diff_artifact}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "+more" in response.text
