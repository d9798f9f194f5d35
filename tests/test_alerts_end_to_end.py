"""The alerts' acceptance test, on the whole stack as processes: failing tasks make the
task_success SLO burn (quiet below min_events of them), its page fires, a person
acknowledges it, a webhook is told once, and the alert resolves by itself when the
failures stop.

Every part is real and its own process (tests/faults/deployment.py): a Temporal dev
server, the workflow worker (which ensures the `agency-alerts` schedule when it starts),
an executor that runs the agents and gates, the API over HTTP, and a private PostgreSQL.
The webhook is an HTTP server on loopback in this test that checks each body's HMAC.

Nothing in the product is told it is under test; only its configuration is small:
- an SLO file of the test's own: task_success alone, `min_events: 3`, and one page
  alert over windows of minutes instead of hours;
- the schedule evaluates every 5 s (the settings' minimum) and a firing alert is
  notified again after 60 s (the minimum), so an acknowledgement is what must stop it.

The short window (90 s) keeps the alert firing for well over the repeat interval after
the failures stop: had the acknowledgement not muted it, it would have been notified
again before resolving. The test checks that the alert was still seen firing a repeat
interval after it fired, so that "no repeat" is a proof and not a matter of luck.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI, Request, Response
from temporalio.client import Client

from agency.asgi_thread import serve_app
from domain.alerts import ALERTS_WORKFLOW
from tests.faults.deployment import Deployment
from tests.faults.tasks import Tasks, task_body
from tests.support.keys import bearer, make_key
from tests.support.private_postgres import private_postgres
from tests.support.repos import make_repo

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SECRET = "e2e-webhook-secret"
INTERVAL_S = 5
REPEAT_S = 60
MIN_EVENTS = 3
SHORT_WINDOW_S = 90
# The budget of each wait, in seconds: bounded, generous for a loaded machine.
TASK_WITHIN = 90.0
FIRE_WITHIN = 60.0
RESOLVE_WITHIN = SHORT_WINDOW_S + 60.0

SLO_FILE = {
    "min_events": MIN_EVENTS,
    # One page over short windows: burn 14.4 over 3m and 90s. The long window may not
    # exceed the SLO's window and the short one must be shorter than the long one.
    "alerts": [
        {"severity": "page", "long": "3m", "short": f"{SHORT_WINDOW_S}s", "burn_rate": 14.4}
    ],
    "slos": [
        {
            "name": "task_success",
            "description": "Tasks the system carried to an end rather than failed.",
            "objective": 0.99,
            "window": "30d",
            "good": {
                "promql": 'agency_tasks_finished_total{outcome=~"completed|rejected|canceled"}',
                "records": {
                    "kind": "task_outcomes",
                    "outcomes": ["completed", "rejected", "canceled"],
                },
            },
            "total": {
                "promql": "agency_tasks_finished_total",
                "records": {
                    "kind": "task_outcomes",
                    "outcomes": ["completed", "failed", "rejected", "canceled"],
                },
            },
        }
    ],
}


@dataclass
class Receiver:
    """A webhook that answers 200 and keeps what it was sent; the server runs in a
    thread of its own, the test reads from this one, hence the lock."""

    received: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            body = await request.body()
            with self.lock:
                self.received.append((body, dict(request.headers)))
            return Response(status_code=200)

        return app

    def payloads(self) -> list[dict[str, Any]]:
        """Every body received, each checked first as a receiver must: its signature."""
        with self.lock:
            received = list(self.received)
        payloads = []
        for body, headers in received:
            expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(headers.get("x-agency-signature", ""), expected), headers
            payload = json.loads(body)
            assert headers.get("x-agency-delivery") == str(payload["agency"]["transition_id"])
            payloads.append(payload)
        return payloads

    def of(self, alert_id: int, action: str) -> list[dict[str, Any]]:
        return [
            p
            for p in self.payloads()
            if p["agency"]["alert_id"] == alert_id and p["agency"]["action"] == action
        ]


def poll(check: Callable[[], Any], within: float, what: str) -> Any:
    """check()'s first truthy answer, polled; fails after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        answer = check()
        if answer:
            return answer
        assert time.monotonic() < deadline, f"timed out after {within:.0f} s waiting for {what}"
        time.sleep(0.5)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    hook = Receiver()
    with serve_app(hook.app()) as url:
        yield hook, f"{url}/hook"


@pytest.fixture
def deployment(tmp_path: Path, receiver: tuple[Receiver, str]) -> Iterator[Deployment]:
    slo_file = tmp_path / "slo.yaml"
    slo_file.write_text(yaml.safe_dump(SLO_FILE, sort_keys=False))
    _, hook_url = receiver
    with private_postgres() as postgres:
        deployed = Deployment(tmp_path / "deployment", postgres)
        deployed.env = {
            "AGENCY_SLO_FILE": str(slo_file),
            "AGENCY_ALERT_INTERVAL_S": str(INTERVAL_S),
            "AGENCY_ALERT_REPEAT_INTERVAL_S": str(REPEAT_S),
            "AGENCY_ALERT_WEBHOOKS": json.dumps([hook_url]),
            "AGENCY_ALERT_WEBHOOK_SECRET": SECRET,
        }
        try:
            deployed.up()
            yield deployed
        finally:
            deployed.down()


def failing_task(repo: Path) -> dict[str, Any]:
    """A task the system fails: strict mode with a gate that fails ends it `failed`
    before the council judges it (workflows/phases/gates.py). The agent is the scripted
    one doing a clean change, so the failure is the gate's alone."""
    return {
        **task_body(repo, seconds=0),
        "id": "FEAT-0099",
        "title": "Add triple, gate broken",
        "gates": [{"name": "broken", "argv": ["python3", "-c", "raise SystemExit(1)"]}],
        "execution_mode": "strict",
    }


