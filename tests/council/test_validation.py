"""parse_task_spec: every problem at once, with paths; CAWS spellings accepted; extras kept."""

from __future__ import annotations

from typing import Any

import pytest

from council.caws import merge_caws_spec
from council.problems import Problem, SpecInvalid
from council.validation import parse_task_spec, scope_path_problems
from tests.council.conftest import COMPLETE_SPECS, load_yaml
from tests.council.factories import EXECUTION_FIELDS, spec_data


def problems_of(data: Any) -> dict[str, list[str]]:
    with pytest.raises(SpecInvalid) as info:
        parse_task_spec(data)
    by_path: dict[str, list[str]] = {}
    for p in info.value.problems:
        by_path.setdefault(p.path, []).append(p.message)
    return by_path


def test_valid_spec_parses() -> None:
    spec = parse_task_spec(spec_data())
    assert spec.id == "FEAT-0042"
    assert spec.scope.in_ == ["src/http/", "tests/"]
    assert spec.acceptance[0].id == "A1"


def test_non_mapping_is_one_problem_at_root() -> None:
    with pytest.raises(SpecInvalid) as info:
        parse_task_spec(["not", "a", "mapping"])  # type: ignore[arg-type]
    assert [p.path for p in info.value.problems] == [""]
    assert "mapping" in info.value.problems[0].message


def test_badly_broken_spec_lists_every_problem_at_once() -> None:
    data = {
        "id": "",
        "risk_tier": "high",
        "mode": "development",
        "scope": {"in": ["src/", "/etc/passwd", "../up", 7], "out": ["a\x00b"]},
        "acceptance": [{"id": "A1"}, {"id": "A1"}, {"given": "no id"}],
        "waiver_ids": ["WV-0001", "waiver-1"],
        "agent": {"argv": ["x"], "model": "m", "shell": True},
        "gates": [{"name": "t", "argv": ["a"]}, {"name": "t", "argv": []}],
        "max_iterations": 0,
    }
    found = problems_of(data)
    expected_paths = {
        "id",
        "title",
        "risk_tier",
        "mode",
        "repo",
        "scope.in[1]",
        "scope.in[2]",
        "scope.in[3]",
        "scope.out[0]",
        "acceptance[1].id",
        "acceptance[2].id",
        "waiver_ids[1]",
        "agent",
        "agent.prompt",
        "agent.shell",
        "gates[1].name",
        "gates[1].argv",
        "max_iterations",
    }
    assert expected_paths <= set(found), expected_paths - set(found)
    assert "scope.in[0]" not in found  # the valid entry is not blamed
    assert "waiver_ids[0]" not in found


def test_str_lists_all_problems() -> None:
    exc = SpecInvalid([Problem(path="a.b", message="one"), Problem(path="c[0]", message="two")])
    text = str(exc)
    assert "2 problems" in text
    assert "a.b: one" in text
    assert "c[0]: two" in text


@pytest.mark.parametrize(("written", "tier"), [("T1", 1), ("t2", 2), ("2", 2), (3, 3), ("T3", 3)])
def test_risk_tier_caws_spellings_normalised(written: Any, tier: int) -> None:
    assert parse_task_spec(spec_data(risk_tier=written)).risk_tier == tier


@pytest.mark.parametrize("written", ["T4", "0", "high", 4, True])
def test_risk_tier_out_of_range_is_named(written: Any) -> None:
    assert "risk_tier" in problems_of(spec_data(risk_tier=written))


def test_unknown_top_level_fields_are_kept() -> None:
    spec = parse_task_spec(spec_data(blast_radius={"modules": ["x"]}, lifecycle_state="draft"))
    assert spec.model_extra == {"blast_radius": {"modules": ["x"]}, "lifecycle_state": "draft"}


def test_acceptance_criteria_spelling_accepted() -> None:
    data = spec_data()
    data["acceptance_criteria"] = data.pop("acceptance")
    assert parse_task_spec(data).acceptance[0].id == "A1"


# --------------------------------------------------------------- semantic rules, one by one
def test_scope_in_empty_is_refused() -> None:
    assert "scope.in" in problems_of(spec_data(scope={"in": [], "out": []}))
    assert "scope.in" in problems_of(spec_data(scope={"out": ["x/"]}))


def test_scope_missing_is_refused() -> None:
    data = spec_data()
    del data["scope"]
    assert "scope" in problems_of(data)


@pytest.mark.parametrize(
    "entry", ["/abs/path", "\\\\server\\share", "C:\\x", "a/../b", "..", "x\x00y", " "]
)
def test_unsafe_scope_entries_are_refused(entry: str) -> None:
    assert scope_path_problems(entry)
    assert "scope.in[1]" in problems_of(spec_data(scope={"in": ["src/", entry]}))


@pytest.mark.parametrize("entry", ["src/", "src/a.py", ".", "**/*.py", "a..b/c", ".github/x"])
def test_safe_scope_entries_pass(entry: str) -> None:
    assert scope_path_problems(entry) == []


def test_acceptance_empty_is_refused() -> None:
    assert "acceptance" in problems_of(spec_data(acceptance=[]))
    data = spec_data()
    del data["acceptance"]
    assert "acceptance" in problems_of(data)


def test_duplicate_acceptance_ids_are_refused() -> None:
    found = problems_of(spec_data(acceptance=[{"id": "A1"}, {"id": "A2"}, {"id": "A1"}]))
    assert list(found) == ["acceptance[2].id"]
    assert "acceptance[0]" in found["acceptance[2].id"][0]


def test_unique_acceptance_ids_pass() -> None:
    assert len(parse_task_spec(spec_data(acceptance=[{"id": "A1"}, {"id": "A2"}])).acceptance) == 2


