"""Submitting tasks that name CAWS specs of a repository laid out like the CAWS project's
(many specs and waivers, one waiver broken): what is refused (422, with CAWS's rule ids)
and what is accepted with warnings stored on the task."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from agency.settings import Settings
from api.problems import ProblemError
from api.submission import MAX_WARNINGS, parse_submission
from council.spec import TaskSpec
from tests.support.caws_repos import BROKEN_WAIVER, REAL_SPECS, SHAPES, make_caws_repo
from tests.support.repos import git, task_spec


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_caws_repo(tmp_path_factory.mktemp("caws") / "repo")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path)


def body(repo: Path, spec: str, **overrides: Any) -> dict[str, Any]:
    return {
        "caws_spec": spec,
        "repo": str(repo),
        "agent": {"argv": [sys.executable, "tools/agent.py"]},
        "execution_mode": "dry_run",
        **overrides,
    }


def refused(data: dict[str, Any], settings: Settings) -> dict[str, list[str | None]]:
    """path -> rule ids of a 422."""
    with pytest.raises(ProblemError) as info:
        parse_submission(data, settings)
    problem = info.value.problem
    assert problem.status == 422
    by_path: dict[str, list[str | None]] = {}
    for error in problem.errors or []:
        by_path.setdefault(error.path, []).append(error.rule)
    return by_path


def rules(spec: TaskSpec) -> set[str]:
    return {w.rule for w in spec.warnings}


@pytest.mark.parametrize("name", [*REAL_SPECS, "FEAT-0101", "PROSE-0002"])
def test_every_valid_spec_of_the_repository_is_accepted(
    repo: Path, settings: Settings, name: str
) -> None:
    spec = parse_submission(body(repo, f".caws/specs/{name}.yaml"), settings)
    assert spec.caws_spec == f".caws/specs/{name}.yaml"
    # The broken waiver is reported on every task of the repository, and fails none.
    broken = [w for w in spec.warnings if w.file == f".caws/waivers/{BROKEN_WAIVER}.yaml"]
    assert [w.rule for w in broken] == ["waiver.schema.invalid_approved_by"]
    assert "agency.policy.defaults" not in rules(spec)  # the repository has its policy


def test_a_task_citing_the_broken_waiver_is_refused_naming_it(
    repo: Path, settings: Settings
) -> None:
    found = refused(body(repo, "FEAT-0101", waiver_ids=[BROKEN_WAIVER]), settings)
    assert found == {"waiver_ids[0]": ["waiver.schema.invalid_approved_by"]}


def test_a_task_citing_a_valid_waiver_with_a_long_id_is_accepted(
    repo: Path, settings: Settings
) -> None:
    ids = ["FEAT-0101-SCOPE-CONCURRENCY-01", "WV-0100"]
    spec = parse_submission(body(repo, "FEAT-0101", waiver_ids=ids), settings)
    assert spec.waiver_ids == ids


def test_a_v10_spec_is_accepted_with_each_mapping_step_as_a_warning(
    repo: Path, settings: Settings
) -> None:
    spec = parse_submission(body(repo, "FEAT-0102"), settings)
    assert spec.caws_spec == ".caws/working-spec.yaml"
    assert (spec.id, spec.mode, spec.risk_tier) == ("FEAT-0102", "feature", 2)
    assert {
        "spec.migrate.safe_rename",
        "spec.migrate.risk_tier_coerced",
        "spec.migrate.mode_overridden_from_type",
        "agency.migrate.acceptance_id_assigned",
        "agency.migrate.change_budget_kept",
        "agency.scope.prose_entry",  # scope.out: "other monorepo packages"
    } <= rules(spec)
    assert spec.change_budget is not None and spec.change_budget.max_files == 5


def test_what_caws_refuses_is_refused_with_the_same_rule_ids(
    repo: Path, settings: Settings
) -> None:
    found = refused(body(repo, "test-feature"), settings)
    assert found == {
        "blast_radius": ["spec.migrate.blast_radius_modules_missing"],
        "scope": ["spec.migrate.scope_in_missing"],
    }


def test_v11_schema_and_scope_refusals(tmp_path: Path, settings: Settings) -> None:
    repo = make_caws_repo(tmp_path / "repo")
    for name in ("BAD-SHAPES", "PROSE-0001"):
        shutil.copy(SHAPES / "specs" / f"{name}.yaml", repo / ".caws" / "specs")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "more specs")
    shapes = refused(body(repo, ".caws/specs/BAD-SHAPES.yaml"), settings)
    assert shapes["mode"] == ["spec.schema.mode.development_removed"]
    assert shapes["risk_tier"] == ["spec.schema.risk_tier.type_rejected"]
    assert shapes["change_budget"] == ["spec.schema.forbidden_field.change_budget"]
    prose = refused(body(repo, "PROSE-0001"), settings)
    assert prose == {"scope.in": ["agency.scope.in_names_no_path"]}


def test_the_policy_source_is_said(tmp_path: Path, settings: Settings) -> None:
    repo = make_caws_repo(tmp_path / "repo", policy=False)
    spec = parse_submission(body(repo, "FEAT-0101"), settings)
    [defaults] = [w for w in spec.warnings if w.rule == "agency.policy.defaults"]
    assert "built-in defaults" in defaults.message
    (repo / ".caws" / "policy").mkdir()
    shutil.copy(SHAPES / "policy" / "tier-policy.json", repo / ".caws" / "policy")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "legacy policy")
    legacy = parse_submission(body(repo, "FEAT-0101"), settings)
    assert "agency.policy.legacy_tier_policy" in rules(legacy)
    assert "agency.policy.defaults" not in rules(legacy)
    (repo / ".caws" / "policy.yaml").write_text("risk_tiers: {'1': {max_files: 0, max_loc: 1}}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "bad policy")
    assert refused(body(repo, "FEAT-0101"), settings) == {"policy": ["agency.policy.invalid"]}


def test_submitted_warnings_are_replaced(repo: Path, settings: Settings) -> None:
    forged = [{"rule": "agency.nothing", "message": "all fine"}]
    spec = parse_submission(body(repo, "FEAT-0101", warnings=forged), settings)
    assert "agency.nothing" not in rules(spec)
    inline = parse_submission(task_spec(repo, warnings=forged), settings)
    assert "agency.nothing" not in rules(inline)


def test_inline_tasks_get_scope_warnings_and_the_settings_waivers(
    repo: Path, settings: Settings
) -> None:
    spec = parse_submission(task_spec(repo, scope={"in": ["src/", "lib/"]}), settings)
    [missing] = [w for w in spec.warnings if w.rule == "agency.scope.path_not_found"]
    assert missing.path == "scope.in[1]" and "'lib/'" in missing.message
    assert not any(w.file and w.file.startswith(".caws/") for w in spec.warnings)
    settings.effective_waivers_dir.mkdir(parents=True)
    shutil.copy(SHAPES / "waivers" / "broken" / "WV-0302.yaml", settings.effective_waivers_dir)
    found = refused(task_spec(repo, waiver_ids=["WV-0302"]), settings)
    assert found == {"waiver_ids[0]": ["waiver.schema.invalid_expiry"]}
    assert parse_submission(task_spec(repo), settings)  # not cited: not a problem


def test_a_missing_spec_is_named(repo: Path, settings: Settings) -> None:
    assert refused(body(repo, ".caws/specs/NOPE.yaml"), settings) == {"caws_spec": [None]}
    assert refused(body(repo, "FEAT-0101", base_ref="no-such-ref"), settings) == {
        "caws_spec": [None]
    }


def test_many_warnings_are_capped_and_long_entries_shortened(
    tmp_path: Path, settings: Settings
) -> None:
    repo = make_caws_repo(tmp_path / "repo")
    spec = yaml.safe_load((SHAPES / "specs" / "FEAT-0101.yaml").read_text())
    spec["scope"]["in"] = ["src/", *(f"gone/{i}.py" for i in range(300))]
    (repo / ".caws" / "specs" / "FEAT-0101.yaml").write_text(yaml.safe_dump(spec))
    spec["scope"]["in"] = ["an entry written as prose " * 300]
    (repo / ".caws" / "specs" / "PROSE-0009.yaml").write_text(
        yaml.safe_dump({**spec, "id": "PROSE-0009"})
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "long scopes")
    many = parse_submission(body(repo, "FEAT-0101"), settings)
    assert len(many.warnings) == MAX_WARNINGS
    assert many.warnings[-1].rule == "agency.warnings.truncated"
    with pytest.raises(ProblemError) as info:
        parse_submission(body(repo, "PROSE-0009"), settings)
    [error] = info.value.problem.errors or []
    assert error.rule == "agency.scope.in_names_no_path" and len(error.message) <= 2000
