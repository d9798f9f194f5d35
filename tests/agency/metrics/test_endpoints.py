"""The worker's and an executor's metrics endpoints, as processes (`python -m agency.worker`,
`python -m agency.executor`) against a real Temporal dev server: ours and the Temporal
SDK's, each on its own port from the settings, each accepted by promtool."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from agency.asgi_thread import free_port
from agency.db.migrate import upgrade_database
from tests.support.metrics import promtool_check

STARTUP_S = 60.0


@contextmanager
def process(module: str, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", module], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _read(log: Path) -> str:
    return log.read_text(errors="replace")


async def scrape_when(url: str, wanted: str, proc: subprocess.Popen[bytes], log: Path) -> str:
    """The text at `url` once it holds `wanted` (the process may still be starting)."""
    deadline = time.monotonic() + STARTUP_S
    async with httpx.AsyncClient(timeout=5) as http:
        while True:
            assert proc.poll() is None, f"exited {proc.returncode}:\n{_read(log)}"
            try:
                response = await http.get(url)
                if response.status_code == 200 and wanted in response.text:
                    return response.text
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{url} never showed {wanted}:\n{_read(log)}"
            await asyncio.sleep(0.2)


async def test_worker_and_executor_serve_their_metrics_and_the_sdks(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'agency.db'}"
    upgrade_database(database)
    ports = {name: free_port() for name in ("worker", "worker_sdk", "executor", "executor_sdk")}
    env = {
        **os.environ,
        "AGENCY_DATA_DIR": str(tmp_path / "data"),
        "AGENCY_DATABASE_URL": database,
        "AGENCY_TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "AGENCY_TASK_QUEUE": f"tq-{uuid.uuid4()}",
        "AGENCY_EXECUTOR_TASK_QUEUE": f"ex-{uuid.uuid4()}",
        "AGENCY_EXECUTOR_NAME": "metrics-host",
        **{f"AGENCY_{name.upper()}_METRICS_PORT": str(port) for name, port in ports.items()},
    }
    base = {name: f"http://127.0.0.1:{port}/metrics" for name, port in ports.items()}
    with (
        process("agency.worker", env, tmp_path / "worker.log") as worker,
        process("agency.executor", env, tmp_path / "executor.log") as executor,
    ):
        texts = {
            "worker": await scrape_when(
                base["worker"],
                "agency_task_phase_duration_seconds",
                worker,
                tmp_path / "worker.log",
            ),
            "executor": await scrape_when(
                base["executor"],
                "agency_executor_active_runs 0.0",
                executor,
                tmp_path / "executor.log",
            ),
            # The SDK's pollers report once the workers poll.
            "worker_sdk": await scrape_when(
                base["worker_sdk"], "temporal_num_pollers", worker, tmp_path / "worker.log"
            ),
            "executor_sdk": await scrape_when(
                base["executor_sdk"], "temporal_num_pollers", executor, tmp_path / "executor.log"
            ),
        }
    for name, text in texts.items():
        promtool_check(text)
        sdk = any(line.startswith("temporal_") for line in text.splitlines())
        assert sdk == name.endswith("_sdk"), name
