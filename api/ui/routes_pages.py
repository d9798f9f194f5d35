"""The overview (live tiles, 24 h charts) and the models, waivers and keys pages.

Every read and write goes through the API's route for it (api.ui.reuse), so roles are
the API's: anyone reads models and waivers, operators propose waivers, admins load and
swap models, approve and revoke waivers, and manage keys.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.responses import RedirectResponse, Response

from api.problems import FieldProblem, ProblemError, invalid
from api.routes.keys import KeyCreate
from api.routes.models import SwapRequest
from api.routes.streams import PING_INTERVAL_S
from api.routes.waivers import WaiverId
from api.ui import overview, present
from api.ui.deps import Form, FormDep, UserDep, sessions_of
from api.ui.render import UiRoute, page, render
from api.ui.reuse import (
    APPROVE_WAIVER,
    CREATE_KEY,
    CREATE_WAIVER,
    LIST_KEYS,
    LIST_MODELS,
    LIST_WAIVERS,
    LOAD_MODEL,
    REVOKE_KEY,
    REVOKE_WAIVER,
    SWAP_MODEL,
    body,
    invoke,
    require,
)
from api.ui.session import UiUser
from api.waiver_schemas import ApproveBody, GateName, ReasonCode, RevokeBody, WaiverCreate

router = APIRouter(prefix="/ui", include_in_schema=False, route_class=UiRoute)

KPI_INTERVAL_S = 2.0
STREAM_LIFETIME_S = 3600.0
RECHECK_S = 10.0
GATES = list(GateName.__args__)  # type: ignore[attr-defined]
REASON_CODES = list(ReasonCode.__args__)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- overview
@router.get("/")
async def overview_page(request: Request, user: UserDep) -> Response:
    tenant = user.principal.tenant
    tiles, series = await asyncio.gather(
        overview.tiles(request, tenant), overview.hourly(request, tenant)
    )
    return page(
        request,
        "overview.html",
        user,
        title="Overview",
        nav_current="overview",
        tiles=tiles,
        series=series,
        hours=[(datetime.fromtimestamp(x, UTC), i) for i, x in enumerate(series["x"])],
    )


@router.get("/overview/stream")
async def overview_stream(request: Request, user: UserDep) -> EventSourceResponse:
    return EventSourceResponse(
        _tiles(request, user), ping=PING_INTERVAL_S, headers={"Cache-Control": "no-store"}
    )


async def _tiles(request: Request, user: UiUser) -> AsyncIterator[ServerSentEvent]:
    started = checked = time.monotonic()
    last = ""
    while time.monotonic() - started < STREAM_LIFETIME_S:
        if time.monotonic() - checked >= RECHECK_S:
            if await sessions_of(request).user(request) is None:
                return
            checked = time.monotonic()
        try:
            tiles = await overview.tiles(request, user.principal.tenant)
        except Exception:  # a dependency is away: the tiles stay as they were
            tiles = None
        if tiles is not None:
            html = render("partials/tiles.html", tiles=tiles, present=present)
            if html != last:
                last = html
                yield ServerSentEvent(event="kpis", data=html)
        await asyncio.sleep(KPI_INTERVAL_S)


# ----------------------------------------------------------------------------- models
async def _models_page(
    request: Request, user: UiUser, *, result: Any = None, problem: Any = None, status: int = 200
) -> Response:
    listing = await invoke(LIST_MODELS, request, user.principal)
    return page(
        request,
        "models.html",
        user,
        status=status,
        title="Models",
        nav_current="models",
        listing=listing,
        can_admin=LOAD_MODEL.allows(user.principal),
        result=result,
        problem=problem,
    )


@router.get("/models")
async def models_page(request: Request, user: UserDep) -> Response:
    return await _models_page(request, user)


@router.post("/models/load")
async def load_model(request: Request, user: UserDep, form: FormDep) -> Response:
    name = form.get("name")
    if not name or len(name) > 200:
        raise invalid([FieldProblem(path="name", message="a model name is required")])
    try:
        info = await invoke(LOAD_MODEL, request, user.principal, name=name)
    except ProblemError as err:
        return await _models_page(request, user, problem=err.problem, status=err.problem.status)
    return await _models_page(request, user, result=f"Loaded {info.name}.")


@router.post("/models/swap")
async def swap_model(request: Request, user: UserDep, form: FormDep) -> Response:
    request_body = body(SwapRequest, {"name": form.get("name")})
    try:
        report = await invoke(SWAP_MODEL, request, user.principal, body=request_body)
    except ProblemError as err:
        return await _models_page(request, user, problem=err.problem, status=err.problem.status)
    return await _models_page(
        request,
        user,
        result=f"New requests now go to {report.current} (was {report.previous or 'none'}; "
        f"loaded in {report.load_s:.1f} s).",
    )


# ---------------------------------------------------------------------------- waivers
async def _waivers_page(
    request: Request,
    user: UiUser,
    *,
    problem: Any = None,
    status: int = 200,
    values: dict[str, Any] | None = None,
) -> Response:
    listing = await invoke(
        LIST_WAIVERS, request, user.principal, status=None, applies_to=None, limit=200
    )
    return page(
        request,
        "waivers.html",
        user,
        status=status,
        title="Waivers",
        nav_current="waivers",
        listing=listing,
        can_create=CREATE_WAIVER.allows(user.principal),
        can_decide=APPROVE_WAIVER.allows(user.principal),
        gates=GATES,
        reason_codes=REASON_CODES,
        problem=problem,
        values=values or {},
        done_text=request.query_params.get("done", "")[:200],
        default_expiry=(datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"),
    )


@router.get("/waivers")
async def waivers_page(request: Request, user: UserDep) -> Response:
    return await _waivers_page(request, user)


def _expiry(form: Form) -> str:
    """The form's local date and time, with the browser's offset (minutes east of UTC,
    set by the page's script; UTC without it), as ISO 8601."""
    text = form.get("expires_at")
    try:
        offset = int(form.get("tz_offset") or 0)
        local = datetime.fromisoformat(text)
    except ValueError:
        return text
    if local.tzinfo is None:
        local = local.replace(tzinfo=UTC) - timedelta(minutes=offset)
    return local.astimezone(UTC).isoformat()


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.replace("\n", ",").split(",") if p.strip()]


