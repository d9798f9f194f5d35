"""Who is signed in to the dashboard: a session cookie made from an API key, CSRF tokens,
and one-time sign-in links.

A browser cannot send our API key itself (every page load, every EventSource, every
WebSocket would need it in a header), so `/ui/sign-in` exchanges a key for a session:

- The cookie `agency_ui` holds `<key id>.<session id>.<expiry>.<mac>`: never the key.
  The MAC (HMAC-SHA256 under the dashboard's secret, below) covers the key id, the
  session id, the expiry and the key's stored hash, so the cookie cannot be forged or
  moved to another key. Every request checks the MAC and the expiry, then reads the key
  row as API requests do: a revoked key ends every session made from it at the next
  request. The principal (name, role, tenant) is the key's, exactly as in the API.
- The cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's page
  sends it), Path=/ui, Secure when the page was served over TLS, and expires after
  SESSION_TTL_S (also enforced by the MAC'd expiry, whatever the browser keeps).
- Every form carries a CSRF token: a MAC of the session id, checked in constant time on
  every POST, together with the Origin (or Sec-Fetch-Site) a browser sends. The sign-in
  form, before any session exists, uses a nonce cookie of its own the same way.
- One-time links (`agency ui`, `agency up`): a client with a key asks
  `POST /ui/sign-in/links` (the key in its Authorization header) for a link; the API
  keeps only the SHA-256 of a random 256-bit token, with the key id and a short expiry
  (LINK_TTL_S, at most MAX_LINK_TTL_S), in this process's memory. The token travels in
  the URL's fragment (`/ui/sign-in#link=…`), which browsers never send to a server, so
  it reaches no access log or Referer; the page posts it once, and redeeming removes it:
  a second use, a use after the expiry, or a use on another API process finds nothing.

The dashboard's secret: AGENCY_UI_SESSION_SECRET, else the file
AGENCY_UI_SESSION_SECRET_FILE, else `<data dir>/ui-session.key` (32 random bytes,
created mode 0600 on first use; every process of `agency up` shares it). Several API
processes behind one address need the same secret. Changing it signs everyone out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.requests import HTTPConnection

from agency.admin_key import write_secret_file
from agency.db import keys
from agency.settings import Settings
from api.auth import Principal

log = logging.getLogger("agency.api.ui")

COOKIE = "agency_ui"
PRE_COOKIE = "agency_ui_pre"
COOKIE_PATH = "/ui"
SESSION_TTL_S = 8 * 3600
PRE_TTL_S = 3600
LINK_TTL_S = 120
MIN_LINK_TTL_S = 10
MAX_LINK_TTL_S = 900
# Links not yet used that one process keeps at most (each is a few hundred bytes).
MAX_PENDING_LINKS = 1000
SECRET_FILE = "ui-session.key"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
KEY_ID = re.compile(rf"[0-9a-f]{{{keys.ID_HEX_DIGITS}}}")


class UiSettings(BaseSettings):
    """The dashboard's own settings (AGENCY_UI_*)."""

    model_config = SettingsConfigDict(env_prefix="AGENCY_UI_", extra="ignore")

    session_secret: SecretStr | None = None
    session_secret_file: Path | None = None
    session_ttl_s: int = SESSION_TTL_S


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def load_secret(settings: Settings, ui: UiSettings) -> bytes:
    """The MAC key of cookies and CSRF tokens (see the module docstring)."""
    if ui.session_secret is not None and ui.session_secret.get_secret_value():
        return hashlib.sha256(ui.session_secret.get_secret_value().encode()).digest()
    path = ui.session_secret_file or settings.resolved_data_dir / SECRET_FILE
    try:
        raw = path.read_bytes().strip()
        if len(raw) >= 32:
            return hashlib.sha256(raw).digest()
    except FileNotFoundError:
        pass
    except OSError as err:
        log.warning("cannot read the dashboard secret %s: %s", path, err)
    if ui.session_secret_file is not None:
        raise RuntimeError(f"AGENCY_UI_SESSION_SECRET_FILE {path} holds no usable secret")
    raw = _b64(secrets.token_bytes(32)).encode()
    try:
        write_secret_file(path, raw.decode() + "\n")
        # Another process may have written its own first: use whatever the file holds.
        raw = path.read_bytes().strip()
    except OSError as err:
        # Sessions then last as long as this process (a restart signs everyone out).
        log.warning("cannot write the dashboard secret %s (%s); using a per-process one", path, err)
    return hashlib.sha256(raw).digest()


