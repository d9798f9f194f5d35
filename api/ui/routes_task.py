"""A task's page (live over SSE), its interventions and its provenance. Interventions go
through the API's own routes (api.ui.reuse)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.responses import Response

from agency.db import task_reads
from api.auth import Principal
from api.problems import ProblemError, not_found
from api.routes.streams import PING_INTERVAL_S, event_stream
from api.routes.tasks import TaskId
from api.schemas import GuidanceBody, OverrideBody, ParametersBody, ReasonBody
from api.ui import detail, present
from api.ui.deps import FormDep, UserDep
from api.ui.live import STREAM_LIFETIME_S, still_signed_in, stream_headers
from api.ui.render import UiRoute, fragment, is_htmx, page, page_off_loop, panel, render
from api.ui.reuse import INTERVENTIONS, TASK_PROVENANCE, body, invoke, require
from api.ui.session import UiUser
from domain.phases import TERMINAL_PHASES

router = APIRouter(prefix="/ui", include_in_schema=False, route_class=UiRoute)

DETAIL_TICK_S = 1.0
ActionName = Literal[
    "pause", "resume", "cancel", "approve", "reject", "override", "guidance", "parameters"
]
BODIES: dict[str, type[BaseModel]] = {
    "override": OverrideBody,
    "guidance": GuidanceBody,
    "parameters": ParametersBody,
}
LABELS = {
    "pause": "Pause",
    "resume": "Resume",
    "cancel": "Cancel",
    "approve": "Approve",
    "reject": "Reject",
    "override": "Override the council",
    "guidance": "Send guidance",
    "parameters": "Change parameters",
}


def available_actions(task: Any, principal: Principal) -> list[str]:
    """The interventions that apply now and that this key's role may use."""
    if task.phase in TERMINAL_PHASES:
        return []
    names: list[str] = []
    if task.phase == "awaiting_approval" or task.pending_action == "approve":
        names += ["approve", "reject"]
    names.append("resume" if task.paused else "pause")
    names += ["cancel", "override", "guidance", "parameters"]
    return [n for n in names if INTERVENTIONS[n].allows(principal)]


async def _detail_context(request: Request, user: UiUser, task_id: str) -> dict[str, Any]:
    loaded = await detail.load(request, user.principal, task_id)
    diff, diff_note = await detail.load_diff(
        request, loaded.execution, loaded.task.spec.get("scope")
    )
    output = await asyncio.to_thread(detail.live_output, request, loaded.task, loaded.events)
    return {
        "d": loaded,
        "t": loaded.task,
        "diff": diff,
        "diff_note": diff_note,
        "output": output,
        "actions": available_actions(loaded.task, user.principal),
        "labels": LABELS,
        "repo": present.repo_of(loaded.task.spec),
        "tiers": [1, 2, 3],
    }


@router.get("/tasks/{task_id}")
async def task_page(request: Request, user: UserDep, task_id: TaskId) -> Response:
    context = await _detail_context(request, user, task_id)
    return await page_off_loop(
        request, "task.html", user, title=context["t"].title, nav_current="tasks", **context
    )


@router.get("/tasks/{task_id}/provenance")
async def provenance(request: Request, user: UserDep, task_id: TaskId) -> Response:
    report = await invoke(TASK_PROVENANCE, request, user.principal, task_id=task_id)
    row = await task_reads.read_task(
        request.app.state.agency.reader, task_id, user.principal.tenant
    )
    # Finished by its record, its workflow not yet closed: the page asks again shortly.
    settling = report.pending and row is not None and row.phase in TERMINAL_PHASES
    if is_htmx(request):
        return fragment(
            request,
            "partials/provenance.html",
            user,
            report=report,
            task_id=task_id,
            settling=settling,
        )
    return page(
        request,
        "panel_page.html",
        user,
        title="Provenance",
        panel="partials/provenance.html",
        report=report,
        task_id=task_id,
        settling=False,
        nav_current="tasks",
    )


def _intervention_body(name: str, form: Any) -> BaseModel:
    if name == "override":
        data: dict[str, Any] = {"verdict": form.get("verdict"), "reason": form.get("reason")}
    elif name == "guidance":
        data = {"text": form.get("text")}
    elif name == "parameters":
        data = {
            "max_iterations": form.get("max_iterations") or None,
            "risk_tier": form.get("risk_tier") or None,
        }
    else:
        data = {"reason": form.get("reason")}
    return body(BODIES.get(name, ReasonBody), data)


