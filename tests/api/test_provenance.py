"""A task's provenance and replay over real HTTP, and `agency verify` / `agency replay`
(with --rerun) / `agency keys …-signing` against it."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from typer.testing import CliRunner, Result

from agency.cli.main import app
from tests.api.conftest import ApiUnderTest
from tests.api.test_tasks import finished, wait_task
from tests.support.repos import git, task_spec


async def finished_task(api: ApiUnderTest) -> dict[str, Any]:
    response = await api.http.post("/api/v1/tasks", json=task_spec(api.h.repo))
    assert response.status_code == 201, response.text
    return await wait_task(api.http, response.json()["id"], finished)


async def provenance(api: ApiUnderTest, task_id: str, within: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        report = (await api.http.get(f"/api/v1/tasks/{task_id}/provenance")).json()
        if not report["pending"] or time.monotonic() > deadline:
            return report
        await asyncio.sleep(0.2)


def cli(api: ApiUnderTest, *args: str) -> Result:
    env = {
        "AGENCY_API_URL": api.url,
        "AGENCY_API_KEY": api.admin_key,
        "AGENCY_DATA_DIR": str(api.h.settings.data_dir),
    }
    return CliRunner().invoke(app, list(args), env=env)


async def agency(api: ApiUnderTest, *args: str) -> Result:
    # In a thread: the worker runs on this event loop and must keep going meanwhile.
    return await asyncio.to_thread(cli, api, *args)


async def test_provenance_verifies_and_names_each_check(api: ApiUnderTest) -> None:
    task = await finished_task(api)
    report = await provenance(api, task["id"])
    assert report["verified"], report["checks"]
    assert [c["name"] for c in report["checks"]] == [
        "record",
        "key",
        "signature",
        "database",
        "history",
        "git",
        "applied_commit",
    ]
    assert report["record"]["applied_commit"] == git(api.h.repo, "rev-parse", "main")
    assert report["jws"].count(".") == 2 and report["path"] == f"tasks/{task['id']}.jws"

    other = api.client(await api.key("eve", "admin", tenant="acme"))
    assert (await other.get(f"/api/v1/tasks/{task['id']}/provenance")).status_code == 404

    # The audit export is the same trail, in order, with each round's judgments.
    audit = await agency(api, "audit", task["id"], "--json")
    entries = json.loads(audit.stdout)
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    reviews = [e for e in entries if e["judgments"]]
    assert [e["action"] for e in reviews] == ["plan_review", "result_review"]
    signed = report["record"]["trail"]
    assert [(e["seq"], e["action"]) for e in entries[: len(signed)]] == [
        (e["seq"], e["action"]) for e in signed
    ]
    assert reviews[1]["judgments"] == signed[reviews[1]["seq"] - 1]["judgments"]

    replay = (await api.http.get(f"/api/v1/tasks/{task['id']}/replay")).json()
    assert replay["deterministic"] and replay["divergence"] is None
    assert replay["events"] > report["record"]["workflow"]["history_events"]


async def test_verify_exits_0_when_all_holds_and_1_naming_what_failed(api: ApiUnderTest) -> None:
    task = await finished_task(api)
    ok = await agency(api, "verify", task["id"])
    assert ok.exit_code == 0, ok.output
    assert "verified" in ok.stderr and "signature" in ok.stdout

    report = await provenance(api, task["id"])
    path = api.h.settings.effective_provenance_repo / report["path"]
    original = path.read_text()
    path.write_text(original.replace(".", "x.", 1))
    try:
        bad = await agency(api, "verify", task["id"], "--json")
        assert bad.exit_code == 1
        checks = {c["name"]: c for c in json.loads(bad.stdout)["checks"]}
        assert checks["git"]["status"] == "fail"
        assert "working tree differs" in checks["git"]["detail"]
        plain = await agency(api, "verify", task["id"])
        assert plain.exit_code == 1 and "NOT verified: git" in plain.stderr
    finally:
        path.write_text(original)


async def test_rotated_keys_still_verify_and_a_revoked_one_does_not(api: ApiUnderTest) -> None:
    task = await finished_task(api)
    kid = (await provenance(api, task["id"]))["kid"]

    rotated = await agency(api, "keys", "rotate-signing")
    assert rotated.exit_code == 0 and rotated.stdout.strip() != kid
    assert (await agency(api, "verify", task["id"])).exit_code == 0
    keys = json.loads((await agency(api, "keys", "list-signing", "--json")).stdout)
    assert [(k["kid"], k["status"]) for k in keys] == [
        (kid, "retired"),
        (rotated.stdout.strip(), "current"),
    ]

    revoked = await agency(api, "keys", "revoke-signing", "--reason", "leaked", "--", kid)
    assert revoked.exit_code == 0, revoked.output
    after = await agency(api, "verify", task["id"], "--json")
    assert after.exit_code == 1
    checks = {c["name"]: c for c in json.loads(after.stdout)["checks"]}
    assert checks["key"]["status"] == "fail" and "revoked" in checks["key"]["detail"]


async def test_replay_and_rerun_of_a_deterministic_task_report_no_differences(
    api: ApiUnderTest,
) -> None:
    task = await finished_task(api)
    done = await agency(api, "replay", task["id"], "--rerun", "--timeout", "120", "--json")
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert result["determinism"]["deterministic"]
    assert result["rerun"]["differences"] == [] and result["rerun"]["verified"]
    rerun = (await api.http.get(f"/api/v1/tasks/{result['rerun']['task_id']}")).json()
    assert rerun["phase"] == "completed" and rerun["execution_mode"] == "dry_run"
    assert rerun["spec"]["base_ref"] == git(api.h.repo, "rev-parse", "main^")
    assert rerun["applied_commit"] is None  # a re-run never applies a change again