@dataclass
class LinkStore:
    """One-time sign-in tokens of this process: sha256(token) -> (key id, expiry)."""

    pending: dict[str, tuple[str, float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def mint(self, key_id: str, ttl_s: int) -> tuple[str, float]:
        token = _b64(secrets.token_bytes(32))
        expires = time.time() + ttl_s
        with self.lock:
            now = time.time()
            for digest, (_, until) in list(self.pending.items()):
                if until <= now:
                    del self.pending[digest]
            if len(self.pending) >= MAX_PENDING_LINKS:
                # The oldest goes: a flood of links cannot grow memory without bound.
                oldest = min(self.pending, key=lambda d: self.pending[d][1])
                del self.pending[oldest]
            self.pending[hashlib.sha256(token.encode()).hexdigest()] = (key_id, expires)
        return token, expires

    def redeem(self, token: str) -> str | None:
        """The key id the token was minted for, once; None when unknown, used or expired."""
        digest = hashlib.sha256(token.strip().encode()).hexdigest()
        with self.lock:
            found = self.pending.pop(digest, None)
        if found is None or found[1] <= time.time():
            return None
        return found[0]


@dataclass(frozen=True)
class UiUser:
    """A signed-in dashboard user: the key's principal, the session and its CSRF token."""

    principal: Principal
    session_id: str
    csrf: str
    expires: int


@dataclass
class Sessions:
    secret: bytes
    ttl_s: int = SESSION_TTL_S
    links: LinkStore = field(default_factory=LinkStore)

    def _mac(self, *parts: str) -> str:
        message = "\x1f".join(parts).encode()
        return _b64(hmac.new(self.secret, message, hashlib.sha256).digest())

    # ----------------------------------------------------------------- sessions
    def issue(self, row: Any) -> tuple[str, int]:
        """A cookie value for key row `row`, and its lifetime in seconds."""
        session_id = _b64(secrets.token_bytes(16))
        expires = int(time.time()) + self.ttl_s
        mac = self._mac("session", row.id, session_id, str(expires), row.hash)
        return f"{row.id}.{session_id}.{expires}.{mac}", self.ttl_s

    async def user(self, connection: HTTPConnection) -> UiUser | None:
        """The signed-in user of this request, or None (no cookie, a bad or expired one,
        or a key that is revoked)."""
        value = connection.cookies.get(COOKIE)
        if not value:
            return None
        parts = value.split(".")
        if len(parts) != 4 or not parts[2].isdigit():
            return None
        key_id, session_id, expires, mac = parts
        if int(expires) <= time.time() or not KEY_ID.fullmatch(key_id):
            return None
        state = connection.app.state.agency
        row = await state.keys.row(key_id)
        if row is None or row.revoked_at is not None:
            return None
        expected = self._mac("session", key_id, session_id, expires, row.hash)
        if not hmac.compare_digest(mac, expected):
            return None
        principal = Principal(
            actor=row.name,
            tenant=row.tenant,
            role=row.role,
            key_id=row.id,
            key_prefix=row.prefix,
        )
        return UiUser(principal, session_id, self.csrf_for(session_id), int(expires))

    # --------------------------------------------------------------------- CSRF
    def csrf_for(self, session_id: str) -> str:
        return self._mac("csrf", session_id)

    def pre_token(self, nonce: str) -> str:
        return self._mac("pre", nonce)

    @staticmethod
    def same(presented: str | None, expected: str) -> bool:
        return bool(presented) and hmac.compare_digest(str(presented), expected)


def same_origin(connection: HTTPConnection) -> bool:
    """Whether the browser says the request comes from our own pages. Browsers send
    Origin on POSTs and WebSockets, and Sec-Fetch-Site on every request; a request with
    neither (a non-browser client) is judged by its CSRF token alone."""
    site = connection.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = connection.headers.get("origin")
    if origin is None:
        return True
    scheme = {"ws": "http", "wss": "https"}.get(connection.url.scheme, connection.url.scheme)
    host = connection.headers.get("host", "")
    return origin == f"{scheme}://{host}"


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a dashboard path of ours, nothing else."""
    if (
        target
        and target.startswith(COOKIE_PATH + "/")
        and not target.startswith("//")
        and "\\" not in target
        and not any(ord(c) < 32 for c in target)
    ):
        return target
    return COOKIE_PATH + "/"
