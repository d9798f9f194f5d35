"""Alert tables: alerts from the SLO evaluator, silences, and their transitions.

An alert is one (SLO, severity) burning its error budget, from the moment the evaluator
first sees it fire until it stops (or a person resolves it): firing → acknowledged →
resolved. `open_fingerprint` holds the fingerprint while the alert is open and NULL once
resolved; its unique constraint keeps at most one open alert per fingerprint on every
backend (NULLs never collide), even with two evaluators racing.

`alert_transitions` is the alerts' audit trail, append-only like `audit_log` (which is
keyed by task): every change of an alert or a silence, with its actor (`system` for the
evaluator's), and whether it is to be notified. `alert_deliveries` says which webhook
received which transition, so that a delivery retried or repeated by a later
evaluation posts each (transition, webhook) at most once after it succeeded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import JSON, BigInteger, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from agency.db.types import UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")
AlertState = Literal["firing", "acknowledged", "resolved"]
OPEN_STATES = ("firing", "acknowledged")
SYSTEM_ACTOR = "system"


class AlertRow(SQLModel, table=True):
    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("open_fingerprint", name="uq_alerts_open_fingerprint"),
        Index("ix_alerts_state", "state"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    fingerprint: str = Field(max_length=200)
    open_fingerprint: str | None = Field(default=None, max_length=200)
    slo: str = Field(max_length=100)
    severity: str = Field(max_length=20)
    state: str = Field(default="firing", max_length=20)
    labels: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    annotations: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    acknowledged_by: str | None = Field(default=None, max_length=200)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    resolved_by: str | None = Field(default=None, max_length=200)
    # When a firing notification was last queued: repeats and "silenced until now" read it.
    last_notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime())


class SilenceRow(SQLModel, table=True):
    __tablename__ = "silences"
    __table_args__ = (Index("ix_silences_ends_at", "ends_at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    # [{"name": "slo", "value": "task_success"}, ...]: every matcher must equal the label.
    matchers: list[dict[str, str]] = Field(default_factory=list, sa_type=JSON)
    starts_at: datetime = Field(sa_type=UTCDateTime())
    ends_at: datetime = Field(sa_type=UTCDateTime())
    created_by: str = Field(max_length=200)
    reason: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    expired_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    expired_by: str | None = Field(default=None, max_length=200)


class AlertTransition(SQLModel, table=True):
    __tablename__ = "alert_transitions"
    __table_args__ = (
        Index("ix_alert_transitions_alert_id", "alert_id"),
        Index("ix_alert_transitions_notify_at", "notify", "at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    # One of the two: the alert or the silence the transition is of.
    alert_id: int | None = Field(default=None, sa_type=BigId)
    silence_id: int | None = Field(default=None, sa_type=BigId)
    at: datetime = Field(sa_type=UTCDateTime())
    actor: str = Field(max_length=200)
    # fired, renotified, acknowledged, resolved; silence_created, silence_expired
    action: str = Field(max_length=30)
    # The alert's state after the transition (a silence's: active, expired).
    state: str = Field(max_length=20)
    reason: str = Field(default="", sa_type=Text)
    notify: bool = False
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class AlertDelivery(SQLModel, table=True):
    __tablename__ = "alert_deliveries"
    __table_args__ = (
        UniqueConstraint("transition_id", "url_hash", name="uq_alert_deliveries_transition_url"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    transition_id: int = Field(sa_type=BigId)
    # sha256 of the URL: a webhook URL may hold a token, and need not be stored in full.
    url_hash: str = Field(max_length=64)
    status: int
    delivered_at: datetime = Field(sa_type=UTCDateTime())
