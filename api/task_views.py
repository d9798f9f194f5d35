"""A task's answer while it runs: the workflow's live state, merged into the TaskPublic of
its projection row (api.task_json.public_from_row)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import Row

from agency.metrics.http import count_dependency_error
from api.outages import TemporalUnavailableError, is_temporal_unavailable
from api.schemas import TaskPublic
from api.temporal_gateway import TemporalGateway, describe
from domain.phases import TERMINAL_PHASES
from domain.task import TaskState

log = logging.getLogger("agency.api")

QUERY_TIMEOUT_S = 2.0
# The projection answers without Temporal: a read waits briefly for a connection.
CONNECT_WAIT_S = 1.0


def with_live_state(public: TaskPublic, live: TaskState) -> TaskPublic:
    # The live query is ahead of the projection (records are written after the fact).
    return public.model_copy(
        update={
            "phase": live.phase,
            "iteration": live.iteration,
            "max_iterations": live.max_iterations,
            "risk_tier": live.risk_tier,
            "paused": live.paused,
            "pending_action": live.pending_action,
            "verdicts": live.verdicts or public.verdicts,
            "decision": live.decision,
            "rounds": live.rounds,
            "execution": live.execution,
            "applied_commit": live.applied_commit or public.applied_commit,
            "error": live.last_error or public.error,
            "live": True,
        }
    )


async def live_state(gateway: TemporalGateway, row: Row[Any]) -> TaskState | str | None:
    """The workflow's `state` query; None when the task has finished (the projection is
    the whole answer); otherwise, when it cannot be read, why (the projection is still a
    valid answer without it)."""
    if row.phase in TERMINAL_PHASES:
        return None
    try:
        client = await gateway.client(wait_s=CONNECT_WAIT_S)
    except TemporalUnavailableError as err:
        count_dependency_error("temporal", "read_degraded")
        return f"Temporal is unavailable ({err})"
    try:
        handle = client.get_workflow_handle(row.workflow_id)
        return await asyncio.wait_for(
            handle.query("state", result_type=TaskState), timeout=QUERY_TIMEOUT_S
        )
    except TimeoutError:
        # Temporal holds a query until a worker answers it: no answer, no worker.
        return "the workflow did not answer in time (no workflow worker?)"
    except Exception as err:
        log.info("live query of %s failed: %s", row.workflow_id, type(err).__name__)
        if is_temporal_unavailable(err):
            count_dependency_error("temporal", "read_degraded")
            return f"Temporal is unavailable ({describe(err)})"
        return f"the live query failed ({describe(err)})"
