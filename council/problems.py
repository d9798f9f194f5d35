"""Problems found in submitted data, reported all at once with the path of each.

A submitter fixing a spec wants every problem in one go (HTTP 422 / CLI exit 2 list them
all), so validation never stops at the first one. Pydantic's own errors are converted
to the same shape, with paths written the way a person reads them: `scope.in[2]`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import BaseModel, Field, ValidationError


class Problem(BaseModel):
    path: str = Field(max_length=1000)
    message: str = Field(max_length=2000)

    def __str__(self) -> str:
        return f"{self.path or '<root>'}: {self.message}"


class SpecInvalid(ValueError):
    """Raised with every problem found; str() lists them all, one per line."""

    what = "spec"

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        count = len(self.problems)
        head = f"invalid {self.what}: {count} problem{'s' if count != 1 else ''}"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])


def format_loc(loc: Iterable[int | str]) -> str:
    """('scope', 'in', 2) -> 'scope.in[2]'; ('acceptance', 0, 'id') -> 'acceptance[0].id'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def join_path(base: str, *loc: int | str) -> str:
    """Extend an already formatted path: join_path('scope.in', 2) -> 'scope.in[2]'."""
    rest = format_loc(loc)
    if not base:
        return rest
    if not rest:
        return base
    return base + rest if rest.startswith("[") else f"{base}.{rest}"


_MESSAGES = {
    # Pydantic's wording for these is terse; say what the submitter has to do.
    "missing": "is required but missing",
    "extra_forbidden": "is not a known field here",
}


def problems_from_validation_error(
    exc: ValidationError, *, prefix: str = "", messages: dict[str, str] | None = None
) -> list[Problem]:
    """Convert pydantic errors to Problems; `messages` overrides the text per formatted path."""
    problems: list[Problem] = []
    for err in exc.errors(include_url=False):
        path = join_path(prefix, *err["loc"])
        message = (messages or {}).get(path) or _MESSAGES.get(err["type"]) or err["msg"]
        problems.append(Problem(path=path, message=message))
    return problems


def dedupe(problems: Iterable[Problem]) -> list[Problem]:
    """Keep the first of identical (path, message) pairs, preserving order."""
    seen: set[tuple[str, str]] = set()
    out: list[Problem] = []
    for p in problems:
        key = (p.path, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out
