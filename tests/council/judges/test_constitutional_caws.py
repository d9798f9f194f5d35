"""The constitutional judge with what CAWS v10/v11 files bring: scope.support, a v10
change_budget, and v11 waivers (no delta) waiving their gates."""

from __future__ import annotations

from typing import Any

from council.judges import constitutional
from council.judges.context import JudgeContext
from council.models import Evidence, Judgment
from council.policy import Budget, parse_policy
from council.waivers import Waiver, parse_waiver
from tests.council.factories import (
    changed,
    make_ctx,
    make_spec,
    make_waiver,
    result_evidence,
    rules,
    severity_of,
)


def judged(ctx: JudgeContext) -> Judgment:
    return constitutional.judge(ctx)


def touching(*paths: str, added: int = 5) -> Evidence:
    return result_evidence(changed_files=[changed(p, added, 0) for p in paths], added_lines={})


def kernel_waiver(**overrides: Any) -> Waiver:
    """A CAWS v11 waiver: one approver, no delta, for FEAT-0042."""
    data: dict[str, Any] = {
        "id": "FEAT-0042-SCOPE-01",
        "title": "A peer session's files",
        "status": "active",
        "gates": ["scope_boundary"],
        "reason": "not this task's change",
        "approved_by": "darian",
        "created_at": "2026-08-15T19:31:08Z",
        "expires_at": "2099-08-22T00:00:00Z",
        "scope": {"spec_id": "FEAT-0042"},
    }
    data.update(overrides)
    return parse_waiver(data)


def test_scope_support_is_admitted_like_scope_in() -> None:
    spec = make_spec(scope={"in": ["src/http/"], "support": ["CHANGELOG.md"]})
    assert rules(judged(make_ctx(spec=spec, evidence=touching("CHANGELOG.md")))) == set()
    excluded = make_spec(scope={"in": ["src/"], "support": ["docs/"], "out": ["docs/"]})
    assert rules(judged(make_ctx(spec=excluded, evidence=touching("docs/a.md")))) == {
        "path_in_scope_out"
    }


def test_a_cited_scope_waiver_waives_the_scope_boundary() -> None:
    waiver = kernel_waiver()
    spec = make_spec(waiver_ids=[waiver.id])
    j = judged(make_ctx(spec=spec, waivers={waiver.id: waiver}, evidence=touching("docs/x.md")))
    assert rules(j) == {"scope_waived"}
    assert severity_of(j, "scope_waived") == "low"
    assert waiver.id in j.violations[0].detail and "docs/x.md" in j.violations[0].detail


def test_a_scope_waiver_not_cited_or_not_usable_waives_nothing() -> None:
    waiver = kernel_waiver()
    uncited = judged(make_ctx(waivers={waiver.id: waiver}, evidence=touching("docs/x.md")))
    assert rules(uncited) == {"path_outside_scope"}
    other = kernel_waiver(scope={"spec_id": "FEAT-9"})
    spec = make_spec(waiver_ids=[other.id])
    j = judged(make_ctx(spec=spec, waivers={other.id: other}, evidence=touching("docs/x.md")))
    assert rules(j) == {"path_outside_scope", "waiver_unusable"}
    assert "not FEAT-0042" in next(v.detail for v in j.violations if v.rule == "waiver_unusable")


def test_forbidden_paths_are_never_waived() -> None:
    waiver = kernel_waiver()
    spec = make_spec(waiver_ids=[waiver.id])
    j = judged(make_ctx(spec=spec, waivers={waiver.id: waiver}, evidence=touching(".env")))
    assert "forbidden_path" in rules(j)


def test_a_v11_budget_waiver_without_delta_waives_the_budget() -> None:
    waiver = kernel_waiver(gates=["budget_limit"])
    spec = make_spec(waiver_ids=[waiver.id])
    ctx = make_ctx(
        spec=spec,
        policy=parse_policy({"risk_tiers": {"2": {"max_files": 1, "max_loc": 5}}}),
        waivers={waiver.id: waiver},
        evidence=touching("src/http/a.py", "src/http/b.py"),
    )
    j = judged(ctx)
    assert rules(j) == {"budget_waived"}
    assert waiver.id in j.violations[0].detail


def test_change_budget_tightens_the_tier_budget_never_raises_it() -> None:
    tight = make_ctx(spec=make_spec(change_budget={"max_files": 1, "max_loc": 50}))
    assert tight.base_budget() == Budget(max_files=1, max_loc=50)
    assert rules(judged(tight)) == {"budget_exceeded"}  # two files changed
    loose = make_ctx(spec=make_spec(change_budget={"max_files": 10_000, "max_loc": 10**7}))
    assert loose.base_budget() == loose.policy.budget(2)


def test_waiver_deltas_raise_the_tightened_budget() -> None:
    waiver = make_waiver(delta={"max_files": 1, "max_loc": 0})
    spec = make_spec(change_budget={"max_files": 1, "max_loc": 50}, waiver_ids=[waiver.id])
    ctx = make_ctx(spec=spec, waivers={waiver.id: waiver})
    assert ctx.effective_budget() == Budget(max_files=2, max_loc=50)
    assert rules(judged(ctx)) == {"budget_waived"}
