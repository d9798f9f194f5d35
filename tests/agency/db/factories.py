"""Small builders for task rows and records used by the database tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from agency.db import Task, insert_task
from agency.db.transaction import transaction
from council.models import Judgment, Violation
from domain.audit import ProjectionPatch, RecordInput


async def add_task(
    session: AsyncSession,
    *,
    tenant: str = "default",
    title: str = "Add retry with backoff",
    caws_id: str = "FEAT-0042",
    risk_tier: int = 2,
    mode: str = "feature",
    execution_mode: str = "auto",
    created_at: datetime | None = None,
    task_id: str | None = None,
) -> Task:
    task_id = task_id or str(uuid.uuid4())
    return await insert_task(
        session,
        task_id=task_id,
        caws_id=caws_id,
        title=title,
        risk_tier=risk_tier,
        mode=mode,
        execution_mode=execution_mode,
        max_iterations=3,
        workflow_id=f"task-{task_id}",
        spec={"id": caws_id, "title": title, "scope": {"in": ["src/"], "out": []}},
        submitted_by="alice",
        tenant=tenant,
        created_at=created_at,
    )


async def as_stored_before_full_projection(session: AsyncSession, task_id: str) -> None:
    """Make the task's row what a task stored before migration 0013 has: no decision,
    rounds or execution (a read of it while it runs asks the workflow)."""
    async with transaction(session):
        await session.execute(
            update(Task)
            .where(Task.id == task_id)
            .values(decision=None, rounds=None, execution=None)
        )


def record(
    task_id: str,
    seq: int,
    *,
    phase: str = "executing",
    projection: ProjectionPatch | None = None,
    **kwargs: Any,
) -> RecordInput:
    return RecordInput(
        task_id=task_id,
        seq=seq,
        at=kwargs.pop("at", datetime.now(UTC)),
        kind=kwargs.pop("kind", "phase"),
        phase=phase,
        actor=kwargs.pop("actor", "workflow"),
        action=kwargs.pop("action", f"enter {phase}"),
        projection=projection or ProjectionPatch(phase=phase),
        **kwargs,
    )


def judgments() -> list[Judgment]:
    return [
        Judgment(judge="constitutional", verdict="pass", confidence=0.9, rationale="in scope"),
        Judgment(
            judge="technical",
            verdict="fail",
            confidence=0.7,
            violations=[Violation(rule="gates", severity="high", detail="tests failed")],
            rationale="a gate failed",
            assessment="the model agrees",
        ),
    ]
