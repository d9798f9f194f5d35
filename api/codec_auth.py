"""Who may use /codec: an operator or admin key, sent as a header (the `temporal` CLI's
`--codec-auth 'Bearer <key>'`) or, for the Temporal web UI, in a cookie.

The UI calls the codec from the browser and cannot add our API key to its requests: it
sends cookies when its codec setting "include cross-origin credentials" is on. So
`/codec/login` (api/routes/codec_login.py) puts the key in a cookie that only /codec
paths receive (Path=/codec), never scripts (HttpOnly), and never requests from another
site (SameSite=Strict). The rest of the API takes no cookie.
"""

from __future__ import annotations

from starlette.requests import Request

from api.auth import Principal, authenticate_key, presented_key
from api.problems import forbidden

CODEC_COOKIE = "agency_codec_key"
CODEC_ROLE = "operator"


async def require_codec_user(request: Request) -> Principal:
    principal = await authenticate_key(
        request, presented_key(request) or request.cookies.get(CODEC_COOKIE)
    )
    if not principal.allows(CODEC_ROLE):
        raise forbidden(f"the codec needs the {CODEC_ROLE} role; the key is {principal.role}")
    return principal


# Read by api.openapi to document 401/403/429 and the security schemes.
require_codec_user.required_role = CODEC_ROLE  # type: ignore[attr-defined]
