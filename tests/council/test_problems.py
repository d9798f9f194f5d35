"""Problem paths as people read them."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from council.problems import (
    Problem,
    SpecInvalid,
    dedupe,
    format_loc,
    join_path,
    problems_from_validation_error,
)


def test_format_loc() -> None:
    assert format_loc(("scope", "in", 2)) == "scope.in[2]"
    assert format_loc(("acceptance", 0, "id")) == "acceptance[0].id"
    assert format_loc(()) == ""


def test_join_path() -> None:
    assert join_path("risk_tiers", "1", "max_files") == "risk_tiers.1.max_files"
    assert join_path("gates", 0) == "gates[0]"
    assert join_path("", "a") == "a"
    assert join_path("a") == "a"


class _M(BaseModel):
    items: list[int]


def test_validation_error_conversion() -> None:
    try:
        _M.model_validate({"items": [1, "x"]})
    except ValidationError as exc:
        found = problems_from_validation_error(exc, prefix="agency")
    assert [p.path for p in found] == ["agency.items[1]"]


def test_dedupe_keeps_order() -> None:
    a, b = Problem(path="a", message="m"), Problem(path="b", message="m")
    assert dedupe([a, b, a]) == [a, b]


def test_singular_wording() -> None:
    assert "1 problem" in str(SpecInvalid([Problem(path="", message="x")]))
    assert "<root>: x" in str(SpecInvalid([Problem(path="", message="x")]))
