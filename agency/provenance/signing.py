"""Signing a record as a compact JWS (EdDSA, kid in the header) and verifying one.

Verification never lets the token choose how it is checked: the header's `alg` must be
EdDSA before anything else happens, the key comes from the keystore by kid (and must
not be revoked), and PyJWT is told to accept EdDSA only. Every refusal names its reason.

The payload is RFC 8785 canonical JSON, and the header says so (`"canon": "RFC8785"`).
A token whose header names no canonical form was signed before records used JCS: its
payload must then be in the legacy form (agency.provenance.canonical). The header is
signed, so nobody can move a record from one form to the other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import jwt
from jwt.api_jws import PyJWS

from agency.provenance.canonical import JCS_HEADER_VALUE, CanonicalForm, canonical_json
from agency.provenance.keystore import Keystore, PublicKeyInfo, SigningKey, b64url_decode

ALGORITHM = "EdDSA"
# Media type of the payload (RFC 7515 `cty`); `typ` says this is a JOSE compact object.
CONTENT_TYPE = "agency-provenance+json"
TYPE = "JOSE"
# Private header parameter naming the payload's canonical form (absent: legacy).
CANON_HEADER = "canon"

Failure = Literal["malformed", "algorithm", "kid", "key_unknown", "key_revoked", "signature"]


class SignatureRejected(Exception):
    """A token that does not verify. `check` is "key" when the kid is the problem and
    "signature" otherwise; `code` is machine-readable, the message is for people."""

    def __init__(self, code: Failure, message: str) -> None:
        super().__init__(message)
        self.code: Failure = code
        self.check = "key" if code in ("kid", "key_unknown", "key_revoked") else "signature"


@dataclass(frozen=True)
class Verified:
    payload: dict[str, Any]
    key: PublicKeyInfo
    # The canonical form the payload was signed in: digests of it are taken in that form.
    form: CanonicalForm = "jcs"


def sign_record(record: dict[str, Any], key: SigningKey) -> str:
    return PyJWS().encode(
        canonical_json(record),
        key.private_key,
        algorithm=ALGORITHM,
        headers={"kid": key.kid, "typ": TYPE, "cty": CONTENT_TYPE, CANON_HEADER: JCS_HEADER_VALUE},
    )


def canonical_form(header: dict[str, Any]) -> CanonicalForm:
    """The canonical form a token's (protected) header declares for its payload."""
    if CANON_HEADER not in header:
        return "legacy"
    if header[CANON_HEADER] != JCS_HEADER_VALUE:
        raise SignatureRejected(
            "malformed", f"unknown canonical form {header[CANON_HEADER]!r} in the header"
        )
    return "jcs"


def unverified_header(token: str) -> dict[str, Any]:
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise SignatureRejected("malformed", "not a compact JWS (three dot-separated parts)")
    try:
        header = json.loads(b64url_decode(parts[0]))
    except ValueError as err:
        raise SignatureRejected("malformed", f"the JWS header is not JSON: {err}") from None
    if not isinstance(header, dict):
        raise SignatureRejected("malformed", "the JWS header is not a JSON object")
    return header


def unverified_payload(token: str) -> dict[str, Any] | None:
    """The payload without any check, for diagnostics only (what does a bad token say?)."""
    try:
        value = json.loads(b64url_decode(token.strip().split(".")[1]))
    except (ValueError, IndexError):
        return None
    return value if isinstance(value, dict) else None


def verify_token(token: str, keystore: Keystore) -> Verified:
    header = unverified_header(token)
    alg = header.get("alg")
    if alg != ALGORITHM:
        what = "an unsigned token" if str(alg).lower() == "none" else "not accepted"
        raise SignatureRejected(
            "algorithm", f"algorithm {alg!r} in the header is {what}: records are {ALGORITHM}"
        )
    if header.get("crit"):
        raise SignatureRejected("malformed", f"unsupported critical headers {header['crit']!r}")
    form = canonical_form(header)
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise SignatureRejected("kid", "the header names no kid")
    info = keystore.public_key(kid)
    if info is None:
        raise SignatureRejected("key_unknown", f"unknown kid {kid}: no such signing key")
    if info.status == "revoked":
        when = info.revoked_at.isoformat() if info.revoked_at else "an unknown time"
        why = f": {info.revoked_reason}" if info.revoked_reason else ""
        raise SignatureRejected("key_revoked", f"key {kid} was revoked at {when}{why}")
    try:
        decoded = PyJWS().decode_complete(
            token.strip(), key=info.public_key, algorithms=[ALGORITHM]
        )
    except jwt.InvalidSignatureError:
        raise SignatureRejected(
            "signature", f"the signature does not verify with key {kid}"
        ) from None
    except jwt.PyJWTError as err:
        raise SignatureRejected("malformed", f"the JWS cannot be decoded: {err}") from None
    raw: bytes = decoded["payload"]
    try:
        payload = json.loads(raw)
    except ValueError:
        raise SignatureRejected("malformed", "the signed payload is not JSON") from None
    if not isinstance(payload, dict) or not _is_canonical(payload, raw, form):
        raise SignatureRejected(
            "malformed", f"the signed payload is not a canonical JSON object ({form} form)"
        )
    return Verified(payload=payload, key=info, form=form)


def _is_canonical(payload: dict[str, Any], raw: bytes, form: CanonicalForm) -> bool:
    try:
        return canonical_json(payload, form) == raw
    except ValueError:  # e.g. an integer beyond what JCS allows
        return False
