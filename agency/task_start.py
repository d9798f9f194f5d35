"""Starting a task's workflow the way the Temporal web UI and CLI can find it: with its
search attributes (domain/search_attributes.py), a static summary (title and task id) and
static details (what the task is, a link to its dashboard page).

A namespace where the attributes are not registered (a cluster on which `agency temporal
setup` has not run) refuses such a start. The task then starts without them, and a
warning says how to register them: a task must not be refused for want of a label. The
workflow upserts only the attributes it started with (workflows/visibility.py).
"""

from __future__ import annotations

import logging
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from agency.temporal_client import workflow_id_for
from domain import search_attributes
from domain.summaries import static_details, static_summary
from domain.task import WORKFLOW_NAME, TaskInput

log = logging.getLogger("agency.temporal")


async def start_task_workflow(
    client: Client,
    inp: TaskInput,
    *,
    task_queue: str,
    api_url: str | None = None,
    **options: Any,
) -> WorkflowHandle[Any, Any]:
    """Start the workflow `task-<id>`; `options` go to Client.start_workflow (id reuse and
    conflict policies, memo, result_type)."""
    start = {
        "id": workflow_id_for(inp.task_id),
        "task_queue": task_queue,
        "static_summary": static_summary(inp),
        "static_details": static_details(inp, api_url),
        **options,
    }
    try:
        return await client.start_workflow(
            WORKFLOW_NAME, inp, search_attributes=search_attributes.at_start(inp), **start
        )
    except RPCError as err:
        if not is_unregistered_attribute(err):
            raise
        log.warning(
            "task %s started without search attributes: %s (`agency temporal setup` "
            "registers them in namespace %s)",
            inp.task_id,
            err.message,
            client.namespace,
        )
    return await client.start_workflow(WORKFLOW_NAME, inp, **start)


def is_unregistered_attribute(err: RPCError) -> bool:
    """The server's refusal of a search attribute it does not know (worded "no mapping
    defined for search attribute X" by the server, "search attribute X is not defined"
    by the time-skipping test server)."""
    return err.status == RPCStatusCode.INVALID_ARGUMENT and "search attribute" in err.message
