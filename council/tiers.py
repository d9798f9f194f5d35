"""Risk tiers as CAWS writes them: 1, "1", "T1", "t1" all mean tier 1 (critical)."""

from __future__ import annotations

import re
from typing import Any

TIERS: tuple[int, ...] = (1, 2, 3)

_TIER = re.compile(r"^\s*[Tt]?\s*([1-3])\s*$")


def parse_tier(value: Any) -> int | None:
    """The tier number, or None when the value is not a recognisable tier."""
    if isinstance(value, bool):  # bool is an int subclass; True is not a tier
        return None
    if isinstance(value, int):
        return value if value in TIERS else None
    if isinstance(value, float) and value.is_integer():
        return parse_tier(int(value))
    if isinstance(value, str):
        match = _TIER.match(value)
        return int(match.group(1)) if match else None
    return None
