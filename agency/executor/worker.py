"""An executor host: a Temporal worker that runs agents and gates in sandboxed worktrees.

`python -m agency.executor` (started by `agency up`, or on its own on any number of
machines). It polls the shared executor queue (claims, applies) and a queue of its own,
named for this process (`<shared queue>/<executor name>/<incarnation>`), where the
workflow sends the steps that need the run's worktree. A restarted executor is a new
host: its predecessor's queue is never polled again, which is how the workflow learns
that the runs there are lost.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from temporalio.client import Client
from temporalio.worker import Worker

from activities.executor import ExecutorActivities
from agency.codec import CodecConfigError
from agency.db.engine import make_engine, session_maker
from agency.executor.dirlock import DirectoryInUse, exclusive
from agency.executor.host import HostRuns
from agency.executor.layout import Layout
from agency.executor.sandbox import Sandbox
from agency.gc_tuning import freeze_startup_heap
from agency.metrics.executor import active_runs_of
from agency.metrics.exposition import serving_metrics
from agency.metrics.temporal_sdk import install_sdk_metrics
from agency.settings import Settings, get_settings
from agency.temporal_client import connect
from agency.temporal_security import TemporalSettingsError
from domain.execution import ExecutorClaim

log = logging.getLogger("agency.executor")

# Exit status when this host cannot run agents at all (no sandbox, directory in use):
# EX_CONFIG, so a supervisor can tell misconfiguration from a crash.
EXIT_CONFIG = 78


class ExecutorUnusable(RuntimeError):
    """This machine cannot be an executor as configured; the message says why."""


@dataclass(frozen=True)
class ExecutorHost:
    claim: ExecutorClaim
    runs: HostRuns
    shared_worker: Worker
    host_worker: Worker


def host_runs(settings: Settings, *, bwrap_path: str | None = None) -> HostRuns:
    """The runs of an executor host as configured: its directory and its sandbox."""
    sandbox = Sandbox.detect(
        bwrap_path=bwrap_path,
        allow_unsandboxed=settings.allow_unsandboxed,
        # The data dir holds the database file, keys and every run's worktree, the secret
        # sources hold every secret, the codec keys decrypt every task's history and the
        # TLS key is the executor's identity to Temporal: none of it is an agent's
        # business (its own worktree is bound back in, its own secrets come in its
        # environment), and agents run as the executor's user.
        hidden=tuple(
            p.resolve()
            for p in (
                settings.resolved_data_dir,
                settings.secrets_dir,
                settings.secrets_file,
                settings.codec_keys_file,
                settings.temporal_tls_key_file,
            )
            if p is not None and p.exists()
        ),
    )
    return HostRuns(settings, sandbox, Layout(settings.executor_data_dir.resolve()))


def host_queue(settings: Settings, incarnation: str) -> str:
    return f"{settings.executor_task_queue}/{settings.executor_name}/{incarnation}"


@asynccontextmanager
async def running_executor(
    client: Client, settings: Settings, *, bwrap_path: str | None = None
) -> AsyncIterator[ExecutorHost]:
    """An executor host polling its queues until the context exits."""
    runs = host_runs(settings, bwrap_path=bwrap_path)
    sandbox, layout = runs.sandbox, runs.layout
    if sandbox.problem:
        raise ExecutorUnusable(sandbox.problem)
    try:
        with exclusive(layout.lock_file), active_runs_of(runs):
            reaped = await runs.reap()
            if reaped:
                log.info("removed %d worktree(s) left by an earlier process", len(reaped))
            incarnation = uuid.uuid4().hex[:12]
            claim = ExecutorClaim(
                host_queue=host_queue(settings, incarnation),
                executor=f"{settings.executor_name}/{incarnation}",
                sandbox=sandbox.kind,
            )
            engine = make_engine(settings.effective_database_url)
            acts = ExecutorActivities(settings, runs, session_maker(engine), claim)
            # Room for claims and applies beside the runs, which the claim bounds.
            shared = Worker(
                client,
                task_queue=settings.executor_task_queue,
                activities=acts.shared_queue(),
                max_concurrent_activities=settings.executor_max_runs + 4,
            )
            host = Worker(
                client,
                task_queue=claim.host_queue,
                activities=acts.host_queue(),
                # Agent and gate steps of the claimed runs plus their control and discards.
                max_concurrent_activities=4 * settings.executor_max_runs + 8,
            )
            try:
                async with shared, host:
                    yield ExecutorHost(claim, runs, shared, host)
            finally:
                await runs.close()
                await engine.dispose()
    except DirectoryInUse as err:
        raise ExecutorUnusable(str(err)) from err


async def serve(settings: Settings) -> None:
    # Before the client: the SDK's metrics are set up with the process's Temporal Runtime.
    install_sdk_metrics(settings.metrics_host, settings.executor_sdk_metrics_port, "executor")
    client = await connect(settings, role=f"executor {settings.executor_name}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    metrics = serving_metrics(settings.metrics_host, settings.executor_metrics_port, "executor")
    async with metrics, running_executor(client, settings) as executor:
        log.info(
            "executor %s polling %s and %s at %s (sandbox: %s)",
            executor.claim.executor,
            settings.executor_task_queue,
            executor.claim.host_queue,
            settings.effective_temporal_address,
            executor.claim.sandbox,
        )
        freeze_startup_heap()  # what it keeps is built by now (agency/gc_tuning.py)
        await stop.wait()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        asyncio.run(serve(get_settings()))
    except (ExecutorUnusable, TemporalSettingsError, CodecConfigError) as err:
        log.error("cannot run as an executor: %s", err)
        sys.exit(EXIT_CONFIG)


if __name__ == "__main__":
    main()
