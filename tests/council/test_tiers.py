"""Risk tiers in CAWS spellings."""

from __future__ import annotations

from typing import Any

import pytest

from council.tiers import parse_tier


@pytest.mark.parametrize(
    ("value", "tier"), [(1, 1), ("1", 1), ("T2", 2), ("t3", 3), (" T 2 ", 2), (2.0, 2)]
)
def test_recognised(value: Any, tier: int) -> None:
    assert parse_tier(value) == tier


@pytest.mark.parametrize("value", [0, 4, "T4", "tier", None, True, 2.5, [1]])
def test_not_a_tier(value: Any) -> None:
    assert parse_tier(value) is None
