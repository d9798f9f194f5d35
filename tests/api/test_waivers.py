"""/api/v1/waivers over real HTTP, and `agency waiver …` against it."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from typer.testing import CliRunner, Result

from agency.cli.main import app
from tests.api.conftest import ApiUnderTest

PROBLEM = "application/problem+json"


def body(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": "Bigger change for FEAT-0001",
        "reason": "the refactor touches more files than tier 2 allows",
        "reason_code": "architectural_refactor",
        "gates": ["budget_limit"],
        "delta": {"max_files": 10, "max_loc": 500},
        "applies_to": ["FEAT-0001"],
        "risk_owner": "olivia",
        "risk_tier": 2,
        "expires_at": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
    }
    data.update(overrides)
    return data


async def test_the_waiver_lifecycle(api: ApiUnderTest) -> None:
    carl = api.client(await api.key("carl", "operator"))
    olivia = api.client(await api.key("olivia", "admin"))
    ann = api.client(await api.key("ann", "admin"))
    bob = api.client(await api.key("bob", "admin"))
    viewer = api.client(await api.key("vera", "viewer"))

    created = await carl.post("/api/v1/waivers", json=body())
    assert created.status_code == 201, created.text
    waiver = created.json()
    assert waiver["id"] == "WV-0001" and waiver["status"] == "proposed"
    assert waiver["created_by"] == "carl" and waiver["required_approvals"] == 2
    url = f"/api/v1/waivers/{waiver['id']}"

    # Neither its creator nor its risk owner may approve it (carl is only an operator).
    assert (await carl.post(f"{url}/approve", json={})).status_code == 403
    own = await olivia.post(f"{url}/approve", json={})
    assert own.status_code == 409 and "may not approve their own waiver" in own.json()["detail"]

    first = await ann.post(f"{url}/approve", json={"comment": "diff reviewed"})
    assert first.json()["status"] == "proposed"
    twice = await ann.post(f"{url}/approve", json={})
    assert twice.status_code == 409 and "already approved" in twice.json()["detail"]
    assert twice.headers["content-type"].startswith(PROBLEM)
    active = (await bob.post(f"{url}/approve")).json()
    assert active["status"] == "active" and active["activated_at"]
    assert [(a["approver"], a["comment"]) for a in active["approvals"]] == [
        ("ann", "diff reviewed"),
        ("bob", ""),
    ]

    assert (await viewer.get(url)).json()["status"] == "active"
    listed = (await viewer.get("/api/v1/waivers", params={"status": "active"})).json()["items"]
    assert [w["id"] for w in listed] == ["WV-0001"]
    assert (await viewer.post("/api/v1/waivers", json=body())).status_code == 403

    revoked = await ann.post(f"{url}/revoke", json={"reason": "the refactor was split"})
    assert revoked.json()["status"] == "revoked"
    assert revoked.json()["revoked_by"] == "ann"
    late = await bob.post(f"{url}/approve")
    assert late.status_code == 409 and "is revoked" in late.json()["detail"]


async def test_waivers_are_checked_and_scoped_to_the_tenant(api: ApiUnderTest) -> None:
    no_budget_gate = await api.http.post("/api/v1/waivers", json=body(gates=["scope_boundary"]))
    assert no_budget_gate.status_code == 422
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    expired = await api.http.post("/api/v1/waivers", json=body(expires_at=past))
    assert expired.status_code == 422
    assert expired.json()["errors"][0]["path"] == "expires_at"
    unknown_code = await api.http.post("/api/v1/waivers", json=body(reason_code="because"))
    assert unknown_code.status_code == 422

    made = (await api.http.post("/api/v1/waivers", json=body())).json()
    other = api.client(await api.key("eve", "admin", tenant="acme"))
    assert (await other.get(f"/api/v1/waivers/{made['id']}")).status_code == 404
    assert (await other.get("/api/v1/waivers")).json()["items"] == []
    assert (await api.http.get("/api/v1/waivers/not-an-id")).status_code == 422


def cli(api: ApiUnderTest, key: str, *args: str) -> Result:
    env = {"AGENCY_API_URL": api.url, "AGENCY_API_KEY": key}
    return CliRunner().invoke(app, list(args), env=env)


async def test_the_waiver_commands(api: ApiUnderTest) -> None:
    carl = await api.key("carl", "operator")
    ann, bob = await api.key("ann", "admin"), await api.key("bob", "admin")

    def run(key: str, *args: str) -> Result:
        return cli(api, key, "waiver", *args)

    created = await asyncio.to_thread(
        run,
        carl,
        "create",
        "--title", "Bigger change",
        "--reason", "the refactor needs twenty files",
        "--reason-code", "architectural_refactor",
        "--gate", "budget_limit",
        "--max-files", "20",
        "--applies-to", "FEAT-0001",
        "--risk-owner", "olivia",
        "--expires", "7d",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    waiver_id = created.stdout.strip()
    assert waiver_id == "WV-0001"

    self_approval = await asyncio.to_thread(run, carl, "approve", waiver_id)
    assert self_approval.exit_code == 2  # an operator may not approve at all (403)
    for key in (ann, bob):
        done = await asyncio.to_thread(run, key, "approve", waiver_id, "--comment", "ok")
        assert done.exit_code == 0, done.output
    again = await asyncio.to_thread(run, ann, "approve", waiver_id)
    assert again.exit_code == 2 and "already approved" in again.stderr

    shown = await asyncio.to_thread(run, ann, "show", waiver_id, "--json")
    assert json.loads(shown.stdout)["status"] == "active"
    table = await asyncio.to_thread(run, ann, "list")
    assert waiver_id in table.stdout and "active" in table.stdout

    gone = await asyncio.to_thread(run, ann, "revoke", waiver_id, "--reason", "not needed")
    assert gone.exit_code == 0 and "revoked" in gone.stderr
    listed = await asyncio.to_thread(run, ann, "list", "--status", "revoked", "--json")
    assert [w["id"] for w in json.loads(listed.stdout)] == [waiver_id]

    bad = await asyncio.to_thread(run, ann, "create", "--title", "x", "--reason", "y" * 20,
                                  "--reason-code", "other", "--gate", "scope_boundary",
                                  "--applies-to", "F-1", "--risk-owner", "o",
                                  "--expires", "soon")  # fmt: skip
    assert bad.exit_code == 2 and "--expires 'soon'" in bad.stderr
