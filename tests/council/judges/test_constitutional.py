"""Constitutional judge, rule by rule: each rule triggered once and left alone once."""

from __future__ import annotations

from council.judges import constitutional
from council.judges.context import JudgeContext
from council.models import Evidence, Judgment
from council.policy import Policy, parse_policy
from council.spec import Scope, TaskSpec
from council.validation import merge_caws_spec, parse_task_spec
from council.waivers import Waiver
from tests.council.conftest import load_yaml
from tests.council.factories import (
    EXECUTION_FIELDS,
    changed,
    make_ctx,
    make_policy,
    make_spec,
    make_waiver,
    plan_evidence,
    result_evidence,
    rules,
    severity_of,
)


def judged(ctx: JudgeContext) -> Judgment:
    return constitutional.judge(ctx)


def touching(*paths: str, added: int = 5) -> Evidence:
    return result_evidence(changed_files=[changed(p, added, 0) for p in paths], added_lines={})


def test_clean_result_and_plan_pass() -> None:
    for evidence in (result_evidence(), plan_evidence()):
        j = judged(make_ctx(evidence=evidence))
        assert (j.verdict, j.violations, j.confidence) == ("pass", [], 1.0)


# ---------------------------------------------------------------------- scope
def test_path_outside_scope_in() -> None:
    j = judged(make_ctx(evidence=touching("src/http/a.py", "lib/other.py")))
    assert severity_of(j, "path_outside_scope") == "critical"
    assert "lib/other.py" in j.violations[0].detail
    assert "src/http/a.py" not in j.violations[0].detail
    assert j.verdict == "fail"


def test_path_inside_scope_out() -> None:
    spec = make_spec(scope={"in": ["src/"], "out": ["src/db/"]})
    j = judged(make_ctx(spec=spec, evidence=touching("src/db/models.py")))
    assert rules(j) == {"path_in_scope_out"}
    assert severity_of(j, "path_in_scope_out") == "critical"
    assert rules(judged(make_ctx(spec=spec, evidence=touching("src/api/x.py")))) == set()


def test_glob_scope_entries() -> None:
    spec = make_spec(scope={"in": ["src/**/*.py", "tests/"]})
    assert rules(judged(make_ctx(spec=spec, evidence=touching("src/a/b/c.py")))) == set()
    outside = judged(make_ctx(spec=spec, evidence=touching("src/a.ts")))
    assert "path_outside_scope" in rules(outside)


def test_non_governed_zones_are_exempt_from_scope() -> None:
    policy = parse_policy({"non_governed_zones": ["research/**"]})
    j = judged(make_ctx(policy=policy, evidence=touching("research/notes/x.py")))
    assert rules(j) == set()
    assert "path_outside_scope" in rules(judged(make_ctx(evidence=touching("research/x.py"))))


def test_scope_boundary_gate_mode_from_policy() -> None:
    warn = parse_policy({"gates": {"scope_boundary": {"enabled": True, "mode": "warn"}}})
    j = judged(make_ctx(policy=warn, evidence=touching("lib/x.py")))
    assert severity_of(j, "path_outside_scope") == "medium"
    assert j.verdict == "uncertain"
    off = parse_policy({"gates": {"scope_boundary": {"enabled": False}}})
    assert rules(judged(make_ctx(policy=off, evidence=touching("lib/x.py")))) == set()


# ---------------------------------------------------------------------- forbidden paths
def test_forbidden_paths_are_critical_even_in_scope() -> None:
    spec = make_spec(scope={"in": ["."]})
    paths = (".github/workflows/ci.yml", "deploy/.env", "certs/server.pem", ".git/hooks/pre-commit")
    for path in paths:
        j = judged(make_ctx(spec=spec, evidence=touching(path)))
        assert rules(j) == {"forbidden_path"}, path
        assert severity_of(j, "forbidden_path") == "critical"


def test_near_forbidden_paths_are_fine() -> None:
    spec = make_spec(scope={"in": ["."]})
    for path in (".github/CODEOWNERS", ".gitignore", "src/env.py", "docs/keys.md"):
        assert rules(judged(make_ctx(spec=spec, evidence=touching(path)))) == set(), path


def test_forbidden_paths_not_softened_by_gate_modes() -> None:
    policy = parse_policy({"gates": {"scope_boundary": {"enabled": False}}})
    spec = make_spec(scope={"in": ["."]})
    j = judged(make_ctx(spec=spec, policy=policy, evidence=touching(".gitlab-ci.yml")))
    assert severity_of(j, "forbidden_path") == "critical"


