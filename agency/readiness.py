"""Readiness probes for the stack's children (agency/supervisor.py calls them with the
child's pid): a port that answers, a GET that answers, the Temporal namespace that
answers, a task queue polled by the child's own pid. Each returns None when ready and
the reason otherwise; none raises, and each is bounded in time (they run on the
supervisor's pool while the stack is up)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

import httpx

from agency.settings import Settings
from agency.supervisor import Probe

if TYPE_CHECKING:
    from temporalio.client import Client

PORT_TIMEOUT_S = 0.5
RPC_TIMEOUT_S = 5.0

PollerKind = Literal["workflow", "activity"]


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return (host or "127.0.0.1"), int(port)


def client_host(host: str) -> str:
    # A wildcard bind is reached through loopback.
    return "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host


def port_answers(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def http_probe(url: str, accept: frozenset[int] = frozenset({200})) -> Probe:
    """Ready when GET `url` answers with a status in `accept`."""

    def probe(_pid: int) -> str | None:
        try:
            response = httpx.get(url, timeout=2.0)
        except httpx.HTTPError as exc:
            return f"GET {url}: {type(exc).__name__}"
        if response.status_code in accept:
            return None
        return f"GET {url}: {response.status_code} {response.text[:300]}"

    return probe


def _run_bounded(address: str, call: Callable[[], Awaitable[str | None]]) -> str | None:
    """Run one Temporal call with a bounded wait; any failure is a reason, not an error."""
    host, port = split_address(address)
    if not port_answers(client_host(host), port, timeout_s=PORT_TIMEOUT_S):
        return f"nothing listens on {address}"
    try:
        return asyncio.run(asyncio.wait_for(call(), timeout=RPC_TIMEOUT_S))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


async def _probe_client(settings: Settings) -> Client:
    """A client as every process makes one (TLS, mTLS, API key from the settings), without
    the payload codec: probes read no payloads."""
    from temporalio.contrib.pydantic import pydantic_data_converter

    from agency.temporal_client import connect

    return await connect(settings, converter=pydantic_data_converter)


def temporal_probe(settings: Settings) -> Probe:
    address, namespace = settings.effective_temporal_address, settings.temporal_namespace

    async def describe() -> str | None:
        from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

        client = await _probe_client(settings)
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=namespace)
        )
        return None

    def probe(_pid: int) -> str | None:
        # The port opens before the frontend serves; the namespace answering is the
        # signal that workflows can be started.
        return _run_bounded(address, describe)

    return probe


def task_queue_probe(settings: Settings, task_queue: str, kind: PollerKind) -> Probe:
    """Ready when the process with the probed pid polls `task_queue` for `kind` tasks.

    Every Temporal client of ours has an identity starting with `<pid>@` (the SDK's
    default, and the executor's `<pid>@<host> executor <name>`). Temporal keeps a dead
    poller listed for about a minute, so matching the pid tells a restarted child from
    its predecessor, and a child from another process polling the same queue.
    """
    address, namespace = settings.effective_temporal_address, settings.temporal_namespace

    async def polled_by(pid: int) -> str | None:
        from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
        from temporalio.api.taskqueue.v1 import TaskQueue
        from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

        queue_type = (
            TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW
            if kind == "workflow"
            else TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY
        )
        client = await _probe_client(settings)
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=namespace,
                task_queue=TaskQueue(name=task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
                task_queue_type=queue_type,
            ),
            timeout=timedelta(seconds=RPC_TIMEOUT_S),
        )
        if any(poller.identity.startswith(f"{pid}@") for poller in response.pollers):
            return None
        return f"pid {pid} does not poll {kind} task queue {task_queue} yet"

    def probe(pid: int) -> str | None:
        return _run_bounded(address, lambda: polled_by(pid))

    return probe