@router.post("/tasks/{task_id}/act/{name}")
async def act(
    request: Request, user: UserDep, form: FormDep, task_id: TaskId, name: ActionName
) -> Response:
    """An intervention: a confirmation first (what will be sent), then, confirmed, the
    API's route for it, and its answer (accepted, or the problem)."""
    principal = user.principal
    op = INTERVENTIONS[name]
    require(op, principal)
    state = request.app.state.agency
    row = await task_reads.read_task(state.reader, task_id, tenant=principal.tenant)
    if row is None:
        raise not_found(f"task {task_id}")
    payload = _intervention_body(name, form)
    context = {
        "task_row": row,
        "name": name,
        "label": LABELS[name],
        "payload": payload.model_dump(exclude_none=True),
        "title": f"{LABELS[name]}: {row.title}",
    }
    if form.get("confirm") != "yes":
        return panel(request, user, "partials/action_confirm.html", **context)
    try:
        answer = await invoke(op, request, principal, task_id=task_id, body=payload)
    except ProblemError as err:
        return panel(
            request,
            user,
            "partials/action_result.html",
            status=err.problem.status,
            problem=err.problem,
            **context,
        )
    return panel(
        request, user, "partials/action_result.html", problem=None, answer=answer, **context
    )


# ----------------------------------------------------------------------------- stream
@router.get("/tasks/{task_id}/stream")
async def task_stream(
    request: Request,
    user: UserDep,
    task_id: TaskId,
    after: Annotated[int, Query(ge=0, le=2_147_483_647)] = 0,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=20)] = None,
) -> Response:
    state = request.app.state.agency
    row = await task_reads.read_task(state.reader, task_id, tenant=user.principal.tenant)
    if row is None:
        raise not_found(f"task {task_id}")
    start = after
    if last_event_id and last_event_id.strip().isdigit():
        start = max(start, int(last_event_id.strip()))
    if row.phase in TERMINAL_PHASES and start >= row.last_seq:
        # Nothing more will happen: the page has it all (the `end` event closed the stream).
        return Response(status_code=204)
    return EventSourceResponse(
        _task_stream(request, user, task_id, start), ping=PING_INTERVAL_S, headers=stream_headers()
    )


def _sections(context: dict[str, Any], principal: Principal, csrf: str) -> dict[str, str]:
    common = {**context, "principal": principal, "csrf": csrf, "present": present}
    return {
        name: render(f"partials/task_{name}.html", **common)
        for name in ("status", "actions", "timeline", "council", "execution", "audit", "output")
    }


async def _task_stream(
    request: Request, user: UiUser, task_id: str, after: int
) -> AsyncIterator[ServerSentEvent]:
    """The page's sections again, each when it changed: after every task event (the
    API's own event stream, api.routes.streams), and the live output every second."""
    state = request.app.state.agency
    events = event_stream(state, task_id, after)
    pending: asyncio.Future[ServerSentEvent] = asyncio.ensure_future(anext(events))
    sent: dict[str, str] = {}
    checked = started = time.monotonic()
    last_output: str | None = None
    try:
        while time.monotonic() - started < STREAM_LIFETIME_S:
            done, _ = await asyncio.wait({pending}, timeout=DETAIL_TICK_S)
            ok, checked = await still_signed_in(request, checked)
            if not ok:
                return
            if pending not in done:
                output = await _output_section(request, task_id, user)
                if output is not None and output != last_output:
                    last_output = output
                    yield ServerSentEvent(event="output", data=output)
                continue
            try:
                event = pending.result()
            except StopAsyncIteration:
                return
            pending = asyncio.ensure_future(anext(events))
            if event.event in ("reconnecting", "resumed"):
                yield ServerSentEvent(
                    event="connection",
                    data=render(
                        "partials/task_connection.html",
                        kind=event.event,
                        data=json.loads(str(event.data)),
                    ),
                )
                continue
            end = event.event == "end"
            context = await _detail_context(request, user, task_id)
            sections = await asyncio.to_thread(_sections, context, user.principal, user.csrf)
            for name, html in sections.items():
                if sent.get(name) != html:
                    sent[name] = html
                    if name == "output":
                        last_output = html
                    yield ServerSentEvent(event=name, data=html, id=event.id)
            if end:
                # The record is the workflow's last step: verify it again now.
                slot = render("partials/provenance_slot.html", t=context["t"])
                yield ServerSentEvent(event="provenance", data=slot)
                yield ServerSentEvent(event="end", data="end")
                return
    finally:
        pending.cancel()
        with contextlib.suppress(BaseException):
            await pending
        with contextlib.suppress(Exception):
            await events.aclose()


async def _output_section(request: Request, task_id: str, user: UiUser) -> str | None:
    """The live output section, or None when the task is not running a step."""
    state = request.app.state.agency
    row = await task_reads.read_task(state.reader, task_id, tenant=user.principal.tenant)
    if row is None or row.phase not in ("executing", "gating"):
        return None
    events = await task_reads.list_events(state.reader, task_id, limit=task_reads.MAX_EVENTS_PAGE)
    task = _RowTask(row)
    output = await asyncio.to_thread(detail.live_output, request, task, events)  # type: ignore[arg-type]
    return render("partials/task_output.html", output=output, t=task, present=present)


class _RowTask:
    """The fields of a projection row live_output reads, as a TaskPublic has them."""

    def __init__(self, row: Any) -> None:
        self.phase = row.phase
        self.spec = task_reads.task_spec(row)
        self.id = row.id
