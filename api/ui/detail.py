"""What a task's page shows, gathered from the API's own reads.

- The task: `GET /api/v1/tasks/{id}`'s route (the projection, merged with the running
  workflow's live state; 404 for another tenant's task).
- The timeline: the task's events (phase entries), each phase with how long it lasted.
- Council rounds: the live state's rounds while the task runs; afterwards the stored
  verdicts (stage, iteration, each judge) and the decision their audit entry records.
- Execution, gates with their output tails: the live state's execution summary; after the
  end, the finished workflow's `state` query (kept, it cannot change), or what the
  events recorded when no worker can answer it.
- The diff: the run's diff artifact (its id `diff-<sha256>` from the execution summary or
  the `executed` event), parsed and coloured by api.ui.diffs, each file placed in scope.
- Live agent output: the tail of the agent's log while it runs, when the executor shares
  this process's data directory (`agency up`); redacted as the executor redacts it, and
  only whole lines, so a secret is never cut and shown in part.
- The audit trail: the audit route's answer.
"""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Row
from starlette.requests import HTTPConnection

from agency.db import task_reads
from agency.db.artifacts import ArtifactNotFound, get_artifact
from agency.executor.layout import Layout
from agency.executor.secrets import MissingSecrets
from agency.executor.secrets import resolve as resolve_secrets
from agency.redaction import Redactor
from api.auth import Principal
from api.schemas import AuditList, TaskPublic
from api.ui import diffs
from api.ui.detail_views import (
    ExecutionView,
    RoundView,
    TimelineEntry,
    execution_view,
    rounds_from_records,
    rounds_from_state,
    timeline,
)
from api.ui.reuse import GET_TASK, TASK_AUDIT, invoke
from domain.phases import TERMINAL_PHASES
from domain.task import TaskState

FINAL_QUERY_TIMEOUT_S = 3.0
MAX_FINAL_STATES = 256
OUTPUT_TAIL_BYTES = 16 * 1024
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


@dataclass
class LiveOutput:
    text: str
    source: str
    note: str = ""


@dataclass
class TaskDetail:
    task: TaskPublic
    events: list[Row[Any]]
    timeline: list[TimelineEntry]
    rounds: list[RoundView]
    execution: ExecutionView | None
    audit: AuditList
    temporal_url: str
    last_seq: int
    note: str = ""

    @property
    def terminal(self) -> bool:
        return self.task.phase in TERMINAL_PHASES


class FinalStates:
    """The `state` query of finished workflows: it cannot change, so it is asked once."""

    def __init__(self) -> None:
        self._states: OrderedDict[str, TaskState] = OrderedDict()

    def get(self, workflow_id: str) -> TaskState | None:
        found = self._states.get(workflow_id)
        if found is not None:
            self._states.move_to_end(workflow_id)
        return found

    def put(self, workflow_id: str, value: TaskState) -> None:
        self._states[workflow_id] = value
        while len(self._states) > MAX_FINAL_STATES:
            self._states.popitem(last=False)


def final_states(connection: HTTPConnection) -> FinalStates:
    found = getattr(connection.app.state, "ui_final_states", None)
    if found is None:
        found = connection.app.state.ui_final_states = FinalStates()
    return found


async def final_state(connection: HTTPConnection, task: TaskPublic) -> TaskState | None:
    """The finished workflow's last state (a worker replays it to answer), or None."""
    cache = final_states(connection)
    cached = cache.get(task.workflow_id)
    if cached is not None:
        return cached
    gateway = connection.app.state.agency.temporal
    try:
        client = await gateway.client(wait_s=1.0)
        handle = client.get_workflow_handle(task.workflow_id, run_id=task.workflow_run_id)
        value = await asyncio.wait_for(
            handle.query("state", result_type=TaskState), FINAL_QUERY_TIMEOUT_S
        )
    except Exception:  # no worker, Temporal away, history gone: the events still tell
        return None
    cache.put(task.workflow_id, value)
    return value


def temporal_url(connection: HTTPConnection, task: TaskPublic) -> str:
    settings = connection.app.state.agency.settings
    base = settings.effective_temporal_ui_origin.rstrip("/")
    url = (
        f"{base}/namespaces/{quote(settings.temporal_namespace, safe='')}"
        f"/workflows/{quote(task.workflow_id, safe='')}"
    )
    if task.workflow_run_id:
        url += f"/{quote(task.workflow_run_id, safe='')}"
    return url + "/history"


