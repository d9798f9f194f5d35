"""What the dashboard's live streams share: how long one lasts, how often it checks that
its user is still signed in, and the headers that keep proxies from buffering it."""

from __future__ import annotations

import time

from starlette.requests import Request

from api.ui.deps import sessions_of

# How often a stream checks that its session still holds (key revoked, expired).
RECHECK_S = 10.0
# A stream ends after this long; the browser's EventSource opens a new one.
STREAM_LIFETIME_S = 3600.0


def stream_headers() -> dict[str, str]:
    """Never cached, and not buffered by a proxy in front (nginx reads X-Accel-Buffering)."""
    return {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


async def still_signed_in(request: Request, checked: float) -> tuple[bool, float]:
    """(Is the stream's user still signed in?, when that was last asked): the session is
    checked again once RECHECK_S has passed since `checked`, not on every tick."""
    if time.monotonic() - checked < RECHECK_S:
        return True, checked
    return await sessions_of(request).user(request) is not None, time.monotonic()
