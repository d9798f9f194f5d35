"""Signing in and out of the dashboard, and one-time sign-in links (api.ui.session)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, Field
from starlette.responses import RedirectResponse, Response

from api.auth import authenticate
from api.cookies import set_private_cookie
from api.problems import ProblemError
from api.ui.deps import FormDep, read_form, sessions_of, signed_in
from api.ui.render import UiRoute, page
from api.ui.session import (
    COOKIE,
    COOKIE_PATH,
    LINK_TTL_S,
    MAX_LINK_TTL_S,
    MIN_LINK_TTL_S,
    PRE_COOKIE,
    PRE_TTL_S,
    Sessions,
    safe_next,
    same_origin,
)

router = APIRouter(prefix=COOKIE_PATH, include_in_schema=False, route_class=UiRoute)
# The one route a program calls (with its API key): JSON in, JSON or problem+json out.
links_router = APIRouter(prefix=COOKIE_PATH, include_in_schema=False)


def _sign_in_page(
    request: Request, *, error: str | None = None, status: int = 200, next_url: str = ""
) -> Response:
    sessions = sessions_of(request)
    nonce = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(16)
    answer = page(
        request,
        "sign_in.html",
        None,
        status=status,
        title="Sign in",
        error=error,
        next_url=safe_next(next_url or request.query_params.get("next")),
        pre_token=sessions.pre_token(nonce),
    )
    set_private_cookie(answer, request, PRE_COOKIE, nonce, max_age=PRE_TTL_S, path=COOKIE_PATH)
    return answer


@router.get("/sign-in")
async def sign_in_page(request: Request) -> Response:
    user = await signed_in(request)
    if user is not None:
        request.state.ui_user = user
        return page(request, "signed_in.html", user, title="Signed in")
    return _sign_in_page(request)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    form = await read_form(request)
    sessions = sessions_of(request)
    next_url = safe_next(form.get("next"))
    nonce = request.cookies.get(PRE_COOKIE, "")
    if (
        not nonce
        or not same_origin(request)
        or not Sessions.same(form.get("csrf"), sessions.pre_token(nonce))
    ):
        return _sign_in_page(
            request,
            error="This sign-in form has expired or did not come from this dashboard; try again.",
            status=403,
            next_url=next_url,
        )
    state = request.app.state.agency
    link, raw_key = form.get("link").strip(), form.get("key").strip()
    row = None
    if link:
        key_id = sessions.links.redeem(link)
        if key_id is not None:
            row = await state.keys.row(key_id)
            row = row if row is not None and row.revoked_at is None else None
        error = "This sign-in link is unknown, was already used, or has expired."
    elif raw_key:
        row = await state.keys.verify(raw_key)
        error = "The API key is not valid (unknown, malformed or revoked)."
    else:
        error = "Paste an API key (or follow a one-time sign-in link)."
    if row is None:
        return _sign_in_page(request, error=error, status=401, next_url=next_url)
    value, max_age = sessions.issue(row)
    answer = RedirectResponse(next_url, status_code=303)
    set_private_cookie(answer, request, COOKIE, value, max_age=max_age, path=COOKIE_PATH)
    answer.delete_cookie(PRE_COOKIE, path=COOKIE_PATH)
    return answer


@router.post("/sign-out")
async def sign_out(request: Request, _form: FormDep) -> Response:
    answer = RedirectResponse(f"{COOKIE_PATH}/sign-in", status_code=303)
    answer.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")
    return answer


class LinkRequest(BaseModel):
    ttl_s: int = Field(default=LINK_TTL_S, ge=MIN_LINK_TTL_S, le=MAX_LINK_TTL_S)


class LinkAnswer(BaseModel):
    path: str = Field(description="The sign-in page with the token in its fragment")
    expires_at: datetime
    ttl_s: int


@links_router.post("/sign-in/links", status_code=201)
async def make_link(
    request: Request, body: Annotated[LinkRequest | None, Body()] = None
) -> LinkAnswer:
    """A one-time sign-in link for the calling key (sent as an API request is)."""
    principal = await authenticate(request)
    if principal.key_id is None:
        raise ProblemError(403, "forbidden", "Not allowed", "this key cannot sign in")
    wanted = body or LinkRequest()
    token, expires = sessions_of(request).links.mint(principal.key_id, wanted.ttl_s)
    return LinkAnswer(
        path=f"{COOKIE_PATH}/sign-in#link={token}",
        expires_at=datetime.fromtimestamp(expires, UTC),
        ttl_s=wanted.ttl_s,
    )
