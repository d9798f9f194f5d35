"""Problems found in submitted data, reported all at once with the path of each.

A submitter fixing a spec wants every problem in one go (HTTP 422 / CLI exit 2 list them
all), so validation never stops at the first one. Pydantic's own errors are converted
to the same shape, with paths written the way a person reads them: `scope.in[2]`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_validator


class Problem(BaseModel):
    path: str = Field(max_length=1000)
    message: str = Field(max_length=2000)
    # A stable rule id: the CAWS kernel's (`spec.schema.mode.development_removed`) where
    # CAWS has the rule, `agency.*` for our own; None for plain field errors.
    rule: str | None = Field(default=None, max_length=200)

    @field_validator("path", "message", mode="before")
    @classmethod
    def _fit(cls, value: Any, info: ValidationInfo) -> Any:
        # Problems are built from what people wrote (a 5 KB scope entry, a long YAML
        # key): shortened to fit, so that describing a problem can never become one.
        return _shortened(value, 1000 if info.field_name == "path" else 2000)

    def __str__(self) -> str:
        rule = f" [{self.rule}]" if self.rule else ""
        return f"{self.path or '<root>'}: {self.message}{rule}"


class GovernanceWarning(BaseModel):
    """Something a person should know about how their governance files were read: a v10
    mapping step, a scope entry that names no file, a waiver file that was set aside,
    where the policy came from. Warnings never refuse a task; they are shown with it."""

    rule: str = Field(max_length=200)
    message: str = Field(max_length=4000)
    # Where in the file (a field path as in Problem), and which file, when known.
    path: str = Field(default="", max_length=1000)
    file: str | None = Field(default=None, max_length=4096)

    @field_validator("path", "message", mode="before")
    @classmethod
    def _fit(cls, value: Any, info: ValidationInfo) -> Any:
        return _shortened(value, 1000 if info.field_name == "path" else 4000)

    def __str__(self) -> str:
        where = ":".join(p for p in (self.file or "", self.path) if p)
        return f"{where + ': ' if where else ''}{self.message} [{self.rule}]"


def _shortened(value: Any, limit: int) -> Any:
    if isinstance(value, str) and len(value) > limit:
        return value[: limit - 1] + "…"
    return value


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
