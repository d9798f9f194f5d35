"""The stack's own parts: preflight, the embedded Temporal dev server, readiness probes."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from agency import dev_server
from agency.readiness import task_queue_probe, temporal_probe
from agency.settings import Settings
from agency.stack import STOP_ORDER, Stack, stop_signals, temporal_executable
from agency.stack_state import StackState, is_running, read_stack_state, write_stack_state
from agency.supervisor import ChildSpec, StackError, Supervisor
from domain import search_attributes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def listener() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def test_preflight_names_the_taken_port(tmp_path: Path, listener: int) -> None:
    settings = Settings(
        data_dir=tmp_path,
        # External, so that a Temporal server on the default port cannot answer first.
        temporal_address=f"127.0.0.1:{free_port()}",
        api_port=listener,
    )
    stack = Stack(settings)
    with pytest.raises(StackError, match=f"port {listener} \\(API\\) is already in use"):
        stack.start()
    # Nothing was started, and nothing was left running.
    assert stack.supervisor.children == []


def test_external_temporal_is_not_started_and_not_preflighted(
    tmp_path: Path, listener: int
) -> None:
    stack = Stack(
        Settings(
            data_dir=tmp_path,
            temporal_address=f"127.0.0.1:{listener}",
            api_port=free_port(),
        )
    )
    assert not stack.embedded_temporal
    assert stack.temporal_ui_url is None
    stack.preflight()  # the taken Temporal port is the cluster's, not a conflict


def test_preflight_refuses_a_data_dir_where_a_stack_runs(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, temporal_address=f"127.0.0.1:{free_port()}", api_port=free_port()
    )
    other = subprocess.Popen(["sleep", "30"])  # stands in for another `agency up`
    try:
        write_stack_state(
            settings.stack_state_file,
            StackState(supervisor_pid=other.pid, updated_at=datetime.now(UTC), parts=[]),
        )
        with pytest.raises(StackError, match=rf"another `agency up` \(pid {other.pid}\) runs in"):
            Stack(settings).preflight()
    finally:
        other.kill()
        other.wait()
    Stack(settings).preflight()  # a gone supervisor's file is only a record


# A Temporal worker polling one task queue for workflows and activities.
POLLER = """
import asyncio, sys
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

@activity.defn
async def noop() -> None:
    return None

@workflow.defn
class Noop:
    @workflow.run
    async def run(self) -> None:
        return None

async def main() -> None:
    client = await Client.connect(sys.argv[1])
    await Worker(
        client, task_queue=sys.argv[2], workflows=[Noop], activities=[noop],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ).run()

