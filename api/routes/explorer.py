"""/api/v1/explorer: read-only SQL over the records, for admins (docs/explorer.md).

A query runs under agency.explorer's guards as the caller's tenant. Every refusal is a
422 problem whose `errors` list the reasons: `query-refused` (not allowed: a write, a
hidden column, a function, several statements), `query-deadline` (past
AGENCY_EXPLORER_DEADLINE_S; 422 rather than 408, which browsers and proxies retry by
themselves: the same query would only run out of time again) and `query-failed` (the
database's own error: syntax, no such table). 503 `explorer-unavailable` when the
explorer cannot run on this database at all.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from agency.db import saved_queries as store
from agency.db.keys import Role
from agency.explorer.result import ExplorerRefused, QueryResult, to_csv
from agency.explorer.run import ParamValue, run_query
from api.deps import AdminDep, SessionDep, StateDep
from api.problems import FieldProblem, Problem, ProblemError, forbidden, not_found

log = logging.getLogger("agency.api.explorer")
router = APIRouter(prefix="/api/v1/explorer", tags=["explorer"])

MAX_SQL = 20_000
PARAM_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"
MAX_PARAMS = 50


def _param_names(value: dict[str, ParamValue]) -> dict[str, ParamValue]:
    if len(value) > MAX_PARAMS:
        raise ValueError(f"at most {MAX_PARAMS} parameters")
    bad = [name for name in value if not re.fullmatch(PARAM_NAME, name)]
    if bad:
        raise ValueError(f"parameter names are identifiers ({PARAM_NAME}): {bad[:5]}")
    return value


# Names checked by a validator, and said in the schema as propertyNames (a key pattern in
# the type would come out as patternProperties, leaving other names open).
Params = Annotated[
    dict[str, ParamValue],
    AfterValidator(_param_names),
    Field(
        description="Values of the query's `:name` parameters",
        json_schema_extra={"propertyNames": {"pattern": PARAM_NAME}, "maxProperties": MAX_PARAMS},
    ),
]
SavedId = Annotated[str, Path(pattern=r"^[0-9a-f]{12}$", description="a saved query's id")]
CSV = "text/csv"
QUERY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The rows (JSON), or with `format=csv` or `Accept: text/csv` a CSV file",
        "content": {CSV: {"schema": {"type": "string"}}},
    },
    422: {
        "model": Problem,
        "description": "Refused: `query-refused`, `query-deadline` or `query-failed`, every "
        "reason listed in `errors`; or an invalid request",
    },
}
SAVED_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such saved query visible to the caller"},
}
TITLES = {
    "refused": "Query refused",
    "deadline": "Query ran past its deadline",
    "failed": "Query failed",
}


class QueryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sql: str = Field(min_length=1, max_length=MAX_SQL, description="One SELECT statement")
    params: Params = Field(default_factory=dict)


class QueryAnswer(BaseModel):
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool = Field(description="True when the row or size cap cut the result short")
    elapsed_ms: float


class SavedCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    sql: str = Field(min_length=1, max_length=MAX_SQL)
    params: Params = Field(default_factory=dict)
    shared_with: Role | None = Field(
        default=None, description="The lowest role that also sees it; none: the owner alone"
    )


class SavedPublic(SavedCreate):
    model_config = ConfigDict(extra="ignore")

    id: str
    owner: str


class SavedList(BaseModel):
    items: list[SavedPublic]


def refusal_problem(err: ExplorerRefused) -> ProblemError:
    if err.kind == "unavailable":
        return ProblemError(503, "explorer-unavailable", "Explorer unavailable", str(err))
    errors = [FieldProblem(path="sql", message=r, rule=f"explorer.{err.kind}") for r in err.reasons]
    return ProblemError(422, f"query-{err.kind}", TITLES[err.kind], str(err), errors)


def answer(result: QueryResult) -> QueryAnswer:
    return QueryAnswer(
        columns=result.columns,
        rows=result.rows,
        truncated=result.truncated,
        elapsed_ms=result.elapsed_ms,
    )


@router.post("/query", response_model=QueryAnswer, responses=QUERY_RESPONSES)
async def query(
    request: Request,
    state: StateDep,
    principal: AdminDep,
    body: QueryBody,
    format: Annotated[Literal["json", "csv"] | None, Query(description="json or csv")] = None,
) -> Any:
    """Run one SELECT over the records of the caller's tenant, read-only and bounded."""
    # Who read what: the audit log is per task, so the explorer's reads go to the log.
    log.info(
        "explorer query by %s (tenant %s): %.500s", principal.actor, principal.tenant, body.sql
    )
    try:
        result = await run_query(state.settings, body.sql, body.params, principal.tenant)
    except ExplorerRefused as err:
        raise refusal_problem(err) from None
    wants_csv = format == "csv" or (format is None and CSV in request.headers.get("accept", ""))
    if wants_csv:
        return Response(
            to_csv(result),
            media_type=CSV,
            headers={"Content-Disposition": 'attachment; filename="query.csv"'},
        )
    return answer(result)


def _public(row: store.SavedQuery) -> SavedPublic:
    return SavedPublic.model_validate(row, from_attributes=True)


@router.get("/saved", response_model=SavedList)
async def list_saved(session: SessionDep, principal: AdminDep) -> SavedList:
    """The caller's saved queries and those shared with its role, oldest first."""
    rows = await store.list_queries(
        session, tenant=principal.tenant, actor=principal.actor, role=principal.role
    )
    return SavedList(items=[_public(r) for r in rows])


@router.post("/saved", status_code=201, response_model=SavedPublic)
async def save(session: SessionDep, principal: AdminDep, body: SavedCreate) -> SavedPublic:
    """Save a query under a name (it is not run)."""
    row = await store.save_query(
        session,
        tenant=principal.tenant,
        owner=principal.actor,
        name=body.name,
        sql=body.sql,
        params=body.params,
        shared_with=body.shared_with,
    )
    return _public(row)


@router.get("/saved/{query_id}", response_model=SavedPublic, responses=SAVED_RESPONSES)
async def get_saved(session: SessionDep, principal: AdminDep, query_id: SavedId) -> SavedPublic:
    row = await store.get_query(
        session, query_id, tenant=principal.tenant, actor=principal.actor, role=principal.role
    )
    if row is None:
        raise not_found("saved query")
    return _public(row)


@router.delete(
    "/saved/{query_id}",
    status_code=204,
    responses={**SAVED_RESPONSES, 403: {"model": Problem, "description": "Not its owner"}},
)
async def delete_saved(session: SessionDep, principal: AdminDep, query_id: SavedId) -> Response:
    """Delete one of the caller's own saved queries."""
    row = await store.get_query(
        session, query_id, tenant=principal.tenant, actor=principal.actor, role=principal.role
    )
    if row is None:
        raise not_found("saved query")
    if row.owner != principal.actor:
        raise forbidden("only its owner deletes a saved query")
    await store.delete_query(session, query_id, tenant=principal.tenant, owner=principal.actor)
    return Response(status_code=204)
