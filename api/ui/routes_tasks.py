"""The task list: filters, order, cursor paging, counts, live rows, and bulk cancel and
pause with a preview. Interventions go through the API's own routes (api.ui.reuse)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.responses import Response

from agency.db import task_reads
from api.auth import Principal
from api.problems import FieldProblem, ProblemError, invalid
from api.routes.streams import PING_INTERVAL_S
from api.schemas import ReasonBody
from api.ui import present, task_query
from api.ui.deps import FormDep, UserDep, query_of
from api.ui.live import STREAM_LIFETIME_S, still_signed_in, stream_headers
from api.ui.render import UiRoute, page, panel, render
from api.ui.reuse import INTERVENTIONS, invoke, require
from api.ui.session import UiUser
from domain.phases import TERMINAL_PHASES

router = APIRouter(prefix="/ui", include_in_schema=False, route_class=UiRoute)

LIST_TICK_S = 1.0
MAX_BULK = 200


# ------------------------------------------------------------------------------- list
def _sort(filters: task_query.ListFilters, principal: Principal) -> str:
    # Those who can act see what waits for them first.
    return filters.sort or ("attention" if INTERVENTIONS["approve"].allows(principal) else "newest")


def _row_context(principal: Principal) -> dict[str, Any]:
    return {
        "can_bulk": INTERVENTIONS["cancel"].allows(principal)
        or INTERVENTIONS["pause"].allows(principal),
    }


@router.get("/tasks")
async def tasks_page(
    request: Request,
    user: UserDep,
    filters: Annotated[task_query.ListFilters, Depends(query_of(task_query.ListFilters))],
) -> Response:
    principal = user.principal
    sort = _sort(filters, principal)
    state = request.app.state.agency
    try:
        listing = await task_query.list_page(state.reader, principal.tenant, filters, sort)
    except ValueError as err:
        raise invalid([FieldProblem(path="cursor", message=str(err))]) from err
    loaded_at = datetime.now(UTC)
    stream_query = {
        **filters.query(cursor=None),
        "ids": ",".join(r.id for r in listing.rows),
        "since": loaded_at.isoformat(),
    }
    return page(
        request,
        "tasks.html",
        user,
        title="Tasks",
        nav_current="tasks",
        filters=filters,
        sort=sort,
        listing=listing,
        phases=present.PHASES,
        stream_query=stream_query,
        **_row_context(principal),
    )


class ListStreamQuery(task_query.ListFilters):
    ids: str = ""
    since: datetime | None = None


@router.get("/tasks/stream")
async def tasks_stream(
    request: Request,
    user: UserDep,
    query: Annotated[ListStreamQuery, Depends(query_of(ListStreamQuery))],
) -> EventSourceResponse:
    ids = [i for i in query.ids.split(",") if i][:200]
    return EventSourceResponse(
        _list_stream(request, user, query, ids), ping=PING_INTERVAL_S, headers=stream_headers()
    )


async def _list_stream(
    request: Request, user: UiUser, query: ListStreamQuery, ids: list[str]
) -> AsyncIterator[ServerSentEvent]:
    state = request.app.state.agency
    principal = user.principal
    since = query.since or datetime.now(UTC)
    # The page's own filters, for the links the counts hold.
    filters = task_query.ListFilters.model_validate(query.model_dump(exclude={"ids", "since"}))
    seen: dict[str, tuple[Any, ...]] = {}
    counts: dict[str, int] | None = None
    fresh = 0
    started = checked = time.monotonic()
    first = True
    while time.monotonic() - started < STREAM_LIFETIME_S:
        ok, checked = await still_signed_in(request, checked)
        if not ok:
            return
        try:
            rows = await task_query.rows_by_id(state.reader, principal.tenant, ids)
            now_counts = await task_query.counts(state.reader, principal.tenant, query)
            now_fresh = await task_query.newer_than(state.reader, principal.tenant, query, since)
        except Exception:  # the database is away: try again at the next tick
            rows, now_counts, now_fresh = [], counts, fresh
        for row in rows:
            signature = (row.phase, row.paused, row.pending_action, row.updated_at)
            changed = seen.get(row.id) != signature
            seen[row.id] = signature
            if not changed or (first and row.updated_at <= since):
                continue
            yield ServerSentEvent(
                event=f"phase-{row.id}",
                data=render("partials/task_phase_cell.html", row=row, present=present),
            )
            yield ServerSentEvent(
                event=f"wait-{row.id}",
                data=render("partials/task_wait_cell.html", row=row, present=present),
            )
        if now_counts is not None and now_counts != counts:
            if counts is not None or not first:
                yield ServerSentEvent(
                    event="counts",
                    data=render(
                        "partials/task_counts.html",
                        counts=now_counts,
                        filters=filters,
                        phases=present.PHASES,
                        present=present,
                    ),
                )
            counts = now_counts
        if now_fresh != fresh:
            fresh = now_fresh
            yield ServerSentEvent(
                event="fresh",
                data=render("partials/task_fresh.html", fresh=fresh, filters=filters),
            )
        first = False
        await asyncio.sleep(LIST_TICK_S)


# ------------------------------------------------------------------------------- bulk
@router.post("/tasks/bulk")
async def bulk(request: Request, user: UserDep, form: FormDep) -> Response:
    """Cancel or pause several tasks: first a preview of exactly which tasks the action
    will touch (and which it skips, and why), then, confirmed, each through the API."""
    action = form.get("action")
    if action not in ("cancel", "pause"):
        raise invalid([FieldProblem(path="action", message="must be cancel or pause")])
    op = INTERVENTIONS[action]
    principal = user.principal
    require(op, principal)
    ids = list(dict.fromkeys(i.strip() for i in form.all("task") if i.strip()))[:MAX_BULK]
    reason = form.get("reason")[:4000]
    state = request.app.state.agency
    chosen: list[Any] = []
    skipped: list[tuple[Any, str]] = []
    missing: list[str] = []
    for task_id in ids:
        row = await task_reads.read_task(state.reader, task_id[:64], tenant=principal.tenant)
        if row is None:
            missing.append(task_id[:64])
        elif row.phase in TERMINAL_PHASES:
            skipped.append((row, f"already {row.phase}"))
        elif action == "pause" and row.paused:
            skipped.append((row, "already paused"))
        else:
            chosen.append(row)
    if form.get("confirm") != "yes":
        return panel(
            request,
            user,
            "partials/bulk_preview.html",
            title=f"{action.capitalize()} {len(chosen)} task(s)?",
            action=action,
            chosen=chosen,
            skipped=skipped,
            missing=missing,
            reason=reason,
            selected=len(ids),
        )
    results: list[tuple[Any, bool, str, int]] = []
    for row in chosen:
        try:
            answer = await invoke(
                op, request, principal, task_id=row.id, body=ReasonBody(reason=reason)
            )
            results.append((row, True, answer.detail, 202))
        except ProblemError as err:
            results.append(
                (row, False, err.problem.detail or err.problem.title, err.problem.status)
            )
    return panel(
        request,
        user,
        "partials/bulk_result.html",
        title=f"{action.capitalize()}: results",
        action=action,
        results=results,
        skipped=skipped,
        missing=missing,
    )
