"""CORS for the /codec endpoints only: the Temporal web UI calls them from the browser.

One origin is allowed (AGENCY_TEMPORAL_UI_ORIGIN, by default the embedded UI), with
credentials, so that the UI can send cookies or an Authorization header. Every other
route of the API stays without CORS: no other web origin may call it from a browser.
Preflights from any other origin are refused (400, no CORS headers).
"""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

CODEC_PREFIX = "/codec"
# What the UI and the CLI send: the key, JSON, and the namespace of the payloads.
ALLOWED_HEADERS = ["Authorization", "Content-Type", "X-API-Key", "X-Namespace"]
PREFLIGHT_MAX_AGE_S = 600


class CodecCors:
    def __init__(self, app: ASGIApp, origin: str) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=[origin.rstrip("/")],
            allow_methods=["POST"],
            allow_headers=ALLOWED_HEADERS,
            allow_credentials=True,
            max_age=PREFLIGHT_MAX_AGE_S,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and (
            path == CODEC_PREFIX or path.startswith(CODEC_PREFIX + "/")
        ):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
