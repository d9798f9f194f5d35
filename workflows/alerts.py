"""The alert evaluator: one evaluation per run, started by a Temporal Schedule
(agency/alerts/schedule.py) every AGENCY_ALERT_INTERVAL_S.

A run reconciles the alerts with the SLOs as the records show them now (one activity),
then posts each pending notification to each webhook (one activity per pair, in
parallel), each retried by Temporal with backoff. A notification still failing when its
retries run out stays pending in the database, and the next run tries it again; the run
itself does not fail for it (the alerts are stored: the evaluation did its job).

Why a schedule and not one long-running workflow: each run's history is a few events,
so there is no continue-as-new to get right and nothing to replay across versions of
this code; the schedule's overlap policy (skip) keeps one evaluation at a time however
long deliveries take; and operators see, pause and trigger it with the Temporal UI or
`temporal schedule` like any other schedule.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from domain.alerts import (
        ALERTS_WORKFLOW,
        DELIVER_ALERT,
        RECONCILE_ALERTS,
        Notification,
        ReconcileInput,
    )
    from domain.errors import INVALID_INPUT

# Reading the records and writing a few rows: quick. Bounded, so that a database outage
# ends the run and the schedule's next one tries again, rather than one run waiting.
RECONCILE_TIMEOUT = timedelta(seconds=30)
RECONCILE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=5,
    non_retryable_error_types=[INVALID_INPUT],
)
# A webhook that is down is retried with backoff for about ten minutes (1+2+4+…, capped
# at two minutes); a 4xx other than 408/429 is not retried (INVALID_INPUT).
DELIVER_TIMEOUT = timedelta(seconds=30)
DELIVER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=2),
    maximum_attempts=10,
    non_retryable_error_types=[INVALID_INPUT],
)


class AlertsEvaluationResult(BaseModel):
    fired: list[int] = Field(default_factory=list)
    resolved: list[int] = Field(default_factory=list)
    renotified: list[int] = Field(default_factory=list)
    delivered: int = 0
    failed: int = 0


@workflow.defn(name=ALERTS_WORKFLOW)
class AlertsEvaluationWorkflow:
    @workflow.run
    async def run(self) -> AlertsEvaluationResult:
        reconciled = await workflow.execute_activity(
            RECONCILE_ALERTS.name,
            ReconcileInput(now=workflow.now()),
            result_type=RECONCILE_ALERTS.output,
            start_to_close_timeout=RECONCILE_TIMEOUT,
            retry_policy=RECONCILE_RETRY,
        )
        outcomes = await asyncio.gather(
            *(self._deliver(n) for n in reconciled.pending), return_exceptions=False
        )
        return AlertsEvaluationResult(
            fired=reconciled.fired,
            resolved=reconciled.resolved,
            renotified=reconciled.renotified,
            delivered=sum(outcomes),
            failed=len(outcomes) - sum(outcomes),
        )

    async def _deliver(self, notification: Notification) -> bool:
        try:
            await workflow.execute_activity(
                DELIVER_ALERT.name,
                notification,
                result_type=DELIVER_ALERT.output,
                start_to_close_timeout=DELIVER_TIMEOUT,
                retry_policy=DELIVER_RETRY,
                summary=f"transition {notification.transition_id}",
            )
        except ActivityError:
            workflow.logger.warning(
                "notification of transition %d not delivered; the next evaluation retries",
                notification.transition_id,
            )
            return False
        return True
