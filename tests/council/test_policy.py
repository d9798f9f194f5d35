"""parse_policy: the real CAWS policy.yaml, our defaults, our `agency:` knobs."""

from __future__ import annotations

from typing import Any

import pytest

from council.policy import (
    DEFAULT_FORBIDDEN_PATHS,
    DEFAULT_POLICY,
    Budget,
    Policy,
    PolicyInvalid,
    parse_policy,
)
from council.problems import SpecInvalid
from tests.council.conftest import load_yaml


def problem_paths(data: Any) -> set[str]:
    with pytest.raises(PolicyInvalid) as info:
        parse_policy(data)
    return {p.path for p in info.value.problems}


def test_real_caws_policy_parses(caws_policy: Policy) -> None:
    assert caws_policy.budget(1) == Budget(max_files=10, max_loc=250)
    assert caws_policy.budget(2) == Budget(max_files=100, max_loc=10_000)
    assert caws_policy.budget(3) == Budget(max_files=500, max_loc=40_000)
    assert caws_policy.min_approvers(2) == 2
    assert caws_policy.risk_tiers["1"].description == "Critical"
    assert caws_policy.gates["god_object"].thresholds == {"warning": 1750, "critical": 2000}
    assert caws_policy.edit_rules.require_signed_commits is True


def test_real_policy_gate_modes(caws_policy: Policy) -> None:
    assert caws_policy.gate_mode("budget_limit") == "block"
    assert caws_policy.gate_mode("todo_detection") == "warn"
    assert caws_policy.gate_mode("not_in_policy") == "block"


def test_disabled_gate_is_skipped() -> None:
    policy = parse_policy({"gates": {"lint": {"enabled": False, "mode": "block"}}})
    assert policy.gate_mode("lint") == "skip"


def test_default_policy_has_design_budgets() -> None:
    policy = parse_policy(DEFAULT_POLICY)
    budgets = {t: policy.budget(t) for t in (1, 2, 3)}
    assert budgets == {
        1: Budget(max_files=10, max_loc=250),
        2: Budget(max_files=100, max_loc=10_000),
        3: Budget(max_files=500, max_loc=40_000),
    }
    assert budgets == {t: Policy().budget(t) for t in (1, 2, 3)}


def test_agency_defaults() -> None:
    knobs = parse_policy({}).agency
    assert knobs.weights == {
        "constitutional": 0.4,
        "technical": 0.2,
        "quality": 0.2,
        "integration": 0.2,
    }
    assert knobs.thresholds == {1: 0.8, 2: 0.6, 3: 0.6}
    assert knobs.close_call_margin == 0.1
    assert knobs.sandbox_network is False
    assert knobs.model_assessment_vote is False
    for pattern in (".git/", ".github/workflows/", ".gitlab-ci.yml", ".ci/", ".env", "*.pem"):
        assert pattern in knobs.forbidden_paths
    assert parse_policy(DEFAULT_POLICY).agency == knobs
    assert tuple(knobs.forbidden_paths) == DEFAULT_FORBIDDEN_PATHS


def test_partial_agency_settings_keep_other_defaults() -> None:
    policy = parse_policy({"agency": {"weights": {"technical": 0.5}, "thresholds": {"T2": 0.7}}})
    assert policy.weight("technical") == 0.5
    assert policy.weight("constitutional") == 0.4
    assert policy.threshold(2) == 0.7
    assert policy.threshold(1) == 0.8


def test_partial_risk_tiers_keep_other_defaults() -> None:
    policy = parse_policy({"risk_tiers": {"T1": {"max_files": 3, "max_loc": 30}}})
    assert policy.budget(1) == Budget(max_files=3, max_loc=30)
    assert policy.budget(3) == Budget(max_files=500, max_loc=40_000)


def test_min_approvers_sources_in_order() -> None:
    older = {"edit_rules": {"min_approvers_for_budget_raise": 3}}
    assert parse_policy(older).min_approvers(2) == 3
    both = {**older, "waivers": {"min_approvers_for_budget_raise": 1}}
    assert parse_policy(both).min_approvers(2) == 1
    per_tier = {**both, "agency": {"min_approvers": {"1": 4}}}
    policy = parse_policy(per_tier)
    assert policy.min_approvers(1) == 4
    assert policy.min_approvers(3) == 1
    assert policy.min_approvers() == 4  # no tier: the strictest


def test_caws_extra_fields_kept() -> None:
    data = {**load_yaml("policy.yaml"), "non_governed_zones": ["research/**"], "custom": {"a": 1}}
    policy = parse_policy(data)
    assert policy.non_governed_zones == ["research/**"]
    assert policy.model_extra == {"custom": {"a": 1}}


def test_policy_problems_listed_together() -> None:
    data = {
        "risk_tiers": {"1": {"max_files": 0, "max_loc": "many"}},
        "gates": {"lint": {"enabled": True, "mode": "loud"}},
        "agency": {"close_call_margin": 2, "weigths": {}},
    }
    paths = problem_paths(data)
    assert {
        "risk_tiers.1.max_files",
        "risk_tiers.1.max_loc",
        "gates.lint.mode",
        "agency.close_call_margin",
        "agency.weigths",
    } <= paths


@pytest.mark.parametrize(
    "agency",
    [
        {"weights": {"quality": -1}},
        {"weights": dict.fromkeys(("constitutional", "technical", "quality", "integration"), 0)},
        {"thresholds": {"2": 1.5}},
        {"thresholds": {"T9": 0.5}},
        {"min_approvers": {"1": 0}},
    ],
)
def test_bad_agency_knobs_are_refused(agency: dict[str, Any]) -> None:
    assert any(p.startswith("agency.") for p in problem_paths({"agency": agency}))


def test_bad_tier_key_is_refused() -> None:
    assert "risk_tiers" in problem_paths({"risk_tiers": {"4": {"max_files": 1, "max_loc": 1}}})


def test_non_mapping_policy_is_one_root_problem() -> None:
    with pytest.raises(SpecInvalid) as info:  # PolicyInvalid is a SpecInvalid
        parse_policy("version: 1")  # type: ignore[arg-type]
    assert [p.path for p in info.value.problems] == [""]
    assert "invalid policy" in str(info.value)
