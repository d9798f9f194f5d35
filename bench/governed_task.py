"""One governed task for a benchmark, as the API would start it: its row in the database,
then its workflow on Temporal, run to its end (bench.e2e, bench.scaling)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from agency.db import records
from agency.settings import Settings
from council.spec import TaskSpec
from council.validation import parse_task_spec
from domain.execution import ExecutorOptions
from domain.task import WORKFLOW_NAME, TaskInput, TaskResult


def noop_spec(repo: Path, agent: Sequence[str] = ("true",)) -> TaskSpec:
    """A no-op task on `repo`: every phase runs, the agent changes nothing, no gates."""
    return parse_task_spec(
        {
            "id": "BENCH-0001",
            "title": "no-op",
            "risk_tier": 3,
            "mode": "chore",
            "scope": {"in": ["README.md"]},
            "invariants": ["nothing changes"],
            "acceptance": [{"id": "A1", "given": "g", "when": "w", "then": "t"}],
            "repo": str(repo),
            "agent": {"argv": list(agent)},
            "execution_mode": "auto",
            "max_iterations": 1,
        }
    )


async def run_governed_task(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    spec: TaskSpec,
    *,
    task_id: str | None = None,
    execution_timeout: timedelta | None = None,
    ends: tuple[str, ...] = ("completed",),
) -> str:
    """Run one task of `spec` to its end; its id. Raises unless it ends in `ends`."""
    task_id = task_id or str(uuid.uuid4())
    async with sessions() as session:  # the row the API would insert (it commits)
        await records.insert_spec_task(
            session,
            spec,
            task_id=task_id,
            workflow_id=f"task-{task_id}",
            submitted_by="bench",
            tenant="default",
        )
    result = await client.execute_workflow(
        WORKFLOW_NAME,
        TaskInput(
            task_id=task_id,
            spec=spec,
            submitted_by="bench",
            executors=ExecutorOptions(task_queue=settings.executor_task_queue),
        ),
        id=f"task-{task_id}",
        task_queue=settings.task_queue,
        result_type=TaskResult,
        execution_timeout=execution_timeout,
    )
    if result.phase not in ends:
        raise RuntimeError(f"bench task ended {result.phase}: {result.error}")
    return task_id
