"""parse_task_spec with CAWS v11 vocabulary: kernel waiver ids, scope.support, a v10
change_budget, and the server's warnings."""

from __future__ import annotations

import json

import pytest

from council.policy import parse_policy, policy_from_tier_policy
from council.problems import SpecInvalid
from council.validation import parse_task_spec
from tests.council.factories import spec_data
from tests.council.test_caws_fixtures import SHAPES


def test_waiver_ids_follow_the_kernels_pattern() -> None:
    ids = ["WV-0001", "CAWS-HOOKPACK-UPGRADE-RETROFIT-001-SCOPE-CONCURRENCY-01", "FEAT-12a"]
    assert parse_task_spec(spec_data(waiver_ids=ids)).waiver_ids == ids
    with pytest.raises(SpecInvalid) as info:
        parse_task_spec(spec_data(waiver_ids=["WV-0001", "wv_1", "FEAT-1ab"]))
    found = {p.path: p for p in info.value.problems}
    assert set(found) == {"waiver_ids[1]", "waiver_ids[2]"}
    assert found["waiver_ids[1]"].rule == "waiver.schema.invalid_id"


def test_scope_support_and_change_budget_are_read() -> None:
    spec = parse_task_spec(
        spec_data(
            scope={"in": ["src/"], "support": ["CHANGELOG.md"]},
            change_budget={"max_files": 3, "max_loc": 90},
        )
    )
    assert spec.scope.admitted() == ["src/", "CHANGELOG.md"]
    assert spec.change_budget is not None and spec.change_budget.max_files == 3
    with pytest.raises(SpecInvalid) as info:
        parse_task_spec(spec_data(change_budget={"max_files": -1, "max_loc": 1, "x": 1}))
    assert {p.path for p in info.value.problems} == {"change_budget.max_files", "change_budget.x"}
    with pytest.raises(SpecInvalid) as info:
        parse_task_spec(spec_data(scope={"in": ["src/"], "support": ["../elsewhere"]}))
    assert [p.path for p in info.value.problems] == ["scope.support[0]"]


def test_warnings_are_kept_with_the_spec() -> None:
    warning = {"rule": "agency.scope.prose_entry", "message": "prose", "path": "scope.in[0]"}
    spec = parse_task_spec(spec_data(warnings=[warning]))
    assert spec.warnings[0].rule == "agency.scope.prose_entry"
    assert spec.model_dump(mode="json")["warnings"][0]["file"] is None


def test_the_older_tier_policy_json_gives_budgets_and_keeps_the_rest() -> None:
    raw = json.loads((SHAPES / "policy" / "tier-policy.json").read_text())
    policy = parse_policy(policy_from_tier_policy(raw))
    assert (policy.budget(1).max_files, policy.budget(1).max_loc) == (40, 1500)
    assert policy.budget(3).max_files == 1
    assert (policy.risk_tiers["1"].model_extra or {})["allowed_modes"] == [
        "feature",
        "refactor",
        "fix",
    ]
    assert policy.risk_tiers["1"].description == "Critical"
