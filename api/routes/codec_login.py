"""/codec/login: a browser hands its operator key to the codec once, as a cookie, so that
the Temporal web UI can decode payloads (api/codec_auth.py says why a cookie).

GET shows a one-field form; POST checks the key (operator or admin) and sets the cookie
for /codec paths only, for COOKIE_MAX_AGE_S. POST /codec/logout removes it. Not part of
the documented JSON API: these are pages for a person with a browser.
"""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.auth import authenticate_key
from api.codec_auth import CODEC_COOKIE, CODEC_ROLE
from api.codec_cors import CODEC_PREFIX
from api.cookies import set_private_cookie
from api.problems import ProblemError, forbidden

router = APIRouter(prefix=CODEC_PREFIX, include_in_schema=False)

COOKIE_MAX_AGE_S = 8 * 3600
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Agent Agency codec</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>Payload codec for the Temporal UI</h1>
<p>{message}</p>
<form method="post" action="{prefix}/login">
<label>API key ({role} or admin): <input type="password" name="key" autocomplete="off"
 required size="60"></label> <button type="submit">Use in this browser</button>
</form>
<form method="post" action="{prefix}/logout"><button type="submit">Forget it</button></form>
</body></html>
"""


def _page(message: str, status: int = 200) -> HTMLResponse:
    body = PAGE.format(message=escape(message), prefix=CODEC_PREFIX, role=CODEC_ROLE)
    # The page itself is never to be framed by another site (clickjacking the form).
    headers = {"X-Frame-Options": "DENY", "Cache-Control": "no-store"}
    return HTMLResponse(body, status_code=status, headers=headers)


@router.get("/login")
async def login_page() -> HTMLResponse:
    return _page(
        "Enter an API key to let the Temporal UI in this browser decrypt payloads. "
        "In the UI's codec settings, set this API's /codec endpoint and turn on "
        "'include cross-origin credentials'."
    )


@router.post("/login")
async def login(request: Request) -> HTMLResponse:
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    key = (form.get("key") or [""])[0].strip()
    try:
        principal = await authenticate_key(request, key)
        if not principal.allows(CODEC_ROLE):
            raise forbidden(f"the codec needs the {CODEC_ROLE} role")
    except ProblemError as err:
        return _page(f"Refused: {err.problem.detail}", err.problem.status)
    answer = _page(f"This browser decodes payloads as {principal.actor} ({principal.role}).")
    set_private_cookie(
        answer, request, CODEC_COOKIE, key, max_age=COOKIE_MAX_AGE_S, path=CODEC_PREFIX
    )
    return answer


@router.post("/logout")
async def logout() -> HTMLResponse:
    answer = _page("This browser no longer holds a codec key.")
    answer.delete_cookie(CODEC_COOKIE, path=CODEC_PREFIX, httponly=True, samesite="strict")
    return answer
