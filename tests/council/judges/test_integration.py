"""Integration judge, rule by rule."""

from __future__ import annotations

import pytest

from council.judges import integration
from council.judges.context import JudgeContext
from council.models import Evidence, Judgment
from council.spec import TaskSpec
from council.validation import merge_caws_spec, parse_task_spec
from tests.council.conftest import load_yaml
from tests.council.factories import (
    EXECUTION_FIELDS,
    changed,
    make_ctx,
    make_policy,
    make_spec,
    plan_evidence,
    result_evidence,
    rules,
    severity_of,
)

WIDE_SCOPE = {"in": ["."]}


def judged(ctx: JudgeContext) -> Judgment:
    return integration.judge(ctx)


def touching(*paths: str) -> Evidence:
    return result_evidence(changed_files=[changed(p) for p in paths], added_lines={})


def test_clean_result_and_plan_pass() -> None:
    for evidence in (result_evidence(), plan_evidence()):
        j = judged(make_ctx(evidence=evidence))
        assert (j.verdict, j.violations) == ("pass", [])


# ---------------------------------------------------------------------- blast radius
def test_many_top_level_directories_is_low() -> None:
    evidence = touching("src/a.py", "tests/t.py", "docs/d.md", "tools/x.py")
    j = judged(make_ctx(spec=make_spec(scope=WIDE_SCOPE), evidence=evidence))
    assert rules(j) == {"blast_radius_wide"}
    assert severity_of(j, "blast_radius_wide") == "low"
    assert j.verdict == "pass"


def test_few_top_level_directories_is_fine() -> None:
    evidence = touching("src/a.py", "tests/t.py", "README.md")
    assert rules(judged(make_ctx(spec=make_spec(scope=WIDE_SCOPE), evidence=evidence))) == set()


def test_blast_radius_bound_from_policy() -> None:
    evidence = touching("src/a.py", "tests/t.py")
    policy = make_policy(max_top_level_dirs=1)
    assert rules(judged(make_ctx(policy=policy, evidence=evidence))) == {"blast_radius_wide"}


def auth_spec() -> TaskSpec:
    """A real CAWS spec whose blast_radius.modules are exact files."""
    return parse_task_spec(
        merge_caws_spec(EXECUTION_FIELDS, load_yaml("specs/AUTH-BINDING-BRIDGE-001.yaml"))
    )


def test_change_beyond_declared_modules_is_medium() -> None:
    evidence = touching("packages/caws-cli/src/store/claim-store.ts", "docs/claims.md")
    j = judged(make_ctx(spec=auth_spec(), evidence=evidence))
    assert rules(j) == {"blast_radius_undeclared"}
    assert severity_of(j, "blast_radius_undeclared") == "medium"
    assert "docs/claims.md" in j.violations[0].detail


def test_change_within_declared_modules_is_fine() -> None:
    evidence = touching(
        "packages/caws-cli/src/store/claim-store.ts", "packages/caws-cli/tests/shell/claim.test.js"
    )
    assert rules(judged(make_ctx(spec=auth_spec(), evidence=evidence))) == set()


def test_loosely_written_module_matches_its_segments() -> None:
    spec = make_spec(scope=WIDE_SCOPE, blast_radius={"modules": ["hook-packs/shared"]})
    inside = touching("packages/cli/templates/hook-packs/shared/agent-stop.sh")
    assert rules(judged(make_ctx(spec=spec, evidence=inside))) == set()
    outside = touching("lib/other.sh")
    assert rules(judged(make_ctx(spec=spec, evidence=outside))) == {"blast_radius_undeclared"}


def test_prose_modules_are_not_paths() -> None:
    spec = make_spec(scope=WIDE_SCOPE, blast_radius={"modules": ["documentation", "caws-cli x"]})
    assert integration.declared_modules(spec.model_extra or {}) == []
    assert rules(judged(make_ctx(spec=spec, evidence=touching("lib/a.py")))) == set()


