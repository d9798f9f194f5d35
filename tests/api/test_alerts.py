"""Alerts and silences over HTTP and through `agency alerts`: roles, transitions with
their actors, problems for bad input, 404 and 409 for steps that do not apply."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from typer.testing import CliRunner, Result

from agency.cli.main import app as cli_app
from agency.db.types import utcnow
from tests.api.alerts_support import Served, api, fire, served

__all__ = ["api", "served"]


async def test_viewers_read_operators_ack_and_resolve(api: Served) -> None:
    await fire(api, ("task_success", "page"))
    async with api.client("viewer") as viewer, api.client("operator") as operator:
        (alert,) = (await viewer.get("/api/v1/alerts")).json()["items"]
        assert (alert["state"], alert["fingerprint"]) == ("firing", "task_success:page")
        assert alert["transitions"][0]["actor"] == "system"
        # A viewer may not act.
        refused = await viewer.post(f"/api/v1/alerts/{alert['id']}/ack", json={"reason": "x"})
        assert refused.status_code == 403

        acked = await operator.post(f"/api/v1/alerts/{alert['id']}/ack", json={"reason": "on it"})
        assert acked.status_code == 200, acked.text
        body = acked.json()
        assert (body["state"], body["acknowledged_by"]) == ("acknowledged", "otto")
        assert body["transitions"][-1] == {
            **body["transitions"][-1],
            "actor": "otto",
            "action": "acknowledged",
            "reason": "on it",
            "notify": False,
        }
        again = await operator.post(f"/api/v1/alerts/{alert['id']}/ack", json={"reason": "x"})
        assert again.status_code == 409
        assert "acknowledged" in again.json()["detail"]

        done = await operator.post(
            f"/api/v1/alerts/{alert['id']}/resolve", json={"reason": "fixed"}
        )
        assert (done.json()["state"], done.json()["resolved_by"]) == ("resolved", "otto")
        assert (
            await operator.post(f"/api/v1/alerts/{alert['id']}/resolve", json={"reason": "x"})
        ).status_code == 409
        assert (
            await operator.post("/api/v1/alerts/999/ack", json={"reason": "x"})
        ).status_code == 404
        missing = await operator.post(f"/api/v1/alerts/{alert['id']}/ack", json={})
        assert missing.status_code == 422
        assert missing.headers["content-type"].startswith("application/problem+json")
        assert [
            (await viewer.get("/api/v1/alerts", params={"state": "resolved"})).json()["items"][0][
                "id"
            ]
        ] == [alert["id"]]


async def test_silences_mute_matching_alerts_and_expire(api: Served) -> None:
    await fire(api, ("task_success", "page"), ("approval_latency", "ticket"))
    ends = (utcnow() + timedelta(hours=2)).isoformat()
    async with api.client("viewer") as viewer, api.client("operator") as operator:
        body = {
            "matchers": [{"name": "slo", "value": "task_success"}],
            "ends_at": ends,
            "reason": "deploy",
        }
        assert (await viewer.post("/api/v1/silences", json=body)).status_code == 403
        made = await operator.post("/api/v1/silences", json=body)
        assert made.status_code == 201, made.text
        silence = made.json()
        assert (silence["status"], silence["created_by"]) == ("active", "otto")

        alerts = {a["slo"]: a for a in (await viewer.get("/api/v1/alerts")).json()["items"]}
        assert alerts["task_success"]["silenced_by"] == [silence["id"]]
        assert alerts["approval_latency"]["silenced_by"] == []
        assert [s["id"] for s in (await viewer.get("/api/v1/silences")).json()["items"]] == [
            silence["id"]
        ]

        expired = await operator.delete(f"/api/v1/silences/{silence['id']}")
        assert (expired.json()["status"], expired.json()["expired_by"]) == ("expired", "otto")
        assert (await operator.delete(f"/api/v1/silences/{silence['id']}")).status_code == 409
        assert (await operator.delete("/api/v1/silences/12345")).status_code == 404
        assert (await viewer.get("/api/v1/silences")).json()["items"] == []
        listed = (await viewer.get("/api/v1/silences", params={"include_expired": True})).json()
        assert [s["status"] for s in listed["items"]] == ["expired"]


async def test_a_bad_silence_lists_every_problem(api: Served) -> None:
    past = (utcnow() - timedelta(hours=1)).isoformat()
    async with api.client("operator") as operator:
        bad = await operator.post(
            "/api/v1/silences",
            json={
                "matchers": [{"name": "slo", "value": "a"}, {"name": "slo", "value": "b"}],
                "ends_at": past,
                "reason": "x",
            },
        )
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")
        paths = sorted(e["path"] for e in bad.json()["errors"])
        assert paths == ["ends_at", "ends_at", "matchers.1.name"]
        unknown = await operator.post(
            "/api/v1/silences",
            json={"matchers": [{"name": "team", "value": "a"}], "ends_at": past, "reason": ""},
        )
        assert unknown.status_code == 422
        assert len(unknown.json()["errors"]) == 2  # the label name and the empty reason


def cli(api: Served, role: str, *args: str) -> Result:
    env = {"AGENCY_API_URL": api.url, "AGENCY_API_KEY": api.keys[role]}
    return CliRunner().invoke(cli_app, ["alerts", *args], env=env)


async def test_the_alerts_commands(api: Served) -> None:
    await fire(api, ("task_success", "page"))

    async def run(role: str, *args: str) -> Result:
        return await asyncio.to_thread(cli, api, role, *args)

    listed = await run("viewer", "list")
    assert listed.exit_code == 0, listed.output
    assert "FIRING" in listed.output and "task_success" in listed.output
    alert_id = (await run("viewer", "list", "--json")).output.split('"id": ')[1].split(",")[0]

    refused = await run("viewer", "ack", alert_id)
    assert refused.exit_code == 2 and "error:" in refused.output

    acked = await run("operator", "ack", alert_id, "--reason", "on it")
    assert acked.exit_code == 0, acked.output
    assert "acknowledged" in acked.output
    twice = await run("operator", "ack", alert_id)
    assert twice.exit_code == 2 and "only a firing alert" in twice.output

    silenced = await run(
        "operator", "silence", "--matcher", "slo=task_success", "--for", "2h", "--reason", "deploy"
    )
    assert silenced.exit_code == 0, silenced.output
    silence_id = silenced.output.split()[0]
    assert "deploy" in (await run("viewer", "silences")).output
    assert (
        await run("operator", "silence", "--matcher", "slo", "--for", "2h", "--reason", "x")
    ).exit_code == 2
    assert (
        await run("operator", "silence", "--matcher", "slo=a", "--for", "soon", "--reason", "x")
    ).exit_code == 2
    assert (await run("operator", "expire", silence_id)).exit_code == 0
    assert (await run("operator", "expire", silence_id)).exit_code == 2

    resolved = await run("operator", "resolve", alert_id, "--reason", "fixed")
    assert resolved.exit_code == 0 and "resolved" in resolved.output