def test_forbidden_policy_is_configurable() -> None:
    policy = make_policy(forbidden_paths=["secrets/"])
    spec = make_spec(scope={"in": ["."]})
    assert rules(judged(make_ctx(spec=spec, policy=policy, evidence=touching(".env")))) == set()
    hit = judged(make_ctx(spec=spec, policy=policy, evidence=touching("secrets/a.txt")))
    assert rules(hit) == {"forbidden_path"}


# ---------------------------------------------------------------------- budget
def test_budget_files_over_tier_budget() -> None:
    spec = make_spec(risk_tier=1)
    eleven = touching(*(f"src/http/f{i}.py" for i in range(11)), added=1)
    j = judged(make_ctx(spec=spec, evidence=eleven))
    assert severity_of(j, "budget_exceeded") == "critical"
    ten = touching(*(f"src/http/f{i}.py" for i in range(10)), added=1)
    assert rules(judged(make_ctx(spec=spec, evidence=ten))) == set()


def test_budget_lines_over_tier_budget() -> None:
    spec = make_spec(risk_tier=1)
    over = result_evidence(changed_files=[changed("src/http/a.py", 200, 51)])
    assert "budget_exceeded" in rules(judged(make_ctx(spec=spec, evidence=over)))
    at = result_evidence(changed_files=[changed("src/http/a.py", 200, 50)])
    assert rules(judged(make_ctx(spec=spec, evidence=at))) == set()


def test_budget_counts_file_lines_when_totals_missing() -> None:
    spec = make_spec(risk_tier=1)
    evidence = result_evidence(
        changed_files=[changed("src/http/a.py", 300, 0)], lines_added=0, lines_removed=0
    )
    assert "budget_exceeded" in rules(judged(make_ctx(spec=spec, evidence=evidence)))


def test_usable_budget_waiver_covers_the_overrun() -> None:
    spec = make_spec(risk_tier=1, waiver_ids=["WV-0100"])
    big = result_evidence(changed_files=[changed("src/http/a.py", 1000, 0)])
    j = judged(make_ctx(spec=spec, evidence=big, waivers={"WV-0100": make_waiver()}))
    assert rules(j) == {"budget_waived"}
    assert severity_of(j, "budget_waived") == "low"
    assert "WV-0100" in j.violations[0].detail
    assert j.verdict == "pass"


def test_budget_waiver_not_enough_still_exceeds() -> None:
    spec = make_spec(risk_tier=1, waiver_ids=["WV-0100"])
    huge = result_evidence(changed_files=[changed("src/http/a.py", 9000, 0)])
    j = judged(make_ctx(spec=spec, evidence=huge, waivers={"WV-0100": make_waiver()}))
    assert rules(j) == {"budget_exceeded"}
    assert "including usable waivers" in j.violations[0].detail


def test_unusable_waiver_does_not_raise_the_budget() -> None:
    spec = make_spec(risk_tier=1, waiver_ids=["WV-0100"])
    big = result_evidence(changed_files=[changed("src/http/a.py", 1000, 0)])
    waivers = {"WV-0100": make_waiver(status="revoked")}
    assert rules(judged(make_ctx(spec=spec, evidence=big, waivers=waivers))) == {
        "budget_exceeded",
        "waiver_unusable",
    }


def test_unnamed_waiver_does_not_apply() -> None:
    spec = make_spec(risk_tier=1)  # names no waiver
    big = result_evidence(changed_files=[changed("src/http/a.py", 1000, 0)])
    j = judged(make_ctx(spec=spec, evidence=big, waivers={"WV-0100": make_waiver()}))
    assert rules(j) == {"budget_exceeded"}


def test_budget_limit_gate_warn_softens() -> None:
    policy = parse_policy({"gates": {"budget_limit": {"enabled": True, "mode": "warn"}}})
    spec = make_spec(risk_tier=1)
    big = result_evidence(changed_files=[changed("src/http/a.py", 1000, 0)])
    j = judged(make_ctx(spec=spec, policy=policy, evidence=big))
    assert severity_of(j, "budget_exceeded") == "medium"


# ---------------------------------------------------------------------- waivers
def test_unknown_waiver_is_high() -> None:
    j = judged(make_ctx(spec=make_spec(waiver_ids=["WV-0999"])))
    assert severity_of(j, "waiver_unknown") == "high"
    assert "WV-0999" in j.violations[0].detail


def test_usable_named_waiver_is_fine() -> None:
    spec = make_spec(waiver_ids=["WV-0100"])
    assert rules(judged(make_ctx(spec=spec, waivers={"WV-0100": make_waiver()}))) == set()


