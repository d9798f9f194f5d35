"""Calling an activity through its typed reference (domain/activities.py).

The name Temporal schedules and the type the result is decoded to both come from the
reference, the options from workflows/activity_options.py; a call site passes the input
and nothing else that could drift from the definition, but for a summary: one line the
Temporal web UI shows beside the activity's type (which iteration, which host).
"""

from __future__ import annotations

from typing import TypeVar, cast

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.activities import ActivityRef

InputT = TypeVar("InputT", bound=BaseModel)
OutputT = TypeVar("OutputT")


async def call(
    ref: ActivityRef[InputT, OutputT],
    arg: InputT,
    options: workflow.ActivityConfig,
    *,
    activity_id: str | None = None,
    summary: str | None = None,
) -> OutputT:
    config = options.copy()
    if activity_id is not None:
        config["activity_id"] = activity_id
    if summary is not None:
        config["summary"] = summary
    result = await workflow.execute_activity(ref.name, arg, result_type=ref.output, **config)
    return cast(OutputT, result)


async def call_local(
    ref: ActivityRef[InputT, OutputT],
    arg: InputT,
    options: workflow.LocalActivityConfig,
    *,
    summary: str | None = None,
) -> OutputT:
    """As `call`, as a local activity: run by the workflow's own worker inside the
    workflow task that asked for it, recorded as one marker event. No activity task goes
    through the server and the workflow goes on in the same workflow task, so a short
    effect costs its own work and nothing else. Only for quick, idempotent work: a
    worker that dies before the workflow task completes runs it again on replay."""
    config = options.copy()
    if summary is not None:
        config["summary"] = summary
    result = await workflow.execute_local_activity(ref.name, arg, result_type=ref.output, **config)
    return cast(OutputT, result)
