"""caws_governance / merge_caws_spec: CAWS specs as the governance half of a task."""

from __future__ import annotations

import pytest

from council.caws import EXECUTION_FIELDS, caws_governance, merge_caws_spec
from council.problems import SpecInvalid
from tests.council.conftest import SPEC_NAMES, load_yaml


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_governance_keeps_every_caws_field(name: str) -> None:
    caws = load_yaml(f"specs/{name}.yaml")
    gov = caws_governance(caws)
    renamed = {"acceptance_criteria"}
    for key, value in caws.items():
        if key in renamed or key == "risk_tier":
            continue
        assert gov[key] == value


def test_governance_maps_caws_spellings() -> None:
    gov = caws_governance(load_yaml("specs/test-feature.yaml"))
    assert gov["risk_tier"] == 3
    assert gov["acceptance"] == []
    assert "acceptance_criteria" not in gov


def test_governance_prefers_acceptance_when_both_are_written() -> None:
    gov = caws_governance({"acceptance": [{"id": "A1"}], "acceptance_criteria": [{"id": "B"}]})
    assert gov["acceptance"] == [{"id": "A1"}]
    assert gov["acceptance_criteria"] == [{"id": "B"}]


def test_governance_maps_waivers_list_to_waiver_ids() -> None:
    assert caws_governance({"waivers": ["WV-0001"]})["waiver_ids"] == ["WV-0001"]
    assert caws_governance({"waivers": {"x": 1}})["waivers"] == {"x": 1}


def test_governance_leaves_unparseable_tier_for_validation_to_name() -> None:
    assert caws_governance({"risk_tier": "high"})["risk_tier"] == "high"


def test_governance_refuses_non_mapping() -> None:
    with pytest.raises(SpecInvalid):
        caws_governance("id: x")  # type: ignore[arg-type]


def test_merge_task_wins_for_execution_fields_caws_for_governance() -> None:
    task = {
        "id": "TASK-ID",
        "risk_tier": 3,
        "repo": "/r",
        "agent": {"argv": ["a"]},
        "gates": [{"name": "t", "argv": ["t"]}],
        "note": "from the task",
    }
    caws = {"id": "CAWS-1", "risk_tier": "T1", "gates": "caws says", "scope": {"in": ["x"]}}
    merged = merge_caws_spec(task, caws)
    assert merged["id"] == "CAWS-1"
    assert merged["risk_tier"] == 1
    assert merged["gates"] == task["gates"]
    assert merged["repo"] == "/r"
    assert merged["scope"] == {"in": ["x"]}
    assert merged["note"] == "from the task"


def test_merge_keeps_caws_execution_field_when_task_has_none() -> None:
    merged = merge_caws_spec({"repo": "/r"}, {"max_iterations": 5})
    assert merged["max_iterations"] == 5
    assert "max_iterations" in EXECUTION_FIELDS
