"""Table models: the database's shape, separate from the API's Create/Public schemas.

Constraint and index names are spelled out so that the hand-written migrations in
`migrations/versions/` and these models agree on both SQLite and PostgreSQL (a test
compares them). Every timestamp is a timezone-aware UTC datetime (`UTCDateTime`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from agency.db.types import UTCDateTime, utcnow

# Event and verdict tables grow with every transition: 64-bit ids on PostgreSQL. SQLite
# only auto-increments a column declared exactly INTEGER PRIMARY KEY, hence the variant.
BigId = BigInteger().with_variant(Integer(), "sqlite")

TASK_ID_LENGTH = 64


def new_task_id() -> str:
    return str(uuid.uuid4())


class Task(SQLModel, table=True):
    """The projection of one task: what lists, filters and the dashboard read."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_tenant_created_at", "tenant", "created_at", "id"),
        Index("ix_tasks_created_at", "created_at", "id"),
        Index("ix_tasks_phase", "phase"),
        Index("ix_tasks_mode", "mode"),
        Index("ix_tasks_risk_tier", "risk_tier"),
        Index("ix_tasks_execution_mode", "execution_mode"),
        Index("ix_tasks_caws_id", "caws_id"),
        # The dashboard's KPIs (api.kpis): tasks by phase, and those finished lately.
        Index("ix_tasks_tenant_phase", "tenant", "phase"),
        Index("ix_tasks_tenant_updated_at", "tenant", "updated_at"),
    )

    id: str = Field(default_factory=new_task_id, primary_key=True, max_length=TASK_ID_LENGTH)
    caws_id: str = Field(max_length=128)
    title: str = Field(max_length=500)
    risk_tier: int
    mode: str = Field(max_length=20)
    execution_mode: str = Field(max_length=20)
    phase: str = Field(default="queued", max_length=30)
    iteration: int = 0
    max_iterations: int
    paused: bool = False
    pending_action: str | None = Field(default=None, max_length=100)
    applied_commit: str | None = Field(default=None, max_length=64)
    error: str | None = Field(default=None, sa_type=Text)
    workflow_id: str = Field(max_length=255)
    workflow_run_id: str | None = Field(default=None, max_length=255)
    submitted_by: str = Field(max_length=200)
    tenant: str = Field(max_length=100)
    spec: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    # The latest round's judgments, as plain dicts (council.models.Judgment dumped).
    verdicts: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    changed_files: int = 0
    lines_added: int = 0
    lines_removed: int = 0
    # The rest of what a read of the task shows (domain.audit.ProjectionPatch): the
    # council's latest decision, every round judged, the last execution. NULL rounds mark
    # a task stored before the projection held them (migration 0013): a read of it while
    # it runs asks the workflow instead.
    decision: dict[str, Any] | None = Field(default=None, sa_type=JSON(none_as_null=True))
    rounds: list[dict[str, Any]] | None = Field(default=None, sa_type=JSON(none_as_null=True))
    execution: dict[str, Any] | None = Field(default=None, sa_type=JSON(none_as_null=True))
    # Highest record sequence applied to this projection (SSE clients resume from it).
    last_seq: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class TaskEvent(SQLModel, table=True):
    """One transition of a task, numbered by the workflow; drives SSE (`Last-Event-ID`)."""

    __tablename__ = "task_events"
    __table_args__ = (UniqueConstraint("task_id", "seq", name="uq_task_events_task_id_seq"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    task_id: str = Field(
        max_length=TASK_ID_LENGTH,
        sa_column_args=[ForeignKey("tasks.id", name="fk_task_events_task_id_tasks")],
    )
    seq: int
    at: datetime = Field(sa_type=UTCDateTime())
    kind: str = Field(max_length=50)
    phase: str = Field(max_length=30)
    actor: str = Field(max_length=200)
    action: str = Field(max_length=100)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class AuditEntry(SQLModel, table=True):
    """Append-only audit log: who did what, when, with which verdict.

    No foreign key to `tasks` on purpose: the audit trail must outlive anything that
    happens to the projection. PostgreSQL (and SQLite) triggers refuse UPDATE and DELETE.
    """

    __tablename__ = "audit_log"
    __table_args__ = (UniqueConstraint("task_id", "seq", name="uq_audit_log_task_id_seq"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    task_id: str = Field(max_length=TASK_ID_LENGTH)
    seq: int
    at: datetime = Field(sa_type=UTCDateTime())
    actor: str = Field(max_length=200)
    action: str = Field(max_length=100)
    phase: str = Field(max_length=30)
    verdict: str | None = Field(default=None, max_length=50)
    approval_status: str | None = Field(default=None, max_length=50)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class VerdictRecord(SQLModel, table=True):
    """One judge's judgment in one council round, written with the record that carried it."""

    __tablename__ = "verdicts"
    __table_args__ = (Index("ix_verdicts_task_id_seq", "task_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    task_id: str = Field(
        max_length=TASK_ID_LENGTH,
        sa_column_args=[ForeignKey("tasks.id", name="fk_verdicts_task_id_tasks")],
    )
    seq: int
    stage: str | None = Field(default=None, max_length=20)
    iteration: int = 0
    judge: str = Field(max_length=30)
    verdict: str = Field(max_length=20)
    confidence: float
    violations: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    rationale: str = Field(default="", sa_type=Text)
    assessment: str | None = Field(default=None, sa_type=Text)


# Tables that live in their own modules register on the same metadata (migrations check).
import agency.db.keys  # noqa: E402, F401
from agency.db import (  # noqa: E402, F401
    alerts,
    artifacts,
    chat,
    provenance,
    rate_limits,
    saved_queries,
    waivers,
)
