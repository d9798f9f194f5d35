"""Who polls a task queue, as Temporal sees it: executors and workflow workers.

Executors and workers are Temporal workers, so Temporal's own record of the pollers of
their queues is the census (no registry of our own to keep current): executors poll the
shared activity queue `Settings.executor_task_queue`, workflow workers the workflow queue
`Settings.task_queue`.

Temporal lists a poller for some minutes after its last poll. A live worker polls again
as soon as a long poll ends (about a minute when there is no work), so a poller counts
as active when it polled within ACTIVE_WITHIN_S; one that stopped shows until Temporal
forgets it, with `active` false. A worker whose every slot is busy stops polling, and
so may look inactive while it works: the census is about taking work, not being alive.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import PollerInfo, TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

ACTIVE_WITHIN_S = 120.0
DESCRIBE_TIMEOUT_S = 3.0

QueueKind = Literal["workflow", "activity"]
_TYPES = {
    "workflow": TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    "activity": TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
}


@dataclass(frozen=True)
class Poller:
    identity: str
    last_access_time: datetime | None
    active: bool


async def pollers(
    client: Client,
    task_queue: str,
    kind: QueueKind,
    *,
    timeout_s: float = DESCRIBE_TIMEOUT_S,
    now: datetime | None = None,
) -> list[Poller]:
    """The pollers Temporal reports for `task_queue` (DescribeTaskQueue), most recent
    first. Raises what the call raises (RPCError, TimeoutError) when Temporal is down."""
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
        task_queue_type=_TYPES[kind],
    )
    response = await asyncio.wait_for(
        client.workflow_service.describe_task_queue(request, timeout=timedelta(seconds=timeout_s)),
        timeout=timeout_s + 1,
    )
    at = now or datetime.now(UTC)
    found = [_poller(info, at) for info in response.pollers]
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(found, key=lambda p: p.last_access_time or epoch, reverse=True)


def _poller(info: PollerInfo, now: datetime) -> Poller:
    seen = (
        info.last_access_time.ToDatetime(tzinfo=UTC) if info.HasField("last_access_time") else None
    )
    active = seen is not None and (now - seen).total_seconds() <= ACTIVE_WITHIN_S
    return Poller(identity=info.identity, last_access_time=seen, active=active)