def test_duplicate_gate_names_are_refused() -> None:
    gates = [{"name": "tests", "argv": ["a"]}, {"name": "tests", "argv": ["b"]}]
    assert list(problems_of(spec_data(gates=gates))) == ["gates[1].name"]


def test_agent_needs_exactly_one_of_argv_or_model() -> None:
    assert "agent" in problems_of(spec_data(agent={"timeout_s": 5}))
    both = {"argv": ["x"], "model": "m", "prompt": "p"}
    assert list(problems_of(spec_data(agent=both))) == ["agent"]


def test_agent_model_requires_prompt() -> None:
    assert list(problems_of(spec_data(agent={"model": "smollm2"}))) == ["agent.prompt"]
    spec = parse_task_spec(spec_data(agent={"model": "smollm2", "prompt": "fix it"}))
    assert spec.agent.model == "smollm2"


def test_agent_argv_path_is_named() -> None:
    assert "agent.argv" in problems_of(spec_data(agent={"argv": []}))


def test_waiver_ids_must_look_like_caws_ids() -> None:
    found = problems_of(spec_data(waiver_ids=["WV-0001", "WV-12345", "WV-", "wv-0002"]))
    assert set(found) == {"waiver_ids[2]", "waiver_ids[3]"}


# ------------------------------------------------------------------- the real CAWS specs
@pytest.mark.parametrize("name", COMPLETE_SPECS)
def test_real_caws_specs_parse_and_keep_extras(name: str) -> None:
    caws = load_yaml(f"specs/{name}.yaml")
    spec = parse_task_spec(merge_caws_spec(EXECUTION_FIELDS, caws))
    assert spec.id == caws["id"]
    assert spec.scope.in_ == caws["scope"]["in"]
    assert [c.id for c in spec.acceptance] == [c["id"] for c in caws["acceptance"]]
    extra = spec.model_extra or {}
    for field in ("blast_radius", "lifecycle_state", "contracts", "non_functional"):
        assert extra[field] == caws[field]
    if "evidence" in caws:
        assert extra["evidence"] == caws["evidence"]


def test_incomplete_real_spec_is_refused_with_each_problem_named() -> None:
    caws = load_yaml("specs/test-feature.yaml")
    found = problems_of(merge_caws_spec(EXECUTION_FIELDS, caws))
    assert set(found) == {"scope", "acceptance", "mode"}
    assert "development" in found["mode"][0]
    assert "risk_tier" not in found  # "T3" is a CAWS spelling, not a problem


def test_commands_and_variables_the_system_cannot_pass_are_refused_each_named() -> None:
    data = spec_data(
        agent={"argv": ["python3", "a\x00b"], "env": {"BAD=NAME": "x", "OK": "a\x00b"}},
        gates=[{"name": "tests", "argv": ["pytest\x00"]}],
    )
    found = problems_of(data)
    assert found["agent.argv[1]"] == ["must not contain a NUL character"]
    assert "not a variable name" in found["agent.env.BAD=NAME"][0]
    assert found["agent.env.OK"] == ["must not contain a NUL character"]
    assert found["gates[0].argv[0]"] == ["must not contain a NUL character"]


def test_credentials_in_plain_agent_env_are_refused_with_the_way_to_pass_them() -> None:
    token = "ghp_" + "a1B2" * 10
    data = spec_data(agent={"argv": ["tool"], "env": {"API_TOKEN": "s3cr3t", "X": token}})
    found = problems_of(data)
    for name in ("API_TOKEN", "X"):
        [message] = found[f"agent.env.{name}"]
        assert "agent.secrets" in message and f"AGENCY_SECRET_{name}" in message
        assert "s3cr3t" not in message and token not in message
    # Plain settings stay plain.
    assert parse_task_spec(spec_data(agent={"argv": ["tool"], "env": {"LOG_LEVEL": "debug"}}))


def test_secrets_are_names_each_checked() -> None:
    spec = parse_task_spec(spec_data(agent={"argv": ["tool"], "secrets": ["GH_TOKEN"]}))
    assert spec.agent.secrets == ["GH_TOKEN"]
    found = problems_of(
        spec_data(
            agent={
                "argv": ["tool"],
                "env": {"MODE": "fast"},
                "secrets": ["GH_TOKEN", "GH_TOKEN", "1BAD", "MODE"],
            }
        )
    )
    assert found["agent.secrets[1]"] == ["GH_TOKEN is named twice"]
    assert "not a variable name" in found["agent.secrets[2]"][0]
    assert "both a secret and a plain" in found["agent.secrets[3]"][0]


def test_names_and_ids_with_a_trailing_newline_are_refused() -> None:
    found = problems_of(
        spec_data(agent={"argv": ["tool"], "env": {"OK\n": "x"}, "secrets": ["GH\n"]})
    )
    assert "not a variable name" in found["agent.env.OK\n"][0]
    assert "not a variable name" in found["agent.secrets[0]"][0]


def test_the_executor_s_spec_keeps_what_executors_read_and_no_governance_text() -> None:
    spec = parse_task_spec(
        spec_data(
            invariants=["never touch billing"],
            contracts=[{"type": "openapi", "path": "api.yaml"}],  # a CAWS field of its own
        )
    )
    slim = spec.for_executor()
    read = ("repo", "base_ref", "target_branch", "agent", "gates", "scope", "risk_tier")
    assert {name: getattr(slim, name) for name in read} == {
        name: getattr(spec, name) for name in read
    }
    assert slim.invariants == [] and slim.acceptance == [] and slim.warnings == []
    assert spec.model_extra and not slim.model_extra
    # What an executor parses back from the activity's input is a valid spec.
    assert type(spec).model_validate(slim.model_dump(by_alias=True)) == slim