async def load(
    connection: HTTPConnection, principal: Principal, task_id: str, *, with_final: bool = True
) -> TaskDetail:
    response = await invoke(GET_TASK, connection, principal, task_id=task_id)
    task = TaskPublic.model_validate_json(response.body)
    state = connection.app.state.agency
    audit: AuditList = await invoke(TASK_AUDIT, connection, principal, task_id=task_id)
    events = await task_reads.list_events(state.reader, task_id, limit=task_reads.MAX_EVENTS_PAGE)
    verdict_rows = await task_reads.list_verdicts(state.reader, task_id)
    note = ""
    rounds: list[RoundView]
    summary = task.execution
    if task.rounds:
        # The projection's (or, for a task stored before it held them, the live state's).
        rounds = rounds_from_state(task.rounds)
    else:
        rounds = rounds_from_records(verdict_rows, audit)
    executed = any(e.action == "executed" for e in events)
    if task.phase in TERMINAL_PHASES and with_final and summary is None and executed:
        # A task stored before the projection held its execution: its workflow has it.
        final = await final_state(connection, task)
        if final is not None:
            summary = final.execution
        else:
            note = (
                "The finished workflow could not be asked for its last state (no workflow "
                "worker, or Temporal is unavailable): gate output is not shown."
            )
    for view in rounds:
        if view.at is None:
            view.at = _round_time(view, events)
    now = datetime.now(UTC)
    return TaskDetail(
        task=task,
        events=events,
        timeline=timeline(events, task.phase, now),
        rounds=rounds,
        execution=execution_view(summary, events),
        audit=audit,
        temporal_url=temporal_url(connection, task),
        last_seq=events[-1].seq if events else 0,
        note=task.live_unavailable or note,
    )


def _round_time(view: RoundView, events: list[Row[Any]]) -> datetime | None:
    """When a live round was decided: the judgment event of its stage (the latest one of
    that stage, for a result review, whose iteration the event does not name)."""
    action = "plan_review" if view.stage == "plan" else "result_review"
    found = [e.at for e in events if e.kind == "judgment" and e.action == action]
    return found[-1] if found else None


async def load_diff(
    connection: HTTPConnection, execution: ExecutionView | None, scope: dict[str, Any] | None
) -> tuple[diffs.ParsedDiff | None, str]:
    """The execution's diff, parsed and placed in scope; or None and why not."""
    if execution is None or not execution.diff_artifact:
        return None, "no change was recorded"
    state = connection.app.state.agency
    try:
        async with state.sessions() as session:
            data = await get_artifact(session, execution.diff_artifact)
    except ArtifactNotFound:
        return None, f"the diff artifact {execution.diff_artifact} is not in the database"
    parsed = await asyncio.to_thread(diffs.parse, data.decode("utf-8", errors="replace"))
    diffs.mark_scope(parsed, scope)
    return parsed, ""


def live_output(
    connection: HTTPConnection, task: TaskPublic, events: list[Row[Any]]
) -> LiveOutput | None:
    """The running agent's (or gate's) output so far, when this process can read it."""
    if task.phase not in ("executing", "gating"):
        return None
    started = [e for e in events if e.action == "execute"]
    if not started:
        return None
    data = started[-1].data
    run_id = str(data.get("run_id", ""))
    executor = str(data.get("executor", "")).split("/")[0]
    if not SAFE_NAME.match(run_id) or not SAFE_NAME.match(executor) or ".." in executor:
        return None
    settings = connection.app.state.agency.settings
    root = (settings.resolved_data_dir / "executors").resolve()
    logs = Layout(root / executor).run_logs(run_id)
    if task.phase == "gating":
        files = sorted(logs.glob("gate-*.out"), key=lambda p: p.stat().st_mtime)
        path = files[-1] if files else None
        source = "gate output"
    else:
        path, source = logs / "agent.stdout", "agent output"
    if path is None or not path.is_file() or root not in path.resolve().parents:
        return LiveOutput(
            "",
            source,
            f"The {source} is on executor {executor}; it shows here when the step ends.",
        )
    try:
        secret_names = list((task.spec.get("agent") or {}).get("secrets") or [])
        secret_values = resolve_secrets(
            secret_names, secrets_dir=settings.secrets_dir, secrets_file=settings.secrets_file
        )
    except (MissingSecrets, OSError):
        return LiveOutput(
            "",
            source,
            "Not shown while it runs: this API cannot read the task's secrets to redact "
            "them. It shows here when the step ends.",
        )
    return LiveOutput(Redactor(secret_values).text(_whole_lines_tail(path)), source)


def _whole_lines_tail(path: Path) -> str:
    """The last OUTPUT_TAIL_BYTES of the file, whole lines only."""
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        start = max(0, size - OUTPUT_TAIL_BYTES)
        handle.seek(start)
        data = handle.read()
    if start > 0:
        data = data.split(b"\n", 1)[1] if b"\n" in data else b""
    if not data.endswith(b"\n"):
        data = data.rsplit(b"\n", 1)[0] + b"\n" if b"\n" in data else b""
    return data.decode("utf-8", errors="replace")
