"""Request and response bodies of the alert and silence routes (api/routes/alerts.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agency.alerts.silences import MATCHABLE

AlertStateName = Literal["firing", "acknowledged", "resolved"]


class Matcher(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Literal["alertname", "slo", "severity"] = Field(
        description=f"an alert label: one of {', '.join(MATCHABLE)}"
    )
    value: str = Field(min_length=1, max_length=200, description="equal to the label's value")


class AlertTransitionPublic(BaseModel):
    at: datetime
    actor: str
    action: str = Field(description="fired, renotified, acknowledged, resolved")
    state: str
    reason: str
    notify: bool = Field(description="whether webhooks are told of it")


class Alert(BaseModel):
    id: int
    fingerprint: str
    slo: str
    severity: str
    state: AlertStateName
    labels: dict[str, str]
    annotations: dict[str, str]
    started_at: datetime
    last_seen_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    silenced_by: list[int] = Field(description="ids of the active silences that mute it")
    transitions: list[AlertTransitionPublic]


class AlertList(BaseModel):
    items: list[Alert]


class ActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=4000)


class Silence(BaseModel):
    id: int
    matchers: list[Matcher]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    reason: str
    created_at: datetime
    expired_at: datetime | None
    expired_by: str | None
    status: Literal["pending", "active", "expired"]


class SilenceList(BaseModel):
    items: list[Silence]


class SilenceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    matchers: list[Matcher] = Field(min_length=1, max_length=10)
    starts_at: datetime | None = Field(default=None, description="default: now")
    ends_at: datetime = Field(description="when it expires; in the future")
    reason: str = Field(min_length=1, max_length=4000)
