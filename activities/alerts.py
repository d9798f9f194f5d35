"""The alert evaluator's side effects: judge the SLOs from the records and reconcile the
alerts (agency/alerts/store.py), and post one notification to one webhook
(agency/alerts/notify.py). Retries are Temporal's: a failed post raises, and the
workflow's retry policy (workflows/alerts.py) decides when to try again."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.defn import implements
from agency.alerts import notify
from agency.alerts.evaluate import firing_now
from agency.alerts.store import reconcile
from agency.settings import Settings
from agency.slo.spec import load_slo_file
from domain import errors
from domain.alerts import (
    DELIVER_ALERT,
    RECONCILE_ALERTS,
    DeliverOutput,
    Notification,
    ReconcileInput,
    ReconcileOutput,
)

# How far back a notification still pending is delivered: a webhook down for longer is
# told what is true now (the alert's later transitions), not a day of history.
PENDING_FOR = timedelta(days=1)


class AlertActivities:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._settings = settings
        self._sessions = sessions
        # Read once: a file with problems stops the worker at start, like the API.
        self._slo_file = load_slo_file(settings.slo_file)

    @implements(RECONCILE_ALERTS)
    async def reconcile_alerts(self, inp: ReconcileInput) -> ReconcileOutput:
        repeat = timedelta(seconds=self._settings.alert_repeat_interval_s)
        async with self._sessions() as session:
            firing = await firing_now(session, self._slo_file, inp.now)
            result = await reconcile(session, firing, now=inp.now, repeat=repeat)
        async with self._sessions() as session:
            waiting = await notify.pending(
                session, self._settings.alert_webhooks, inp.now - PENDING_FOR
            )
        return ReconcileOutput(
            fired=result.fired,
            resolved=result.resolved,
            renotified=result.renotified,
            pending=waiting,
        )

    @implements(DELIVER_ALERT)
    async def deliver_alert(self, inp: Notification) -> DeliverOutput:
        secret = self._settings.alert_webhook_secret
        async with self._sessions() as session, httpx.AsyncClient() as http:
            try:
                outcome = await notify.deliver(
                    session,
                    inp,
                    self._settings.alert_webhooks,
                    secret=secret.get_secret_value() if secret else None,
                    external_url=self._settings.api_url,
                    http=http,
                )
            except notify.DeliveryFailed as err:
                raise ApplicationError(
                    f"transition {inp.transition_id}: {err}",
                    type=None if err.retryable else errors.INVALID_INPUT,
                    non_retryable=not err.retryable,
                ) from None
        activity.logger.info("alert transition %d: %s", inp.transition_id, outcome)
        return DeliverOutput(outcome=outcome)
