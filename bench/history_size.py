"""How big a task's Temporal history is: events and serialized bytes, the two measures
Temporal limits (it warns at 10,240 events and refuses a workflow past 51,200 events or
50 MB of history)."""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.api.history.v1 import History
from temporalio.client import Client

WARN_EVENTS = 10_240
LIMIT_EVENTS = 51_200
LIMIT_BYTES = 50 * 2**20


@dataclass(frozen=True)
class HistorySize:
    events: int
    bytes: int


async def history_size(client: Client, workflow_id: str) -> HistorySize:
    """The history as the server hands it out: its bytes are those of the History proto
    (what Temporal's size limit counts, give or take the framing)."""
    fetched = await client.get_workflow_handle(workflow_id).fetch_history()
    proto = History(events=fetched.events)
    return HistorySize(len(fetched.events), proto.ByteSize())


def sample(ids: list[str], k: int) -> list[str]:
    """Up to `k` ids spread evenly over `ids` (the first, the last and between)."""
    if len(ids) <= k:
        return list(ids)
    step = (len(ids) - 1) / (k - 1)
    return [ids[round(i * step)] for i in range(k)]