def evaluations_started_after(deployment: Deployment, after: datetime) -> int:
    """How many runs of the alerts' evaluator started after `after` have completed: such
    a run judged records written before `after` (its `now` is its start or later)."""
    since = after.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    query = (
        f"WorkflowType='{ALERTS_WORKFLOW}' AND ExecutionStatus='Completed'"
        f" AND StartTime > '{since}'"
    )

    async def count() -> int:
        client = await Client.connect(f"127.0.0.1:{deployment.temporal_port}")
        return (await client.count_workflows(query)).count

    return asyncio.run(count())


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_failures_fire_a_page_that_is_acknowledged_notified_once_and_resolves(
    deployment: Deployment, receiver: tuple[Receiver, str], tmp_path: Path
) -> None:
    hook, _ = receiver
    operator = asyncio.run(make_key(deployment.postgres.url, "on-call", role="operator"))
    tasks = Tasks(deployment.api_url, deployment.admin_key, tmp_path / "repos")
    api = httpx.Client(base_url=deployment.api_url, headers=bearer(operator), timeout=10)
    try:

        def alerts() -> list[dict[str, Any]]:
            response = api.get("/api/v1/alerts")
            assert response.status_code == 200, response.text
            return response.json()["items"]  # type: ignore[no-any-return]

        def page(state: str) -> dict[str, Any] | None:
            found = [a for a in alerts() if a["fingerprint"] == "task_success:page"]
            return found[0] if found and found[0]["state"] == state else None

        def fail(count: int, first: int) -> None:
            """`count` tasks that end `failed`, run at once."""
            failing = [
                tasks.post(failing_task(make_repo(tmp_path / "repos" / f"failing-{i}")))
                for i in range(first, first + count)
            ]
            for task_id in failing:
                task = tasks.wait_terminal(task_id, within=TASK_WITHIN)
                assert task["phase"] == "failed", task
                assert "gate(s) failed: broken" in (task["error"] or ""), task

        # --- one failure short of min_events: a 100 % error ratio, and still quiet
        fail(MIN_EVENTS - 1, first=0)
        judged_after = datetime.now(UTC)
        poll(
            lambda: evaluations_started_after(deployment, judged_after),
            FIRE_WITHIN,
            "an evaluation of the records that hold the failures",
        )
        assert alerts() == [], "fewer than min_events events must page nobody"

        # --- the failure that makes min_events
        fail(1, first=MIN_EVENTS - 1)

        # --- the page fires, and the webhook is told once
        fired = poll(lambda: page("firing"), FIRE_WITHIN, "a firing task_success page")
        assert fired["labels"] == {
            "alertname": "AgencySloErrorBudgetBurn",
            "slo": "task_success",
            "severity": "page",
        }
        assert [(t["action"], t["actor"]) for t in fired["transitions"]] == [("fired", "system")]
        alert_id = fired["id"]
        [firing] = poll(lambda: hook.of(alert_id, "fired"), 30, "the firing notification")
        assert firing["version"] == "4" and firing["status"] == "firing"
        assert firing["alerts"][0]["status"] == "firing"
        assert firing["alerts"][0]["labels"] == fired["labels"]
        assert firing["commonLabels"] == fired["labels"]

        # --- a person acknowledges it through the API; a second ack is refused
        acked = api.post(f"/api/v1/alerts/{alert_id}/ack", json={"reason": "looking into it"})
        assert acked.status_code == 200, acked.text
        assert acked.json()["state"] == "acknowledged"
        assert acked.json()["acknowledged_by"] == "on-call"
        again = api.post(f"/api/v1/alerts/{alert_id}/ack", json={"reason": "twice"})
        assert again.status_code == 409, again.text

        # --- the failures stop: tasks succeed from now on
        succeeding = [tasks.submit(seconds=0) for _ in range(2)]
        for submitted in succeeding:
            task = tasks.wait_terminal(submitted.task_id, within=TASK_WITHIN)
            assert task["phase"] == "completed", task

        # --- once the failures leave the short window, the evaluator resolves it
        resolved = poll(lambda: page("resolved"), RESOLVE_WITHIN, "the page to resolve")
        assert resolved["resolved_by"] == "system"
        assert [(t["action"], t["actor"]) for t in resolved["transitions"]] == [
            ("fired", "system"),
            ("acknowledged", "on-call"),
            ("resolved", "system"),
        ]
        assert resolved["transitions"][1]["reason"] == "looking into it"
        assert not resolved["transitions"][1]["notify"]
        # The proof that the acknowledgement stopped a repeat: the alert was still seen
        # firing, acknowledged, more than a repeat interval (and an evaluation) after it
        # fired, when an unacknowledged alert would have been notified again.
        firing_for = at(resolved["last_seen_at"]) - at(resolved["transitions"][0]["at"])
        assert firing_for.total_seconds() >= REPEAT_S + INTERVAL_S, firing_for

        # --- the webhook: one firing, one resolved, nothing repeated
        [told_resolved] = poll(lambda: hook.of(alert_id, "resolved"), 30, "the resolved one")
        assert told_resolved["status"] == "resolved"
        assert told_resolved["alerts"][0]["status"] == "resolved"
        assert hook.of(alert_id, "renotified") == []
        assert [p["agency"]["action"] for p in hook.payloads()] == ["fired", "resolved"]
        # Each transition delivered once: no body posted twice.
        assert len({p["agency"]["transition_id"] for p in hook.payloads()}) == 2
        assert alerts() == [resolved], "one alert only: the burn opened no second one"
    finally:
        api.close()
        tasks.close()
