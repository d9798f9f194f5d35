"""Canonical JSON: the exact bytes that are hashed and signed.

Records are signed over RFC 8785 (JSON Canonicalization Scheme) bytes, made by the
`rfc8785` package: keys sorted by their UTF-16 code units, no insignificant whitespace,
UTF-8, numbers in ECMAScript's shortest form (1.0 is `1`, 1e-7 is `1e-7`), integers within
±2^53-1, no NaN or infinity. Any JCS implementation reproduces the bytes.

Records signed before this module used JCS were serialized by `json.dumps` with sorted
keys ("legacy"): the same bytes for strings, integers, booleans and null, but not for
floats such as `1.0` (a judge's confidence, a round's score). Their JWS header names no
canonical form, and verification checks them in the form they were signed in
(agency.provenance.signing), so their signatures and stored digests still hold.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

import rfc8785

CanonicalForm = Literal["jcs", "legacy"]
# The value of the JWS header parameter `canon` (signing.CANON_HEADER) on JCS records.
JCS_HEADER_VALUE = "RFC8785"


def canonical_json(value: Any, form: CanonicalForm = "jcs") -> bytes:
    """`value` as canonical JSON bytes; ValueError when JSON cannot hold it exactly."""
    if form == "legacy":
        return _legacy_json(value)
    return rfc8785.dumps(value)


def _legacy_json(value: Any) -> bytes:
    # Only for checking records signed in the old form; nothing new is made with it.
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_sha256(value: Any, form: CanonicalForm = "jcs") -> str:
    return sha256_hex(canonical_json(value, form))