def test_real_waivers_unusable_naming_why(
    caws_waivers: dict[str, Waiver], caws_policy: Policy
) -> None:
    spec = make_spec(waiver_ids=["WV-0001", "WV-2723"])
    for evidence in (plan_evidence(), result_evidence()):
        ctx = make_ctx(spec=spec, policy=caws_policy, waivers=caws_waivers, evidence=evidence)
        j = judged(ctx)
        unusable = [v.detail for v in j.violations if v.rule == "waiver_unusable"]
        by_id = {d.split(" ")[1]: d for d in unusable}
        assert set(by_id) == {"WV-0001", "WV-2723"}
        assert "revoked" in by_id["WV-0001"]
        assert "expired" in by_id["WV-2723"]
        assert j.verdict == "fail"


# ---------------------------------------------------------------------- completeness
def test_spec_scope_empty_is_high() -> None:
    spec = make_spec().model_copy(update={"scope": Scope(in_=[])})
    j = judged(make_ctx(spec=spec, evidence=plan_evidence()))
    assert severity_of(j, "spec_scope_empty") == "high"


def test_spec_acceptance_missing_is_high() -> None:
    spec = make_spec().model_copy(update={"acceptance": []})
    j = judged(make_ctx(spec=spec, evidence=plan_evidence()))
    assert severity_of(j, "spec_acceptance_missing") == "high"


def test_spec_without_invariants_is_only_low() -> None:
    j = judged(make_ctx(spec=make_spec(invariants=[]), evidence=plan_evidence()))
    assert rules(j) == {"spec_invariants_missing"}
    assert severity_of(j, "spec_invariants_missing") == "low"
    assert j.verdict == "pass"
    assert j.confidence < 1.0


def test_spec_completeness_gate_skip() -> None:
    policy = parse_policy({"gates": {"spec_completeness": {"enabled": False}}})
    j = judged(make_ctx(spec=make_spec(invariants=[]), policy=policy, evidence=plan_evidence()))
    assert rules(j) == set()


# ---------------------------------------------------------------------- plan: scope vs forbidden
def test_plan_scope_reaching_forbidden_paths_is_high() -> None:
    spec = make_spec(scope={"in": ["src/", ".github/"]})
    j = judged(make_ctx(spec=spec, evidence=plan_evidence()))
    assert rules(j) == {"scope_overlaps_forbidden"}
    assert severity_of(j, "scope_overlaps_forbidden") == "high"
    assert "'.github/'" in j.violations[0].detail


def test_plan_scope_clear_of_forbidden_paths() -> None:
    for scope in (["src/", "tests/"], ["."], ["**/*.py"]):
        spec = make_spec(scope={"in": scope})
        assert rules(judged(make_ctx(spec=spec, evidence=plan_evidence()))) == set(), scope


def test_scope_overlap_is_a_plan_rule_only() -> None:
    spec = make_spec(scope={"in": ["src/", ".github/"]})
    assert "scope_overlaps_forbidden" not in rules(judged(make_ctx(spec=spec)))


# ---------------------------------------------------------------------- real CAWS specs
def real_spec(name: str) -> TaskSpec:
    return parse_task_spec(merge_caws_spec(EXECUTION_FIELDS, load_yaml(f"specs/{name}.yaml")))


def test_real_spec_change_inside_its_scope_passes(caws_policy: Policy) -> None:
    spec = real_spec("AUTH-BINDING-BRIDGE-001")
    evidence = touching(
        "packages/caws-cli/src/store/claim-store.ts", "packages/caws-cli/tests/shell/claim.test.js"
    )
    j = judged(make_ctx(spec=spec, policy=caws_policy, evidence=evidence))
    assert (j.verdict, rules(j)) == ("pass", set())


def test_real_spec_change_into_its_scope_out_is_vetoed(caws_policy: Policy) -> None:
    spec = real_spec("AUTH-BINDING-BRIDGE-001")
    j = judged(make_ctx(spec=spec, policy=caws_policy, evidence=touching(".caws/policy.yaml")))
    assert {"path_outside_scope", "path_in_scope_out"} <= rules(j)
    assert j.verdict == "fail"


def test_real_tier_two_spec_budget(caws_policy: Policy) -> None:
    spec = real_spec("CAWS-GIT-SPAWN-COST-001")
    path = "packages/caws-cli/src/store/git-binary.ts"
    big = result_evidence(changed_files=[changed(path, 10_001, 0)])
    over = judged(make_ctx(spec=spec, policy=caws_policy, evidence=big))
    assert rules(over) == {"budget_exceeded"}
    ok = result_evidence(changed_files=[changed(path, 9_000, 1_000)])
    assert rules(judged(make_ctx(spec=spec, policy=caws_policy, evidence=ok))) == set()
