"""The alerts page: alerts and silences, with acknowledge, resolve, silence and expire
forms for operators (viewers see no buttons). Every action goes through the API's own
route (api.ui.reuse): the same role, validation and transition with its actor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from api.alert_schemas import ActionBody, SilenceCreate
from api.problems import FieldProblem, ProblemError, invalid
from api.routes.alerts import AlertId, SilenceId
from api.ui.deps import FormDep, UserDep
from api.ui.render import UiRoute, page
from api.ui.reuse import body, invoke, operation
from api.ui.session import UiUser

router = APIRouter(prefix="/ui", include_in_schema=False, route_class=UiRoute)

LIST_ALERTS = operation("GET", "/api/v1/alerts")
ACK_ALERT = operation("POST", "/api/v1/alerts/{alert_id}/ack")
RESOLVE_ALERT = operation("POST", "/api/v1/alerts/{alert_id}/resolve")
LIST_SILENCES = operation("GET", "/api/v1/silences")
CREATE_SILENCE = operation("POST", "/api/v1/silences")
EXPIRE_SILENCE = operation("DELETE", "/api/v1/silences/{silence_id}")


async def _alerts_page(
    request: Request,
    user: UiUser,
    *,
    problem: Any = None,
    status: int = 200,
    values: dict[str, Any] | None = None,
) -> Response:
    alerts = await invoke(LIST_ALERTS, request, user.principal, state=None, limit=200)
    silences = await invoke(
        LIST_SILENCES, request, user.principal, include_expired=False, limit=200
    )
    return page(
        request,
        "alerts.html",
        user,
        status=status,
        title="Alerts",
        nav_current="alerts",
        alerts=alerts.items,
        silences=silences.items,
        can_act=ACK_ALERT.allows(user.principal),
        problem=problem,
        values=values or {},
        done_text=request.query_params.get("done", "")[:200],
    )


@router.get("/alerts")
async def alerts_page(request: Request, user: UserDep) -> Response:
    return await _alerts_page(request, user)


async def _alert_step(
    request: Request, user: UiUser, form: Any, alert_id: int, step: str
) -> Response:
    op = ACK_ALERT if step == "ack" else RESOLVE_ALERT
    reason = body(ActionBody, {"reason": form.get("reason")})
    try:
        done = await invoke(op, request, user.principal, alert_id=alert_id, body=reason)
    except ProblemError as err:
        return await _alerts_page(request, user, problem=err.problem, status=err.problem.status)
    return RedirectResponse(f"/ui/alerts?done=alert+{done.id}+{done.state}", status_code=303)


@router.post("/alerts/{alert_id}/ack")
async def ack_alert(request: Request, user: UserDep, form: FormDep, alert_id: AlertId) -> Response:
    return await _alert_step(request, user, form, alert_id, "ack")


@router.post("/alerts/{alert_id}/resolve")
async def resolve_alert(
    request: Request, user: UserDep, form: FormDep, alert_id: AlertId
) -> Response:
    return await _alert_step(request, user, form, alert_id, "resolve")


@router.post("/silences")
async def create_silence(request: Request, user: UserDep, form: FormDep) -> Response:
    values = {
        "slo": form.get("slo").strip(),
        "severity": form.get("severity"),
        "hours": form.get("hours"),
        "reason": form.get("reason"),
    }
    matchers = [{"name": k, "value": values[k]} for k in ("slo", "severity") if values[k]]
    try:
        hours = float(values["hours"])
    except ValueError:
        hours = 0.0
    problems = []
    if not 0 < hours <= 720:
        problems.append(FieldProblem(path="hours", message="give a number of hours, up to 720"))
    if not matchers:
        problems.append(FieldProblem(path="slo", message="name an SLO, a severity or both"))
    try:
        if problems:
            raise invalid(problems)
        silence = body(
            SilenceCreate,
            {
                "matchers": matchers,
                "ends_at": (datetime.now(UTC) + timedelta(hours=hours)).isoformat(),
                "reason": values["reason"],
            },
        )
        made = await invoke(CREATE_SILENCE, request, user.principal, body=silence)
    except ProblemError as err:
        return await _alerts_page(
            request, user, problem=err.problem, status=err.problem.status, values=values
        )
    return RedirectResponse(f"/ui/alerts?done=silence+{made.id}+created", status_code=303)


@router.post("/silences/{silence_id}/expire")
async def expire_silence(
    request: Request, user: UserDep, form: FormDep, silence_id: SilenceId
) -> Response:
    try:
        done = await invoke(EXPIRE_SILENCE, request, user.principal, silence_id=silence_id)
    except ProblemError as err:
        return await _alerts_page(request, user, problem=err.problem, status=err.problem.status)
    return RedirectResponse(f"/ui/alerts?done=silence+{done.id}+expired", status_code=303)
