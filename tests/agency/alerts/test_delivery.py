"""Notifications delivered by the evaluator workflow on a Temporal dev server to a real
HTTP server on loopback: Alertmanager's payload, the HMAC signature, a webhook failing
then answering (retried by Temporal's retry policy, not by our code), and no second
delivery of a transition already delivered. Also the schedule the worker keeps."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import ScheduleHandle, ScheduleIntervalSpec, ScheduleOverlapPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from activities.alerts import AlertActivities
from agency.alerts.schedule import ensure_alert_schedule
from agency.asgi_thread import serve_app
from agency.db.alerts import AlertDelivery, AlertTransition
from agency.db.types import utcnow
from agency.settings import Settings
from domain.alerts import ALERTS_SCHEDULE_ID
from tests.agency.alerts.burning import burn
from workflows.alerts import AlertsEvaluationResult, AlertsEvaluationWorkflow

Sessions = async_sessionmaker[AsyncSession]
SECRET = "webhook-secret"


@dataclass
class Receiver:
    """A webhook that answers 503 to its first `failures` requests, then 200."""

    failures: int
    received: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            self.received.append((await request.body(), dict(request.headers)))
            status = 503 if len(self.received) <= self.failures else 200
            self.answered.append(status)
            return Response(status_code=status)

        return app


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    hook = Receiver(failures=2)
    with serve_app(hook.app()) as url:
        yield hook, f"{url}/hook"


async def evaluate(env: WorkflowEnvironment, acts: AlertActivities) -> AlertsEvaluationResult:
    """One evaluation on a worker of its own; its history then replays without a
    nondeterminism error (retries, failures and all)."""
    queue = f"alerts-{uuid.uuid4()}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[AlertsEvaluationWorkflow],
        activities=[acts.reconcile_alerts, acts.deliver_alert],
    ):
        handle = await env.client.start_workflow(
            AlertsEvaluationWorkflow.run,
            id=f"alerts-{uuid.uuid4()}",
            task_queue=queue,
            result_type=AlertsEvaluationResult,
        )
        result = await handle.result()
    replayer = Replayer(
        workflows=[AlertsEvaluationWorkflow], data_converter=pydantic_data_converter
    )
    replayed = await replayer.replay_workflow(
        await handle.fetch_history(), raise_on_replay_failure=False
    )
    assert replayed.replay_failure is None, replayed.replay_failure
    return result


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_notifications_reach_a_real_webhook_signed_and_retried_by_temporal(
    dev_env: WorkflowEnvironment,
    sessions: Sessions,
    receiver: tuple[Receiver, str],
    tmp_path: Path,
) -> None:
    hook, url = receiver
    settings = Settings(
        data_dir=tmp_path,
        alert_webhooks=[url],
        alert_webhook_secret=SECRET,
        api_url="http://agency.example:8080",
    )
    acts = AlertActivities(settings, sessions)
    await burn(sessions, utcnow() - timedelta(seconds=5))

    result = await evaluate(dev_env, acts)

    assert len(result.fired) == 2 and (result.delivered, result.failed) == (2, 0)
    # Two failures (503), retried by Temporal, then one 200 per alert.
    assert hook.answered.count(503) == 2 and hook.answered.count(200) == 2
    delivered = [(b, h) for (b, h), s in zip(hook.received, hook.answered, strict=True) if s == 200]
    severities = set()
    for body, headers in delivered:
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["x-agency-signature"], expected)
        doc = json.loads(body)
        assert doc["version"] == "4" and doc["status"] == "firing" and doc["receiver"] == "agency"
        assert doc["externalURL"] == "http://agency.example:8080"
        (alert,) = doc["alerts"]
        assert set(alert) >= {
            "status",
            "labels",
            "annotations",
            "startsAt",
            "endsAt",
            "fingerprint",
        }
        assert alert["labels"]["alertname"] == "AgencySloErrorBudgetBurn"
        assert alert["labels"]["slo"] == "task_success"
        assert alert["endsAt"] == "0001-01-01T00:00:00Z" and alert["startsAt"].endswith("Z")
        assert doc["commonLabels"] == alert["labels"]
        assert doc["groupKey"].startswith("{}:{alertname=")
        assert "summary" in alert["annotations"]
        assert headers["x-agency-delivery"] == str(doc["agency"]["transition_id"])
        severities.add(alert["labels"]["severity"])
    assert severities == {"page", "ticket"}

    # Delivered once per (transition, webhook): the next evaluation posts nothing.
    posts = len(hook.received)
    again = await evaluate(dev_env, acts)
    assert (again.fired, again.delivered) == ([], 0)
    assert len(hook.received) == posts
    async with sessions() as session:
        rows = (await session.scalars(select(AlertDelivery))).all()
        notified = (
            await session.scalars(select(AlertTransition).where(AlertTransition.notify.is_(True)))
        ).all()
    assert sorted(r.transition_id for r in rows) == sorted(t.id for t in notified)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_webhook_refusing_for_good_is_not_retried(
    dev_env: WorkflowEnvironment, sessions: Sessions, tmp_path: Path
) -> None:
    hook = Receiver(failures=0)
    app = FastAPI()

    @app.post("/hook")
    async def refuse(request: Request) -> Response:
        hook.received.append((await request.body(), dict(request.headers)))
        return Response(status_code=401)

    with serve_app(app) as base:
        settings = Settings(data_dir=tmp_path, alert_webhooks=[f"{base}/hook"])
        await burn(sessions, utcnow() - timedelta(seconds=5))
        result = await evaluate(dev_env, AlertActivities(settings, sessions))
    # A 401 is refused again whatever the retries: one attempt each, left pending.
    assert (result.delivered, result.failed) == (0, 2)
    assert len(hook.received) == 2


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_worker_keeps_one_schedule_whose_runs_evaluate(
    dev_env: WorkflowEnvironment, sessions: Sessions, tmp_path: Path
) -> None:
    queue = f"alerts-{uuid.uuid4()}"
    settings = Settings(data_dir=tmp_path, task_queue=queue, alert_interval_s=3600)
    await ensure_alert_schedule(dev_env.client, settings)
    # A second worker, with another interval: the same schedule, updated.
    await ensure_alert_schedule(
        dev_env.client, settings.model_copy(update={"alert_interval_s": 1800})
    )
    handle = dev_env.client.get_schedule_handle(ALERTS_SCHEDULE_ID)
    try:
        described = await handle.describe()
        assert described.schedule.spec.intervals == [
            ScheduleIntervalSpec(every=timedelta(seconds=1800))
        ]
        assert described.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
        # What the schedule starts is the evaluator, on the workers' queue.
        await burn(sessions, utcnow() - timedelta(seconds=5))
        acts = AlertActivities(settings, sessions)
        async with Worker(
            dev_env.client,
            task_queue=queue,
            workflows=[AlertsEvaluationWorkflow],
            activities=[acts.reconcile_alerts, acts.deliver_alert],
        ):
            await handle.trigger()
            run_id = await first_run(handle)
            result = await dev_env.client.get_workflow_handle(
                run_id, result_type=AlertsEvaluationResult
            ).result()
        assert len(result.fired) == 2
    finally:
        await handle.delete()


async def first_run(handle: ScheduleHandle) -> str:
    """The workflow id of the schedule's first action, once it has started."""
    deadline = asyncio.get_running_loop().time() + 30
    while asyncio.get_running_loop().time() < deadline:
        actions = (await handle.describe()).info.recent_actions
        if actions:
            return actions[0].action.workflow_id  # type: ignore[attr-defined, no-any-return]
        await asyncio.sleep(0.1)  # polling the schedule's state, bounded by the deadline
    raise AssertionError("the schedule started nothing within 30 s")
