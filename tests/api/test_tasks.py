"""The task API over real HTTP: validation, submission, reads and interventions."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import Any

import httpx

from agency.db.engine import make_engine, session_maker
from tests.agency.db.factories import as_stored_before_full_projection
from tests.api.conftest import ApiUnderTest
from tests.support.harness import state_of
from tests.support.repos import git, task_spec

PROBLEM = "application/problem+json"
CAWS_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "caws"


async def wait_task(http: httpx.AsyncClient, task_id: str, predicate: Any, within: float = 60):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        body = (await http.get(f"/api/v1/tasks/{task_id}")).json()
        if predicate(body):
            return body
        await asyncio.sleep(0.2)
    raise AssertionError(f"task {task_id} never reached the condition; last: {body['phase']}")


def finished(body: dict[str, Any]) -> bool:
    return body["phase"] in ("completed", "failed", "rejected", "canceled") and not body["live"]


async def test_invalid_spec_lists_every_problem_and_creates_nothing(api: ApiUnderTest) -> None:
    bad = task_spec(api.h.repo, risk_tier=7, mode="party", scope={"in": ["../etc"]}, acceptance=[])
    del bad["title"]
    response = await api.http.post("/api/v1/tasks", json=bad)

    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)
    paths = {e["path"] for e in response.json()["errors"]}
    assert {"title", "risk_tier", "mode", "acceptance"} <= paths
    assert any(p.startswith("scope.in") for p in paths)
    assert (await api.http.get("/api/v1/tasks")).json()["items"] == []


async def test_non_object_body_is_a_problem_not_a_crash(api: ApiUnderTest) -> None:
    for body in ("[1, 2]", '"text"', "{not json"):
        response = await api.http.post(
            "/api/v1/tasks", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, body
        assert response.headers["content-type"].startswith(PROBLEM)


async def test_submitted_task_runs_to_completion_with_audit_and_events(api: ApiUnderTest) -> None:
    response = await api.http.post("/api/v1/tasks", json=task_spec(api.h.repo))
    assert response.status_code == 201, response.text
    task = response.json()
    assert task["caws_id"] == "FEAT-0001" and task["submitted_by"] == "tester"

    done = await wait_task(api.http, task["id"], finished)
    assert done["phase"] == "completed", done["error"]
    assert done["applied_commit"] == git(api.h.repo, "rev-parse", "main")
    assert sorted(v["judge"] for v in done["verdicts"]) == [
        "constitutional",
        "integration",
        "quality",
        "technical",
    ]
    audit = (await api.http.get(f"/api/v1/tasks/{task['id']}/audit")).json()["items"]
    assert audit[0]["action"] == "submitted" and audit[0]["actor"] == "tester"
    assert audit[-1]["phase"] == "completed"
    events = (await api.http.get(f"/api/v1/tasks/{task['id']}/events?after=3")).json()["items"]
    assert [e["seq"] for e in events] == list(range(4, len(audit) + 1))

    listed = (await api.http.get("/api/v1/tasks?phase=completed")).json()["items"]
    assert [t["id"] for t in listed] == [task["id"]]
    assert (await api.http.get("/api/v1/tasks?phase=failed")).json()["items"] == []


async def test_unknown_task_is_404_problem(api: ApiUnderTest) -> None:
    for path in ("", "/audit", "/events"):
        response = await api.http.get(f"/api/v1/tasks/nope{path}")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith(PROBLEM)
    response = await api.http.post("/api/v1/tasks/nope/pause", json={})
    assert response.status_code == 404


async def test_strict_task_waits_for_approval_and_refuses_what_does_not_apply(
    api: ApiUnderTest,
) -> None:
    head = git(api.h.repo, "rev-parse", "main")
    task = (
        await api.http.post("/api/v1/tasks", json=task_spec(api.h.repo, execution_mode="strict"))
    ).json()
    waiting = await wait_task(api.http, task["id"], lambda b: b["pending_action"] == "approve")
    assert waiting["phase"] == "awaiting_approval"
    assert git(api.h.repo, "rev-parse", "main") == head  # nothing applied before approval

    resume = await api.http.post(f"/api/v1/tasks/{task['id']}/resume", json={})
    assert resume.status_code == 409
    assert "not paused" in resume.json()["detail"]
    lower = await api.http.post(f"/api/v1/tasks/{task['id']}/parameters", json={"risk_tier": 3})
    assert lower.status_code == 409 and "cannot lower the risk" in lower.json()["detail"]

    approve = await api.http.post(
        f"/api/v1/tasks/{task['id']}/approve", json={"reason": "looks right"}
    )
    assert approve.status_code == 202, approve.text
    done = await wait_task(api.http, task["id"], finished)
    assert done["phase"] == "completed" and done["applied_commit"]
    audit = (await api.http.get(f"/api/v1/tasks/{task['id']}/audit")).json()["items"]
    approval = next(a for a in audit if a["action"] == "approve")
    assert approval["actor"] == "tester" and approval["approval_status"] == "approved"

    again = await api.http.post(f"/api/v1/tasks/{task['id']}/approve", json={})
    assert again.status_code == 409 and "completed" in again.json()["detail"]


async def test_a_running_task_is_read_from_its_projection_alone(api: ApiUnderTest) -> None:
    spec = task_spec(api.h.repo, execution_mode="strict")
    task = (await api.http.post("/api/v1/tasks", json=spec)).json()
    waiting = await wait_task(api.http, task["id"], lambda b: b["pending_action"] == "approve")
    handle = api.h.client.get_workflow_handle(waiting["workflow_id"])
    state = await state_of(handle)
    # What the workflow holds, the projection holds: the read never asked Temporal.
    assert waiting["live"] is False
    assert [(r["stage"], r["decision"]["outcome"]) for r in waiting["rounds"]] == [
        (r.stage, r.decision.outcome) for r in state.rounds
    ]
    assert waiting["decision"] == state.decision.model_dump(mode="json")  # type: ignore[union-attr]
    assert waiting["execution"] == state.execution.model_dump(mode="json")  # type: ignore[union-attr]
    # An intervention is in the projection by the time it is answered.
    pause = await api.http.post(f"/api/v1/tasks/{task['id']}/pause", json={})
    assert pause.status_code == 202, pause.text
    assert (await api.http.get(f"/api/v1/tasks/{task['id']}")).json()["paused"] is True

    # A task stored before the projection held its whole state: merged with the live state.
    engine = make_engine(api.h.settings.effective_database_url)
    try:
        async with session_maker(engine)() as session:
            await as_stored_before_full_projection(session, task["id"])
    finally:
        await engine.dispose()
    older = (await api.http.get(f"/api/v1/tasks/{task['id']}")).json()
    assert older["live"] is True and older["paused"] is True
    assert older["rounds"] == waiting["rounds"] and older["decision"] == waiting["decision"]
    await api.http.post(f"/api/v1/tasks/{task['id']}/cancel", json={})


async def test_cancel_through_the_api_is_audited_with_the_caller(api: ApiUnderTest) -> None:
    spec = task_spec(
        api.h.repo,
        agent={
            "argv": ["python3", "tools/agent.py"],
            "timeout_s": 120,
            "env": {"AGENT_SCENARIO": "slow", "AGENT_SECONDS": "60"},
        },
    )
    task = (await api.http.post("/api/v1/tasks", json=spec)).json()
    await wait_task(api.http, task["id"], lambda b: b["phase"] == "executing")
    operator = api.client(await api.key("operator-1", "operator"))
    response = await operator.post(
        f"/api/v1/tasks/{task['id']}/cancel", json={"reason": "wrong task"}
    )
    assert response.status_code == 202
    done = await wait_task(api.http, task["id"], finished)
    assert done["phase"] == "canceled"
    audit = (await api.http.get(f"/api/v1/tasks/{task['id']}/audit")).json()["items"]
    assert (audit[-1]["action"], audit[-1]["actor"]) == ("canceled", "operator-1")


async def test_a_caws_spec_in_the_repo_supplies_the_governance(api: ApiUnderTest) -> None:
    repo = api.h.repo
    (repo / ".caws" / "specs").mkdir(parents=True)
    shutil.copy(CAWS_FIXTURES / "policy.yaml", repo / ".caws" / "policy.yaml")
    real = (CAWS_FIXTURES / "specs" / "CAWS-HOOKS-CLI-CWD-LEAK-001.yaml").read_text()
    # The real spec, re-scoped to this repository's files; every other field kept.
    (repo / ".caws" / "specs" / "HOOKS.yaml").write_text(
        real.replace(
            "    - 'packages/caws-cli/templates/hook-packs/shared/lib/agent-surface.sh'",
            "    - 'src/'\n    - 'tests/'",
        )
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "caws")
    body = {
        "caws_spec": ".caws/specs/HOOKS.yaml",
        "repo": str(repo),
        "agent": {"argv": ["python3", "tools/agent.py"], "env": {"AGENT_SCENARIO": "in_scope"}},
        "execution_mode": "dry_run",
    }
    response = await api.http.post("/api/v1/tasks", json=body)
    assert response.status_code == 201, response.text
    task = response.json()
    assert task["caws_id"] == "CAWS-HOOKS-CLI-CWD-LEAK-001" and task["mode"] == "fix"
    assert task["spec"]["lifecycle_state"] == "closed"  # unused CAWS fields are kept
    done = await wait_task(api.http, task["id"], finished)
    assert done["phase"] in ("completed", "rejected"), done["error"]

    missing = await api.http.post("/api/v1/tasks", json={**body, "caws_spec": ".caws/nope.yaml"})
    assert missing.status_code == 422 and missing.json()["errors"][0]["path"] == "caws_spec"


async def test_health_sees_the_harness_executor_and_worker(api: ApiUnderTest) -> None:
    # The census itself is tested in test_health.py; here, the real executor and worker.
    response = await api.http.get("/health")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["temporal"]["ok"] and body["database"]["ok"]
    assert body["executors"]["task_queue"] == api.h.settings.executor_task_queue
    assert [p["active"] for p in body["executors"]["pollers"]] == [True]
    assert body["workers"]["task_queue"] == api.h.task_queue
    assert body["workers"]["pollers"] and all(p["active"] for p in body["workers"]["pollers"])


async def test_temporal_down_is_503_and_leaves_no_task_behind(
    api: ApiUnderTest, tmp_path: Path
) -> None:
    from agency.asgi_thread import free_port, serve_app
    from api.app import create_app

    down = api.h.settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    with serve_app(create_app(down)) as url:
        async with httpx.AsyncClient(base_url=url, headers=api.headers, timeout=30) as http:
            response = await http.post("/api/v1/tasks", json=task_spec(api.h.repo))
            assert response.status_code == 503
            assert response.headers["content-type"].startswith(PROBLEM)
            assert "Temporal" in response.json()["detail"]
            assert (await http.get("/api/v1/tasks")).json()["items"] == []
            health = await http.get("/health")
            assert health.status_code == 503
            assert health.json()["temporal"]["ok"] is False
            assert health.json()["database"]["ok"] is True


async def test_a_workflow_that_cannot_start_leaves_no_task_behind(api: ApiUnderTest) -> None:
    from agency.asgi_thread import serve_app
    from api.app import create_app

    # Temporal answers, but the namespace does not exist: starting the workflow fails
    # after the projection row was written, and that row must go again.
    broken = api.h.settings.model_copy(update={"temporal_namespace": "no-such-namespace"})
    with serve_app(create_app(broken)) as url:
        async with httpx.AsyncClient(base_url=url, headers=api.headers, timeout=30) as http:
            response = await http.post("/api/v1/tasks", json=task_spec(api.h.repo))
            assert response.status_code == 503, response.text
            assert "could not start" in response.json()["detail"]
            assert (await http.get("/api/v1/tasks")).json()["items"] == []
