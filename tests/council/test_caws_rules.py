"""The CAWS kernel's rules one at a time: v10 detection and mapping, v11 shape and
semantics, scope entries naming no path, YAML as CAWS parses it."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from agency.caws_yaml import load_core_yaml, read_spec_text
from council.caws import RepoTree, detect_spec_version, migrate_v10, read_spec, scope_findings
from council.caws.spec_semantics import spec_semantic_problems
from council.caws.spec_shape import spec_shape_problems
from council.problems import SpecInvalid
from council.validation import parse_task_spec
from tests.council.factories import spec_data


def v11(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "FEAT-12",
        "title": "A spec",
        "risk_tier": 3,
        "mode": "feature",
        "lifecycle_state": "active",
        "blast_radius": {"modules": ["src"]},
        "scope": {"in": ["src/"]},
        "invariants": ["x"],
        "acceptance": [{"id": "A1", "given": "a", "when": "b", "then": "c"}],
        "non_functional": {},
        "contracts": [],
    }
    data.update(overrides)
    return data


def rules_of(data: dict[str, Any]) -> list[str | None]:
    return [p.rule for p in spec_shape_problems(data)]


# ------------------------------------------------------------------------ detection
@pytest.mark.parametrize(
    ("data", "version"),
    [
        ({"status": "active", "mode": "feature"}, "v10"),  # any v10 marker wins
        ({"acceptance_criteria": [], "lifecycle_state": "draft"}, "v10"),
        ({"type": "feature", "id": "X-1"}, "v10"),  # type alone, no v11 marker
        ({"type": "feature", "mode": "feature"}, "v11"),  # type beside a v11 marker
        ({"lifecycle_state": "draft"}, "v11"),
        ({"acceptance": []}, "v11"),
        ({"id": "X-1", "title": "t"}, "unknown"),
        (["not", "a", "mapping"], "unknown"),
    ],
)
def test_version_detected_as_the_kernel_detects_it(data: Any, version: str) -> None:
    assert detect_spec_version(data) == version


# ------------------------------------------------------------------------ migration
def test_equal_v10_and_v11_values_rename_without_conflict() -> None:
    migration = migrate_v10(
        {**v11(), "status": "active", "lifecycle_state": "active", "mode": "feature"}
    )
    assert migration.value["lifecycle_state"] == "active" and "status" not in migration.value
    assert not migration.report_only


def test_conflicting_v10_and_v11_values_keep_v11() -> None:
    migration = migrate_v10({**v11(), "status": "closed"})
    assert migration.value["lifecycle_state"] == "active"
    assert migration.report_only == {"status_dropped_because_lifecycle_state_present": "closed"}


def test_an_impossible_bare_date_is_left_for_the_schema() -> None:
    migration = migrate_v10({**v11(), "status": "draft", "created": "2026-02-30"})
    assert migration.value["created_at"] == "2026-02-30"
    assert "spec.migrate.created_at_coerced" not in {w.rule for w in migration.warnings}


def test_mode_and_type_disagreeing_keep_mode() -> None:
    migration = migrate_v10({**v11(mode="fix"), "status": "draft", "type": "feature"})
    assert migration.value["mode"] == "fix"
    assert "spec.migrate.mode_type_disagreement" in {w.rule for w in migration.warnings}
    assert migration.report_only["type"] == "feature"


def test_refusals_are_collected_all_at_once() -> None:
    migration = migrate_v10({"status": "draft"})
    assert {p.rule for p in migration.refusals} == {
        "spec.migrate.missing_id",
        "spec.migrate.missing_title",
        "spec.migrate.blast_radius_modules_missing",
        "spec.migrate.scope_in_missing",
        "spec.migrate.risk_tier_unresolvable",
        "spec.migrate.mode_unresolvable",
    }


def test_v10_waivers_list_becomes_waiver_ids_with_a_warning() -> None:
    reading = read_spec({**v11(), "status": "active", "waivers": ["WV-0001"]})
    assert reading.governance is not None
    assert reading.governance["waiver_ids"] == ["WV-0001"]
    assert "agency.migrate.waivers_list" in {w.rule for w in reading.warnings}


def test_a_malformed_change_budget_is_ignored_and_said_so() -> None:
    reading = read_spec({**v11(), "status": "active", "change_budget": {"max_files": "many"}})
    assert reading.governance is not None and "change_budget" not in reading.governance
    [kept] = [w for w in reading.warnings if w.rule == "agency.migrate.change_budget_kept"]
    assert "ignored" in kept.message


# ------------------------------------------------------------------------ v11 shape
def test_a_valid_v11_spec_has_no_problems() -> None:
    assert spec_shape_problems(v11()) == []
    assert spec_semantic_problems(v11()) == []


def test_removed_v10_fields_get_their_own_rules() -> None:
    # Reachable when a spec is checked as v11 directly (CAWS's `specs validate`).
    found = spec_shape_problems(v11(status="draft", acceptance_criteria=[]))
    assert {(p.path, p.rule) for p in found} == {
        ("status", "spec.schema.forbidden_field.status"),
        ("acceptance_criteria", "spec.schema.forbidden_field.acceptance_criteria"),
    }


@pytest.mark.parametrize(
    ("overrides", "rule"),
    [
        ({"risk_tier": 7}, "spec.schema.risk_tier.out_of_range"),
        ({"risk_tier": "2"}, "spec.schema.risk_tier.type_rejected"),
        ({"risk_tier": True}, "spec.schema.risk_tier.type_rejected"),
        ({"mode": "banana"}, "spec.schema.mode.development_removed"),
        ({"id": "FEAT"}, "spec.schema.id.pattern_violation"),
        (
            {"scope": {"in": ["src/"], "exclude": ["x"]}},
            "spec.schema.forbidden_field.scope_exclude",
        ),
        ({"created_at": "2026-01-01"}, "spec.schema.violation"),  # no time, no zone
        (
            {"acceptance": [{"id": "AC-1", "given": "a", "when": "b", "then": "c"}]},
            "spec.schema.violation",
        ),
        ({"owner_team": "x"}, "spec.schema.violation"),
    ],
)
def test_each_shape_rule(overrides: dict[str, Any], rule: str) -> None:
    assert rules_of(v11(**overrides)) == [rule]


def test_dates_need_a_zone_and_real_values() -> None:
    assert rules_of(v11(created_at="2026-01-31T12:00:00Z")) == []
    assert rules_of(v11(created_at="2026-01-31T12:00:00+02:00")) == []
    assert rules_of(v11(created_at="2026-01-31T12:00:00")) == ["spec.schema.violation"]
    assert rules_of(v11(created_at="2026-02-30T12:00:00Z")) == ["spec.schema.violation"]


def test_semantics_run_only_on_a_valid_shape() -> None:
    reading = read_spec(v11(risk_tier=1, mode="feature", extra_field=1))
    assert [p.rule for p in reading.problems] == ["spec.schema.violation"]


def test_tier1_needs_contracts_observability_rollback_security() -> None:
    found = {p.rule for p in spec_semantic_problems(v11(risk_tier=1))}
    assert found == {
        "spec.semantic.tier1.contracts_required",
        "spec.semantic.tier1.observability_required",
        "spec.semantic.tier1.rollback_required",
        "spec.semantic.tier1.security_required",
    }
    chore = {p.rule for p in spec_semantic_problems(v11(risk_tier=2, mode="chore"))}
    assert chore == set()


def test_successor_rules() -> None:
    successors = [
        {"target_spec_id": "FEAT-12", "disposition": "declined"},
        {"target_spec_id": "FEAT-13", "disposition": "absorbed", "absorbed_by": "FEAT-13"},
        {"target_spec_id": "FEAT-13", "disposition": "required", "rationale": " "},
    ]
    found = {p.rule for p in spec_semantic_problems(v11(successors=successors))}
    assert found == {
        "spec.semantic.successor.declined_rationale_required",
        "spec.semantic.successor.self_reference",
        "spec.semantic.successor.absorbed_by_equals_target",
        "spec.semantic.successor.rationale_empty",
        "spec.semantic.successor.duplicate_target",
    }


def test_overbroad_out_is_by_path_segment_not_by_text() -> None:
    shadowed = v11(scope={"in": ["src/a/b.py"], "out": ["src/a/"]})
    assert [p.rule for p in spec_semantic_problems(shadowed)] == [
        "spec.semantic.scope.overbroad_out"
    ]
    sibling = v11(scope={"in": ["src/ab.py", "src/a"], "out": ["src/a"]})
    assert spec_semantic_problems(sibling) == []


def test_a_closed_spec_is_read_with_a_warning() -> None:
    reading = read_spec(v11(lifecycle_state="closed", resolution="completed"))
    assert reading.valid
    assert [w.rule for w in reading.warnings] == ["agency.spec.lifecycle_closed"]


# ------------------------------------------------------------------------ scope entries
TREE = RepoTree.of(["src/calc.py", "src/http/client.py", "tests/test_calc.py", "README.md"])


@pytest.mark.parametrize(
    ("entry", "found"),
    [
        ("src/", True),
        ("src", True),
        ("src/http/client.py", True),
        ("./README.md", True),
        ("**/*.py", True),
        ("src/**/*.py", True),
        ("docs/", False),
        ("src/*.rs", False),
        (".", True),
    ],
)
def test_tree_knows_what_an_entry_names(entry: str, found: bool) -> None:
    assert TREE.names_something(entry) is found


def test_prose_and_missing_paths_are_warnings() -> None:
    scope = {
        "in": ["src/", "src/new_module.py", "the retry helpers"],
        "out": ["other monorepo packages"],
    }
    problems, warnings = scope_findings(scope, TREE, base="main (abc1234)")
    assert problems == []
    assert [(w.path, w.rule) for w in warnings] == [
        ("scope.in[1]", "agency.scope.path_not_found"),
        ("scope.in[2]", "agency.scope.prose_entry"),
        ("scope.out[0]", "agency.scope.prose_entry"),
    ]
    assert "main (abc1234)" in warnings[0].message


def test_a_scope_in_of_prose_only_is_refused_saying_how_to_fix_it() -> None:
    problems, _ = scope_findings({"in": ["the HTTP client", "its tests"]}, None)
    [problem] = problems
    assert (problem.path, problem.rule) == ("scope.in", "agency.scope.in_names_no_path")
    assert "src/http/" in problem.message  # an example of what to write
    with pytest.raises(SpecInvalid) as info:
        parse_task_spec(spec_data(scope={"in": ["the HTTP client", "its tests"]}))
    assert "agency.scope.in_names_no_path" in {p.rule for p in info.value.problems}


def test_a_path_with_a_space_that_exists_is_not_prose() -> None:
    tree = RepoTree.of(["docs/release notes.md"])
    assert scope_findings({"in": ["docs/release notes.md"]}, tree) == ([], [])


# ------------------------------------------------------------------------ YAML as CAWS
def test_yaml_core_schema_keeps_dates_and_yes_no_as_text() -> None:
    data = load_core_yaml("created_at: 2026-01-05\nflag: no\non: yes\nreal: true\n")
    assert data == {"created_at": "2026-01-05", "flag": "no", "on": "yes", "real": True}


def test_yaml_duplicate_keys_are_refused() -> None:
    with pytest.raises(yaml.YAMLError):
        load_core_yaml("a: 1\na: 2\n")


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("", "spec.yaml.empty_document"),
        ("- a\n- b\n", "spec.yaml.not_an_object"),
        ("id: [unclosed\n", "spec.yaml.parse_failed"),
    ],
)
def test_yaml_layer_rules(text: str, rule: str) -> None:
    assert [p.rule for p in read_spec_text(text).problems] == [rule]
