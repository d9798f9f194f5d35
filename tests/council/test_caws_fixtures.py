"""Every CAWS file shape, read as the CAWS kernel reads it: the fixtures of
tests/fixtures/caws_shapes (outcomes in its expected.yaml) and the real CAWS files of
tests/fixtures/caws."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from agency.caws_yaml import read_spec_text, read_waiver_text
from council.caws import merge_caws_spec
from council.validation import parse_task_spec
from tests.council.conftest import CAWS_DIR, COMPLETE_SPECS
from tests.council.factories import EXECUTION_FIELDS

SHAPES = Path(__file__).parents[1] / "fixtures" / "caws_shapes"
EXPECTED: dict[str, Any] = yaml.safe_load((SHAPES / "expected.yaml").read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED["specs"]))
def test_each_spec_shape_has_the_kernels_outcome(name: str) -> None:
    expected = EXPECTED["specs"][name]
    reading = read_spec_text((SHAPES / "specs" / name).read_text(), file=name)
    assert reading.version == expected["version"]
    assert (not reading.valid) == expected["refused"]
    assert sorted(p.rule for p in reading.problems) == sorted(expected["problems"])
    assert sorted(w.rule for w in reading.warnings) == sorted(expected["warnings"])
    for item in (*reading.problems, *reading.warnings):
        assert item.message  # every one says what is wrong, readable
    for warning in reading.warnings:
        assert warning.file == name


@pytest.mark.parametrize("name", sorted(EXPECTED["waivers"]))
def test_each_waiver_shape_has_the_kernels_outcome(name: str) -> None:
    expected = EXPECTED["waivers"][name]
    reading = read_waiver_text((SHAPES / "waivers" / name).read_text(), file=name)
    assert reading.waiver_id == expected["id"]
    assert reading.generation == expected["format"]
    assert [p.rule for p in reading.problems] == expected["problems"]
    assert [w.rule for w in reading.warnings] == expected["warnings"]
    assert reading.valid == (not expected["problems"])


@pytest.mark.parametrize(
    "name", [n for n, e in EXPECTED["specs"].items() if not e["refused"] and n != "PROSE-0001.yaml"]
)
def test_each_spec_that_is_read_makes_a_task(name: str) -> None:
    reading = read_spec_text((SHAPES / "specs" / name).read_text(), file=name)
    assert reading.governance is not None
    spec = parse_task_spec(merge_caws_spec(EXECUTION_FIELDS, reading.governance))
    assert spec.id == reading.spec_id
    assert spec.acceptance and all(c.id for c in spec.acceptance)


def test_a_v10_spec_reads_as_a_user_would_expect() -> None:
    reading = read_spec_text((SHAPES / "specs" / "v10-working-spec.yaml").read_text())
    assert reading.governance is not None
    spec = parse_task_spec(merge_caws_spec(EXECUTION_FIELDS, reading.governance))
    assert (spec.mode, spec.risk_tier) == ("feature", 2)  # type: feature; "T2"
    assert (spec.model_extra or {})["lifecycle_state"] == "active"  # status: active
    # Unnamed items get ids by position, a written id is kept, text becomes `then`.
    assert [c.id for c in spec.acceptance] == ["A1", "A7", "A3"]
    assert spec.acceptance[2].then == "The change comes with a test"
    assert spec.change_budget is not None
    assert (spec.change_budget.max_files, spec.change_budget.max_loc) == (5, 200)
    extra = spec.model_extra or {}
    assert extra["threats"] == ["a wrong multiplier"]  # no v11 home: kept, unused
    assert extra["non_functional"] == {
        "accessibility": ["not applicable"],
        "performance": ["constant time"],
    }
    assert extra["created_at"] == "2025-10-13T00:00:00.000Z"


def test_mixed_v10_acceptance_uses_the_v11_list_and_names_its_items() -> None:
    reading = read_spec_text((SHAPES / "specs" / "v10-mixed-acceptance.yaml").read_text())
    assert reading.governance is not None
    assert [c["id"] for c in reading.governance["acceptance"]] == ["A1"]
    assert "acceptance_criteria" not in reading.governance
    mixed = next(w for w in reading.warnings if w.path == "acceptance_criteria")
    assert "'acceptance' is used" in mixed.message


# ------------------------------------------------------------------- the real CAWS files
@pytest.mark.parametrize("name", COMPLETE_SPECS)
def test_real_v11_specs_are_valid(name: str) -> None:
    reading = read_spec_text((CAWS_DIR / "specs" / f"{name}.yaml").read_text())
    assert (reading.version, reading.problems) == ("v11", [])
    assert reading.governance is not None


def test_real_v10_spec_is_refused_as_cawss_migration_refuses_it() -> None:
    reading = read_spec_text((CAWS_DIR / "specs" / "test-feature.yaml").read_text())
    assert reading.version == "v10"
    assert {p.rule for p in reading.problems} == {
        "spec.migrate.blast_radius_modules_missing",
        "spec.migrate.scope_in_missing",
    }
    # The mapping steps that did apply are still said.
    assert "spec.migrate.mode_overridden_from_type" in {w.rule for w in reading.warnings}


def test_real_waivers_as_the_kernel_reads_them() -> None:
    migrated = read_waiver_text((CAWS_DIR / "waivers" / "WV-0001.yaml").read_text())
    assert migrated.valid and migrated.generation == "v11"
    bare_date = read_waiver_text((CAWS_DIR / "waivers" / "WV-2723.yaml").read_text())
    assert [p.rule for p in bare_date.problems] == ["waiver.schema.invalid_expiry"]
