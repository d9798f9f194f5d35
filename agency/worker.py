"""The Temporal worker process: runs the task workflow and its activities.

`python -m agency.worker` (started by `agency up`, or on its own in production, any
number of them against the same task queue). The one module where the workflow and the
activities of the workflow worker meet: neither package imports the other.
"""

from __future__ import annotations

import asyncio
import compileall
import logging
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

import workflows
from activities import build_activities
from agency.alerts.schedule import ensure_alert_schedule
from agency.codec import CodecConfigError
from agency.db.engine import make_engine, session_maker
from agency.gc_tuning import freeze_startup_heap
from agency.metrics.exposition import serving_metrics
from agency.metrics.temporal_sdk import install_sdk_metrics
from agency.settings import Settings, get_settings
from agency.temporal_client import connect
from agency.temporal_security import TemporalSettingsError
from workflows.alerts import AlertsEvaluationWorkflow
from workflows.task import TaskWorkflow

log = logging.getLogger("agency.worker")
WORKFLOW_SOURCES = Path(workflows.__file__).parent
# Records, validation and judging run as local activities, each with a database session.
# Started without a bound (the SDK's default is 100 at once), a burst of them (a thousand
# approvals) waited for the engine's 15 connections and SQLite's one writer past their
# 15 s timeout, were retried, and the retries added to the queue: throughput collapsed
# to a quarter. Waiting for a slot does not count against an activity's timeout, so a
# burst queues here and goes through at the database's pace.
LOCAL_ACTIVITY_SLOTS = 8


def cache_workflow_bytecode() -> None:
    """Write the workflow modules' bytecode caches if they are missing.

    The workflow sandbox imports the workflow's modules afresh for every workflow run it
    starts. Without a cached .pyc (PYTHONDONTWRITEBYTECODE set, as in many containers and
    CI machines) each import compiles the source again: 35-140 ms of CPU per task on a
    2-core machine. compileall writes the caches whatever that setting says; where the
    directory is read-only it writes nothing and the worker runs as before."""
    if not compileall.compile_dir(WORKFLOW_SOURCES, quiet=2):
        log.warning("no bytecode cache for %s: tasks start slower", WORKFLOW_SOURCES)


# Settings that cannot work: restarting would not help (EX_CONFIG, as the executor's).
EXIT_CONFIG = 78


@asynccontextmanager
async def running_worker(
    client: Client, settings: Settings, task_queue: str | None = None
) -> AsyncIterator[Worker]:
    """A worker for the task workflow, running until the context exits."""
    await asyncio.to_thread(cache_workflow_bytecode)
    engine = make_engine(settings.effective_database_url)
    try:
        worker = Worker(
            client,
            task_queue=task_queue or settings.task_queue,
            workflows=[TaskWorkflow, AlertsEvaluationWorkflow],
            activities=build_activities(settings, session_maker(engine)),
            max_concurrent_local_activities=LOCAL_ACTIVITY_SLOTS,
        )
        async with worker:
            yield worker
    finally:
        await engine.dispose()


async def serve(settings: Settings) -> None:
    # Before the client: the SDK's metrics are set up with the process's Temporal Runtime.
    install_sdk_metrics(settings.metrics_host, settings.worker_sdk_metrics_port, "worker")
    client = await connect(settings, role="worker")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    metrics = serving_metrics(settings.metrics_host, settings.worker_metrics_port, "worker")
    async with metrics, running_worker(client, settings):
        await ensure_alert_schedule(client, settings)  # the SLO alerts' evaluator
        freeze_startup_heap()  # what it keeps is built by now (agency/gc_tuning.py)
        log.info(
            "worker polling task queue %s at %s",
            settings.task_queue,
            settings.effective_temporal_address,
        )
        await stop.wait()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        asyncio.run(serve(get_settings()))
    except (TemporalSettingsError, CodecConfigError) as err:
        log.error("cannot start the worker: %s", err)
        sys.exit(EXIT_CONFIG)


if __name__ == "__main__":
    main()
