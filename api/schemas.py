"""Public request and response shapes of the task API (separate from table models)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from council.models import Decision, Judgment
from council.problems import GovernanceWarning
from domain.execution import ExecutionSummary
from domain.task import Round

# What `format: date-time` means (RFC 3339, with its offset): pydantic alone also takes
# numbers (Unix time) and dates without a time or an offset.
RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def _rfc3339(value: object) -> object:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not RFC3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 date-time with its offset, e.g. 2030-01-01T00:00:00Z")
    return value


Timestamp = Annotated[datetime, BeforeValidator(_rfc3339)]


class TaskPublic(BaseModel):
    id: str
    caws_id: str
    title: str
    risk_tier: int
    mode: str
    execution_mode: str
    phase: str
    iteration: int
    max_iterations: int
    paused: bool
    pending_action: str | None
    verdicts: list[Judgment]
    decision: Decision | None = None
    applied_commit: str | None
    error: str | None
    changed_files: int
    lines_added: int
    lines_removed: int
    created_at: datetime
    updated_at: datetime
    workflow_id: str
    workflow_run_id: str | None
    submitted_by: str
    spec: dict[str, Any]
    warnings: list[GovernanceWarning] = Field(
        default_factory=list,
        description="What the server noticed reading the task's governance files (CAWS v10 "
        "mapping steps, scope entries naming no path, waiver files set aside, where the "
        "policy came from), each with a stable rule id; never a reason the task failed",
    )
    rounds: list[Round] = Field(default_factory=list)
    execution: ExecutionSummary | None = None
    live: bool = Field(
        default=False,
        description="merged with the running workflow's live state: only a task stored "
        "before its projection held rounds, decision and execution is (the projection "
        "is otherwise the whole answer)",
    )
    live_unavailable: str | None = Field(
        default=None,
        description="set (on a single task's read) when the task runs but its live state "
        "could not be read, Temporal or its workers being unavailable: the answer is the "
        "projection alone, and this says why",
    )


def spec_warnings(spec: dict[str, Any]) -> list[GovernanceWarning]:
    """The warnings stored with a task's spec (tasks stored before warnings existed, or
    with an unreadable entry, show none rather than failing the read)."""
    out = []
    for item in spec.get("warnings") or []:
        try:
            out.append(GovernanceWarning.model_validate(item))
        except ValueError:
            continue
    return out


class TaskList(BaseModel):
    items: list[TaskPublic]
    next_cursor: str | None


class TaskEventPublic(BaseModel):
    seq: int
    at: datetime
    kind: str
    phase: str
    actor: str
    action: str
    data: dict[str, Any]


class EventList(BaseModel):
    items: list[TaskEventPublic]


class AuditPublic(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    phase: str
    verdict: str | None
    approval_status: str | None
    detail: dict[str, Any]
    # The council's judgments this entry carried (a review round), in judge order.
    judgments: list[Judgment] = Field(default_factory=list)


class AuditList(BaseModel):
    items: list[AuditPublic]


class ReasonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=4000)


class OverrideBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Literal["approve", "reject"]
    reason: str = Field(min_length=1, max_length=4000)


class GuidanceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=20_000)


class ParametersBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_iterations: int | None = Field(default=None, ge=1, le=20)
    risk_tier: int | None = Field(default=None, ge=1, le=3)


class Accepted(BaseModel):
    accepted: bool
    detail: str
