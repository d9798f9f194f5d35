"""`NAME=VALUE` parameters as a person types them (the CLI's --param, the page's lines)."""

from __future__ import annotations

import json
from typing import Any


class BadParam(ValueError):
    pass


def parse_param(text: str) -> tuple[str, Any]:
    """VALUE is read as JSON when it is a number, true/false/null or a quoted string, else
    as plain text (so `phase=failed` needs no quotes)."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise BadParam(f"{text!r}: expected NAME=VALUE")
    try:
        value = json.loads(raw)
    except ValueError:
        return name, raw
    return name, value if isinstance(value, str | int | float | bool) or value is None else raw


def parse_lines(text: str) -> dict[str, Any]:
    """One NAME=VALUE per line; blank lines skipped."""
    return dict(parse_param(line) for line in text.splitlines() if line.strip())
