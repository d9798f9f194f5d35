"""/ui/explorer: the database explorer's page (admins; docs/explorer.md).

One form: the SQL, its parameters (NAME=VALUE per line), and buttons to run it, download
the result as CSV or JSON, or save it. Queries run through agency.explorer exactly as
the API runs them (same guards, same tenant, same refusals, shown as a problem panel).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import RedirectResponse, Response

from agency.db import saved_queries as store
from agency.db.keys import ROLES
from agency.explorer.params import BadParam, parse_lines
from agency.explorer.result import ExplorerRefused, QueryResult, to_csv
from agency.explorer.run import run_query
from api.problems import FieldProblem, Problem, forbidden, invalid, not_found
from api.routes.explorer import MAX_SQL, answer, refusal_problem
from api.state import AppState
from api.ui.deps import Form, FormDep, UserDep
from api.ui.render import UiRoute, page
from api.ui.session import UiUser

router = APIRouter(prefix="/ui", include_in_schema=False, route_class=UiRoute)

EXAMPLE = "SELECT phase, count(*) AS n FROM tasks GROUP BY phase ORDER BY n DESC"


def _state(request: Request) -> AppState:
    return request.app.state.agency


def _admin(user: UiUser) -> None:
    if not user.principal.allows("admin"):
        raise forbidden("the explorer is for admin keys")


async def _page(
    request: Request,
    user: UiUser,
    *,
    sql: str = EXAMPLE,
    params: str = "",
    result: QueryResult | None = None,
    problem: Problem | None = None,
    status: int = 200,
) -> Response:
    state = _state(request)
    async with state.sessions() as session:
        saved = await store.list_queries(
            session,
            tenant=user.principal.tenant,
            actor=user.principal.actor,
            role=user.principal.role,
        )
    return page(
        request,
        "explorer.html",
        user,
        status=status,
        title="Explorer",
        nav_current="explorer",
        sql=sql,
        params=params,
        result=result,
        problem=problem,
        saved=saved,
        roles=ROLES,
        max_sql=MAX_SQL,
        done_text=request.query_params.get("done", "")[:200],
    )


@router.get("/explorer")
async def explorer_page(request: Request, user: UserDep) -> Response:
    _admin(user)
    chosen = request.query_params.get("saved", "")
    if not chosen:
        return await _page(request, user)
    async with _state(request).sessions() as session:
        row = await store.get_query(
            session,
            chosen[:16],
            tenant=user.principal.tenant,
            actor=user.principal.actor,
            role=user.principal.role,
        )
    if row is None:
        raise not_found("saved query")
    lines = "\n".join(f"{k}={json.dumps(v)}" for k, v in row.params.items())
    return await _page(request, user, sql=row.sql, params=lines)


@router.post("/explorer")
async def explorer_run(request: Request, user: UserDep, form: FormDep) -> Response:
    _admin(user)
    sql, params_text, action = form.get("sql"), form.get("params"), form.get("action", "run")
    problems: list[FieldProblem] = []
    if not sql.strip() or len(sql) > MAX_SQL:
        problems.append(FieldProblem(path="sql", message=f"1 to {MAX_SQL} characters"))
    try:
        params = parse_lines(params_text)
    except BadParam as err:
        problems.append(FieldProblem(path="params", message=str(err)))
        params = {}
    if problems:
        problem = invalid(problems).problem
        return await _page(request, user, sql=sql, params=params_text, problem=problem, status=422)
    if action == "save":
        return await _save(request, user, form, sql, params)
    try:
        result = await run_query(_state(request).settings, sql, params, user.principal.tenant)
    except ExplorerRefused as err:
        problem = refusal_problem(err).problem
        return await _page(
            request, user, sql=sql, params=params_text, problem=problem, status=problem.status
        )
    if action == "csv":
        return _download(to_csv(result), "text/csv", "query.csv")
    if action == "json":
        return _download(answer(result).model_dump_json(), "application/json", "query.json")
    return await _page(request, user, sql=sql, params=params_text, result=result)


def _download(content: str, media_type: str, filename: str) -> Response:
    disposition = f'attachment; filename="{filename}"'
    return Response(content, media_type=media_type, headers={"Content-Disposition": disposition})


async def _save(
    request: Request, user: UiUser, form: Form, sql: str, params: dict[str, Any]
) -> Response:
    name, shared = form.get("name").strip()[:200], form.get("shared_with")
    if not name:
        problem = invalid([FieldProblem(path="name", message="a name to save it under")]).problem
        return await _page(
            request, user, sql=sql, params=form.get("params"), problem=problem, status=422
        )
    async with _state(request).sessions() as session:
        await store.save_query(
            session,
            tenant=user.principal.tenant,
            owner=user.principal.actor,
            name=name,
            sql=sql,
            params=params,
            shared_with=shared if shared in ROLES else None,
        )
    return RedirectResponse("/ui/explorer?done=Saved", status_code=303)


@router.post("/explorer/saved/{query_id}/delete")
async def delete_saved(
    request: Request,
    user: UserDep,
    form: FormDep,
    query_id: Annotated[str, Path(pattern=r"^[0-9a-f]{12}$")],
) -> Response:
    _admin(user)
    async with _state(request).sessions() as session:
        deleted = await store.delete_query(
            session, query_id, tenant=user.principal.tenant, owner=user.principal.actor
        )
    if not deleted:
        raise not_found("saved query of yours")
    return RedirectResponse("/ui/explorer?done=Deleted", status_code=303)