@router.post("/waivers")
async def create_waiver(request: Request, user: UserDep, form: FormDep) -> Response:
    values = {
        "title": form.get("title"),
        "reason": form.get("reason"),
        "reason_code": form.get("reason_code"),
        "gates": form.all("gates"),
        "applies_to": _split(form.get("applies_to")),
        "risk_owner": form.get("risk_owner"),
        "risk_tier": form.get("risk_tier") or None,
        "expires_at": _expiry(form),
        "delta": {
            "max_files": form.get("max_files") or 0,
            "max_loc": form.get("max_loc") or 0,
        },
    }
    try:
        created = await invoke(
            CREATE_WAIVER, request, user.principal, body=body(WaiverCreate, values)
        )
    except ProblemError as err:
        return await _waivers_page(
            request, user, problem=err.problem, status=err.problem.status, values=values
        )
    return RedirectResponse(f"/ui/waivers?done=created+{created.id}", status_code=303)


@router.post("/waivers/{waiver_id}/approve")
async def approve_waiver(
    request: Request, user: UserDep, form: FormDep, waiver_id: WaiverId
) -> Response:
    approval = body(ApproveBody, {"comment": form.get("comment")})
    try:
        done = await invoke(
            APPROVE_WAIVER, request, user.principal, waiver_id=waiver_id, body=approval
        )
    except ProblemError as err:
        return await _waivers_page(request, user, problem=err.problem, status=err.problem.status)
    return RedirectResponse(f"/ui/waivers?done=approved+{done.id}", status_code=303)


@router.post("/waivers/{waiver_id}/revoke")
async def revoke_waiver(
    request: Request, user: UserDep, form: FormDep, waiver_id: WaiverId
) -> Response:
    revoke = body(RevokeBody, {"reason": form.get("reason")})
    require(REVOKE_WAIVER, user.principal)
    if form.get("confirm") != "yes":
        return page(
            request,
            "confirm.html",
            user,
            title=f"Revoke waiver {waiver_id}?",
            nav_current="waivers",
            action=f"/ui/waivers/{waiver_id}/revoke",
            question=f"Revoke waiver {waiver_id}? Tasks citing it will be refused.",
            fields={"reason": revoke.reason},
            button="Revoke the waiver",
            back="/ui/waivers",
        )
    try:
        done = await invoke(
            REVOKE_WAIVER, request, user.principal, waiver_id=waiver_id, body=revoke
        )
    except ProblemError as err:
        return await _waivers_page(request, user, problem=err.problem, status=err.problem.status)
    return RedirectResponse(f"/ui/waivers?done=revoked+{done.id}", status_code=303)


# ------------------------------------------------------------------------------- keys
async def _keys_page(
    request: Request,
    user: UiUser,
    *,
    problem: Any = None,
    status: int = 200,
    created: Any = None,
) -> Response:
    show_all = request.query_params.get("all") == "1"
    listing = await invoke(LIST_KEYS, request, user.principal, include_revoked=show_all)
    return page(
        request,
        "keys.html",
        user,
        status=status,
        title="API keys",
        nav_current="keys",
        listing=listing,
        show_all=show_all,
        problem=problem,
        created=created,
        roles=["viewer", "operator", "admin"],
        done_text=request.query_params.get("done", "")[:200],
    )


@router.get("/keys")
async def keys_page(request: Request, user: UserDep) -> Response:
    return await _keys_page(request, user)


@router.post("/keys")
async def create_key(request: Request, user: UserDep, form: FormDep) -> Response:
    try:
        created = await invoke(
            CREATE_KEY,
            request,
            user.principal,
            body=body(KeyCreate, {"name": form.get("name"), "role": form.get("role")}),
        )
    except ProblemError as err:
        return await _keys_page(request, user, problem=err.problem, status=err.problem.status)
    # The one place the new key appears (the answer is never stored: no-store).
    return await _keys_page(request, user, created=created, status=201)


@router.post("/keys/{key_id}/revoke")
async def revoke_key(
    request: Request,
    user: UserDep,
    form: FormDep,
    key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{12}$")],
) -> Response:
    require(REVOKE_KEY, user.principal)
    if form.get("confirm") != "yes":
        own = key_id == user.principal.key_id
        return page(
            request,
            "confirm.html",
            user,
            title=f"Revoke key aa_{key_id}?",
            nav_current="keys",
            action=f"/ui/keys/{key_id}/revoke",
            question=f"Revoke key aa_{key_id}? Its next request is refused"
            + (
                " — this is the key you are signed in with: this ends your session." if own else "."
            ),
            fields={},
            button="Revoke the key",
            back="/ui/keys",
        )
    try:
        revoked = await invoke(REVOKE_KEY, request, user.principal, key_id=key_id)
    except ProblemError as err:
        return await _keys_page(request, user, problem=err.problem, status=err.problem.status)
    return RedirectResponse(f"/ui/keys?done=revoked+{revoked.prefix}", status_code=303)