# ---------------------------------------------------------------------- contracts
@pytest.mark.parametrize(
    "path", ["api/service.proto", "docs/openapi.yaml", "spec/public.openapi.json", "swagger.json"]
)
def test_contract_files_are_medium(path: str) -> None:
    j = judged(make_ctx(spec=make_spec(scope=WIDE_SCOPE), evidence=touching(path)))
    assert rules(j) == {"contract_touched"}
    assert severity_of(j, "contract_touched") == "medium"


def test_contracts_declared_by_path_in_the_spec() -> None:
    spec = make_spec(scope=WIDE_SCOPE, contracts=[{"name": "http", "path": "src/http/api.py"}])
    assert rules(judged(make_ctx(spec=spec, evidence=touching("src/http/api.py")))) == {
        "contract_touched"
    }
    assert rules(judged(make_ctx(spec=spec, evidence=touching("src/http/impl.py")))) == set()


def test_caws_contracts_without_paths_do_not_match() -> None:
    spec = make_spec(contracts=[{"name": "git-invocation-parity", "type": "behavior"}])
    assert integration.contract_paths(spec.model_extra or {}) == []
    assert rules(judged(make_ctx(spec=spec))) == set()


# ---------------------------------------------------------------------- manifests
@pytest.mark.parametrize(
    "path",
    [
        "pyproject.toml",
        "requirements-dev.txt",
        "web/package.json",
        "web/package-lock.json",
        "go.mod",
        "crates/x/Cargo.toml",
    ],
)
def test_dependency_manifest_changes_are_medium(path: str) -> None:
    j = judged(make_ctx(spec=make_spec(scope=WIDE_SCOPE), evidence=touching(path)))
    assert rules(j) == {"dependency_manifest_changed"}
    assert severity_of(j, "dependency_manifest_changed") == "medium"


@pytest.mark.parametrize("path", ["docs/requirements.md", "src/package_json.py", "gomod.txt"])
def test_manifest_lookalikes_are_fine(path: str) -> None:
    assert (
        rules(judged(make_ctx(spec=make_spec(scope=WIDE_SCOPE), evidence=touching(path)))) == set()
    )


# ---------------------------------------------------------------------- migrations
@pytest.mark.parametrize("path", ["app/models.py", "db/schema.sql", "prisma/schema.prisma"])
def test_schema_change_without_migration_is_high(path: str) -> None:
    j = judged(make_ctx(spec=make_spec(scope=WIDE_SCOPE), evidence=touching(path)))
    assert rules(j) == {"migration_missing"}
    assert severity_of(j, "migration_missing") == "high"
    assert j.verdict == "fail"


@pytest.mark.parametrize(
    "migration", ["migrations/versions/0002_add_col.py", "db/alembic/versions/x.py"]
)
def test_schema_change_with_migration_is_fine(migration: str) -> None:
    evidence = touching("app/models.py", migration)
    assert rules(judged(make_ctx(spec=make_spec(scope=WIDE_SCOPE), evidence=evidence))) == set()


def test_migration_sql_alone_is_not_a_schema_change() -> None:
    evidence = touching("migrations/0003.sql")
    assert rules(judged(make_ctx(spec=make_spec(scope=WIDE_SCOPE), evidence=evidence))) == set()


# ---------------------------------------------------------------------- plan stage
def test_plan_wide_scope_is_low() -> None:
    spec = make_spec(scope={"in": ["src/", "tests/", "docs/", "tools/x.py"]})
    j = judged(make_ctx(spec=spec, evidence=plan_evidence()))
    assert rules(j) == {"blast_radius_wide"}


def test_plan_narrow_scope_is_fine() -> None:
    spec = make_spec(scope={"in": ["src/http/", "src/util.py", "tests", "README.md"]})
    assert rules(judged(make_ctx(spec=spec, evidence=plan_evidence()))) == set()
