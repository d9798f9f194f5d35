"""Label values from a closed set: anything else is one fixed value.

A label whose values come from input (a method a client sends, a string a database row
holds) could otherwise grow a new time series per distinct value, without bound; every
series costs memory in this process and in Prometheus for as long as it exists.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, get_args

OTHER = "other"


def values_of(literal: Any) -> frozenset[str]:
    """The values of a `Literal[...]` type."""
    return frozenset(str(v) for v in get_args(literal))


def bounded(value: object, allowed: Iterable[str], other: str = OTHER) -> str:
    """`value` as a label value when it is one of `allowed`, else `other`."""
    text = str(value)
    return text if text in allowed else other
