"""Alerts from the SLOs and their silences (docs/alerts.md).

`GET /api/v1/alerts` (viewer); `POST /api/v1/alerts/{id}/ack|resolve` (operator, with a
reason); `GET|POST /api/v1/silences`, `DELETE /api/v1/silences/{id}` (operator: it
expires the silence, whose row stays). Alerts are the service's, like the SLOs they
come from: every tenant's viewers see the same ones. A step that does not apply to the
alert's state answers 409 and says why.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from agency.alerts import silences as silence_store
from agency.alerts import store
from agency.db.alerts import AlertRow, SilenceRow
from agency.db.types import utcnow
from api.alert_schemas import (
    ActionBody,
    Alert,
    AlertList,
    AlertStateName,
    AlertTransitionPublic,
    Matcher,
    Silence,
    SilenceCreate,
    SilenceList,
)
from api.deps import OperatorDep, SessionDep, ViewerDep
from api.problems import FieldProblem, Problem, ProblemError, invalid, not_found

router = APIRouter(prefix="/api/v1", tags=["alerts"])

RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such alert or silence"},
    409: {"model": Problem, "description": "The step does not apply now; detail says why"},
}
AlertId = Annotated[int, Path(ge=1, le=2**62, description="An alert's id")]
SilenceId = Annotated[int, Path(ge=1, le=2**62, description="A silence's id")]


def refused(detail: str) -> ProblemError:
    return ProblemError(409, "alert-refused", "Alert step refused", detail)


async def _public(session: SessionDep, row: AlertRow, active: list[SilenceRow]) -> Alert:
    now = utcnow()
    transitions = await store.transitions_of(session, row.id)  # type: ignore[arg-type]
    return Alert(
        id=row.id,  # type: ignore[arg-type]
        fingerprint=row.fingerprint,
        slo=row.slo,
        severity=row.severity,
        state=row.state,  # type: ignore[arg-type]
        labels=row.labels,
        annotations=row.annotations,
        started_at=row.started_at,
        last_seen_at=row.last_seen_at,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        silenced_by=silence_store.silenced_by(active, row.labels, now)
        if row.state != "resolved"
        else [],
        transitions=[
            AlertTransitionPublic(
                at=t.at,
                actor=t.actor,
                action=t.action,
                state=t.state,
                reason=t.reason,
                notify=t.notify,
            )
            for t in transitions
        ],
    )


def silence_public(row: SilenceRow) -> Silence:
    now = utcnow()
    status = (
        "active"
        if silence_store.is_active(row, now)
        else "pending"
        if row.expired_at is None and row.starts_at > now
        else "expired"
    )
    return Silence(
        id=row.id,  # type: ignore[arg-type]
        matchers=[Matcher(**m) for m in row.matchers],  # type: ignore[arg-type]
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        created_by=row.created_by,
        reason=row.reason,
        created_at=row.created_at,
        expired_at=row.expired_at,
        expired_by=row.expired_by,
        status=status,  # type: ignore[arg-type]
    )


@router.get("/alerts", response_model=AlertList)
async def list_alerts(
    session: SessionDep,
    principal: ViewerDep,
    state: AlertStateName | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> AlertList:
    """Alerts, newest first, with their transitions and the silences muting them."""
    rows = await store.list_alerts(session, state=state, limit=limit)
    active = await silence_store.active_silences(session, utcnow())
    return AlertList(items=[await _public(session, r, active) for r in rows])


async def _step(session: SessionDep, alert_id: int, step: str, actor: str, reason: str) -> Alert:
    action = store.acknowledge if step == "ack" else store.resolve
    try:
        row = await action(session, alert_id, actor=actor, reason=reason)
    except store.UnknownAlert:
        raise not_found(f"alert {alert_id}") from None
    except store.AlertRefused as err:
        raise refused(str(err)) from None
    return await _public(session, row, await silence_store.active_silences(session, utcnow()))


@router.post("/alerts/{alert_id}/ack", response_model=Alert, responses=RESPONSES)
async def acknowledge_alert(
    session: SessionDep, principal: OperatorDep, alert_id: AlertId, body: ActionBody
) -> Alert:
    """A firing alert becomes acknowledged: it is no longer notified again until it
    resolves."""
    return await _step(session, alert_id, "ack", principal.actor, body.reason)


@router.post("/alerts/{alert_id}/resolve", response_model=Alert, responses=RESPONSES)
async def resolve_alert(
    session: SessionDep, principal: OperatorDep, alert_id: AlertId, body: ActionBody
) -> Alert:
    """An open alert is resolved by hand (webhooks told when they were told it fired).
    An SLO still burning opens a new alert at the next evaluation."""
    return await _step(session, alert_id, "resolve", principal.actor, body.reason)


@router.get("/silences", response_model=SilenceList)
async def list_silences(
    session: SessionDep,
    principal: ViewerDep,
    include_expired: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> SilenceList:
    """Silences, newest first: pending and active ones, and ended ones when asked."""
    rows = await silence_store.list_silences(session, include_ended=include_expired, limit=limit)
    return SilenceList(items=[silence_public(r) for r in rows])


@router.post("/silences", status_code=201, response_model=Silence, responses=RESPONSES)
async def create_silence(
    session: SessionDep, principal: OperatorDep, body: SilenceCreate
) -> Silence:
    """Mute the notifications of the alerts whose labels equal every matcher, from
    `starts_at` (default now) until `ends_at`."""
    now = utcnow()
    starts = body.starts_at or now
    problems: list[FieldProblem] = []
    if body.ends_at <= now:
        problems.append(FieldProblem(path="ends_at", message="must be in the future"))
    if body.ends_at <= starts:
        problems.append(FieldProblem(path="ends_at", message="must be after starts_at"))
    names = [m.name for m in body.matchers]
    for i, name in enumerate(names):
        if names.index(name) != i:
            problems.append(
                FieldProblem(path=f"matchers.{i}.name", message=f"{name} is matched twice")
            )
    if problems:
        raise invalid(problems)
    row = await silence_store.create_silence(
        session,
        matchers=[m.model_dump() for m in body.matchers],
        starts_at=starts,
        ends_at=body.ends_at,
        author=principal.actor,
        reason=body.reason,
        now=now,
    )
    return silence_public(row)


@router.delete("/silences/{silence_id}", response_model=Silence, responses=RESPONSES)
async def expire_silence(
    session: SessionDep, principal: OperatorDep, silence_id: SilenceId
) -> Silence:
    """Expire a silence now (its record stays): alerts it muted are notified again."""
    try:
        row = await silence_store.expire_silence(session, silence_id, actor=principal.actor)
    except silence_store.UnknownSilence:
        raise not_found(f"silence {silence_id}") from None
    except silence_store.SilenceRefused as err:
        raise refused(str(err)) from None
    return silence_public(row)
