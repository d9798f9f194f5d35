"""Canonical JSON: the exact bytes that are hashed and signed.

Keys sorted, no insignificant whitespace, UTF-8, no NaN or infinity. For the values a
provenance record holds (strings, integers, booleans, null, and floats such as scores)
this is the form of RFC 8785 (JCS), so any JCS implementation reproduces the bytes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_sha256(value: Any) -> str:
    return sha256_hex(canonical_json(value))
