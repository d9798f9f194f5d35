"""The alert evaluator's activities as the workflow and the worker both know them
(docs/alerts.md): reconcile the alerts with the SLOs, then deliver each pending
notification to each webhook."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from domain.activities import ActivityRef

ALERTS_WORKFLOW = "AlertsEvaluation"
ALERTS_SCHEDULE_ID = "agency-alerts"


class Notification(BaseModel):
    """One transition to post to one webhook."""

    transition_id: int
    # The webhook by the sha256 of its URL: URLs may hold tokens and stay out of histories.
    url_hash: str = Field(pattern=r"^[0-9a-f]{64}$")


class ReconcileInput(BaseModel):
    # Workflow time, so that a retried attempt judges the same instant.
    now: datetime


class ReconcileOutput(BaseModel):
    fired: list[int] = Field(default_factory=list)
    resolved: list[int] = Field(default_factory=list)
    renotified: list[int] = Field(default_factory=list)
    # Every (transition, webhook) not yet delivered, this evaluation's and earlier ones'.
    pending: list[Notification] = Field(default_factory=list)


class DeliverOutput(BaseModel):
    outcome: str  # delivered, already, unconfigured


RECONCILE_ALERTS = ActivityRef("reconcile_alerts", ReconcileInput, ReconcileOutput)
DELIVER_ALERT = ActivityRef("deliver_alert", Notification, DeliverOutput)