asyncio.run(main())
"""


def test_embedded_temporal_is_probed_restarted_from_its_db_and_pollers_known_by_pid(
    tmp_path: Path,
) -> None:
    ui_port = free_port()
    settings = Settings(
        data_dir=tmp_path,
        temporal_address=None,
        temporal_port=free_port(),
        temporal_ui_port=ui_port,
    )
    stack = Stack(settings)
    address = stack.temporal_address
    argv = stack.temporal_argv()
    assert argv[0] == str(temporal_executable())
    assert str(tmp_path.resolve() / "temporal.db") in argv
    # The server this test starts must accept the tuning every stack runs with.
    for key, value in dev_server.DYNAMIC_CONFIG.items():
        assert f"{key}={value}" in argv
    for key in search_attributes.ALL:
        assert f"{key.name}={search_attributes.CLI_TYPE_NAMES[key.indexed_value_type]}" in argv
    assert "nothing listens" in str(
        task_queue_probe(Settings(temporal_address=address), "q", "workflow")(1)
    )

    supervisor = Supervisor(
        tmp_path / "logs",
        state_file=tmp_path / "stack.json",
        backoff_initial_s=0.1,
        poll_s=0.05,
    )
    try:
        temporal = supervisor.start(
            ChildSpec(
                "temporal",
                argv,
                ready=temporal_probe(Settings(temporal_address=address)),
                ready_timeout_s=90,
            )
        )
        # The web UI runs (not headless) on the configured port.
        assert httpx.get(f"{stack.temporal_ui_url}/", timeout=10).status_code == 200
        assert stack.temporal_ui_url == f"http://127.0.0.1:{ui_port}"

        worker = supervisor.start(
            ChildSpec(
                "worker",
                [sys.executable, "-c", POLLER, address, "q"],
                ready=task_queue_probe(Settings(temporal_address=address), "q", "workflow"),
                ready_timeout_s=60,
            )
        )
        assert worker.pid is not None
        # Its activity poller starts on its own schedule.
        activity_probe = task_queue_probe(Settings(temporal_address=address), "q", "activity")
        wait_until(lambda: activity_probe(worker.pid) is None)
        # Another pid (here: ours), or another queue, is not that worker.
        not_us = task_queue_probe(Settings(temporal_address=address), "q", "workflow")(os.getpid())
        assert not_us == f"pid {os.getpid()} does not poll workflow task queue q yet"
        assert task_queue_probe(Settings(temporal_address=address), "other", "activity")(worker.pid)

        # A task that stays open: nobody polls its queue.
        workflow_id = asyncio.run(start_open_workflow(address))
        supervisor.supervise()
        assert temporal.pid is not None
        os.kill(temporal.pid, signal.SIGKILL)
        wait_until(lambda: part_state(tmp_path, "temporal") == ("up", 1), within_s=90)
        # Restarted on the same database file: the open task is still there.
        assert asyncio.run(workflow_status(address, workflow_id)) == "RUNNING"
        # The task workflows' search attributes, registered by the flags, are still there.
        assert asyncio.run(custom_attributes(address)) >= {k.name for k in search_attributes.ALL}
        assert part_state(tmp_path, "worker")[0] == "up"
    finally:
        supervisor.stop(grace_s=5, order=STOP_ORDER)
    assert (tmp_path / "temporal.db").exists()
    # Its state is kept in write-ahead-log mode, through the kill and the restart.
    with contextlib.closing(sqlite3.connect(tmp_path / "temporal.db")) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def start_open_workflow(address: str) -> str:
    from temporalio.client import Client

    client = await Client.connect(address)
    handle = await client.start_workflow("Open", id="open-task", task_queue="nobody-polls")
    return handle.id


async def workflow_status(address: str, workflow_id: str) -> str:
    from temporalio.client import Client

    description = await Client.connect(address)
    status = (await description.get_workflow_handle(workflow_id).describe()).status
    assert status is not None
    return status.name


async def custom_attributes(address: str) -> set[str]:
    from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
    from temporalio.client import Client

    client = await Client.connect(address)
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    return set(listed.custom_attributes)


def part_state(tmp_path: Path, name: str) -> tuple[str, int]:
    state = read_stack_state(tmp_path / "stack.json")
    assert state is not None
    part = next(p for p in state.parts if p.name == name)
    return part.state, part.restarts


def all_up(data_dir: Path) -> bool:
    state = read_stack_state(data_dir / "stack.json")
    return state is not None and is_running(state) and state.all_up()


def wait_until(predicate: Callable[[], object], within_s: float = 30.0) -> None:
    deadline = time.monotonic() + within_s
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {within_s}s")
        time.sleep(0.05)


def test_agency_up_restarts_a_killed_worker_and_stops_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    api_port = free_port()
    env = {
        **os.environ,
        "AGENCY_DATA_DIR": str(data),
        "AGENCY_TEMPORAL_PORT": str(free_port()),
        "AGENCY_TEMPORAL_UI_PORT": str(free_port()),
        "AGENCY_API_PORT": str(api_port),
        "AGENCY_API_URL": f"http://127.0.0.1:{api_port}",
        "AGENCY_ALLOW_UNSANDBOXED": "true",
    }
    env.pop("AGENCY_TEMPORAL_ADDRESS", None)

    def status() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "agency.cli", "status", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )

    output = (tmp_path / "up.out").open("wb")
    up = subprocess.Popen(
        [sys.executable, "-m", "agency.cli", "up"], env=env, stdout=output, stderr=output
    )
    try:
        wait_until(lambda: all_up(data), within_s=180)
        assert status().returncode == 0
        parts = {p["name"]: p for p in json.loads(status().stdout)["parts"]}
        assert list(parts) == ["temporal", "executor", "worker", "api"]
        os.kill(parts["worker"]["pid"], signal.SIGKILL)
        wait_until(lambda: part_state(data, "worker") == ("up", 1), within_s=90)
        after = {p["name"]: p for p in json.loads(status().stdout)["parts"]}
        assert after["worker"]["last_exit"] == "killed by signal 9"
        assert all(after[n]["pid"] == parts[n]["pid"] for n in ("temporal", "executor", "api"))
        assert httpx.get(f"http://127.0.0.1:{api_port}/health", timeout=10).status_code == 200
    finally:
        up.send_signal(signal.SIGTERM)
        assert up.wait(timeout=60) == 0
        output.close()
    final = read_stack_state(data / "stack.json")
    assert final is not None and {p.state for p in final.parts} == {"stopped"}
    log = (data / "logs" / "supervisor.log").read_text()
    assert "worker (pid" in log and "died: killed by signal 9" in log
    assert status().returncode == 1


def test_sigterm_becomes_keyboard_interrupt_inside_stop_signals() -> None:
    # `agency up` relies on this to stop its children when it is itself terminated.
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), stop_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    assert signal.getsignal(signal.SIGTERM) == before


def test_the_embedded_ui_decodes_through_the_api_when_payloads_are_encrypted(
    tmp_path: Path,
) -> None:
    assert "--ui-codec-endpoint" not in Stack(Settings(data_dir=tmp_path)).temporal_argv()
    key = SecretStr(base64.b64encode(bytes(32)).decode())
    argv = Stack(Settings(data_dir=tmp_path, codec_keys={"k": key}, api_port=8181)).temporal_argv()
    assert argv[argv.index("--ui-codec-endpoint") + 1] == "http://127.0.0.1:8181/codec"
