"""What Temporal shows of a running task: its search attributes (domain/search_attributes.py)
kept current as the phase changes, and its current details (the workflow page's "current
details", markdown: where the task is and what it waits for).

Called after every change of what they show (a phase entered, an intervention taken);
both are deterministic: the attributes' upsert is a command built from the workflow's own
state, the details a string served by Temporal's metadata query.

Two guards on the upsert:
- the workflow upserts only attributes it was started with: a server where they are not
  registered refuses a start that carries them (the API then starts without them,
  agency/task_start.py) and would fail every workflow task that upserts them;
- `workflow.patched(PATCH)`: a history started with the attributes by a worker that did
  not upsert them (one from before this change) replays without the new commands.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

from workflows.state import TaskRun

with workflow.unsafe.imports_passed_through():
    from domain import search_attributes as sa

PATCH = "search-attributes"


def show(run: TaskRun) -> None:
    """Bring the task's search attributes and current details up to date with `run`."""
    workflow.set_current_details(current_details(run))
    current = workflow.info().typed_search_attributes
    if current.get(sa.PHASE) is None:
        return  # started without them (see above)
    wanted: list[tuple[Any, Any]] = [
        (sa.PHASE, run.phase),
        (sa.AWAITING_APPROVAL, awaiting_approval(run)),
        (sa.RISK_TIER, run.risk_tier),
    ]
    updates: list[SearchAttributeUpdate[Any]] = [
        key.value_set(value) for key, value in wanted if current.get(key) != value
    ]
    if updates and workflow.patched(PATCH):
        workflow.upsert_search_attributes(updates)


def awaiting_approval(run: TaskRun) -> bool:
    # Until the approve (or reject) is taken, not until the workflow moves on from it.
    return run.pending_action == "approve" and run.human_verdict is None


def current_details(run: TaskRun) -> str:
    """Markdown for the Temporal UI: the phase, the iteration, what the task waits for."""
    lines = [f"**{run.phase.replace('_', ' ')}**"]
    if run.iteration:
        lines.append(f"- iteration {run.iteration} of at most {run.max_iterations}")
    if run.host is not None and run.phase in ("executing", "gating"):
        lines.append(f"- on executor host `{run.host.executor}`")
    if awaiting_approval(run):
        until = run.approval_deadline
        lines.append(
            "- waiting for a human to approve or reject (`agency approve`, the dashboard, "
            "or the `approve` update)"
            + (f" until {until.strftime('%Y-%m-%d %H:%M UTC')}" if until else "")
        )
    if run.paused:
        lines.append("- paused: waiting for `resume`")
    if run.last_error and run.phase in ("failed", "rejected", "canceled"):
        lines.append(f"- {run.last_error[:500]}")
    return "\n".join(lines)
