"""Waivers of both CAWS generations: parsing, why one cannot be used, effective budgets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from council.policy import Budget, Policy, parse_policy
from council.waivers import (
    Waiver,
    WaiverInvalid,
    as_utc,
    effective_budget,
    parse_waiver,
    usable_waivers,
    waiver_problems,
)
from tests.council.factories import NOW, make_policy, make_waiver, waiver_data


def problems(waiver: Waiver, policy: Policy | None = None, **kw: object) -> list[str]:
    return waiver_problems(waiver, now=kw.pop("now", NOW), policy=policy or make_policy(), **kw)  # type: ignore[arg-type]


def test_usable_waiver_has_no_problems() -> None:
    assert problems(make_waiver(), spec_id="FEAT-0042", risk_tier=2) == []


# ------------------------------------------------------------------- the real waivers
def test_real_v11_migrated_waiver_reads_both_generations(caws_waivers: dict[str, Waiver]) -> None:
    w = caws_waivers["WV-0001"]
    assert w.status == "revoked"
    assert w.approved_by == "darianrosebrook"
    assert w.approvers[0].handle == "darianrosebrook"
    assert w.delta is not None and (w.delta.max_files, w.delta.max_loc) == (50, 5000)
    assert w.revocation is not None and w.revocation.revoked_by == "darianrosebrook"
    assert w.expires_at == datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert w.applies_to == "ARCH-0001"
    assert (w.model_extra or {})["metadata"]["urgency"] == "high"


def test_real_revoked_waiver_is_unusable_naming_revoked(
    caws_waivers: dict[str, Waiver], caws_policy: Policy
) -> None:
    found = problems(caws_waivers["WV-0001"], caws_policy)
    assert any("revoked" in p for p in found)


def test_real_v11_waiver_with_bare_date_expires_end_of_that_day(
    caws_waivers: dict[str, Waiver], caws_policy: Policy
) -> None:
    w = caws_waivers["WV-2723"]
    assert w.status == "active"
    assert (w.model_extra or {})["impact_level"] == "low"
    assert w.expires_at == datetime(2025, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
    now = datetime(2026, 11, 26, tzinfo=UTC)
    assert any("expired" in p for p in problems(w, caws_policy, now=now))
    during_last_day = datetime(2025, 12, 31, 18, 0, tzinfo=UTC)
    assert problems(w, caws_policy, now=during_last_day) == []


# ------------------------------------------------------------------- rule by rule
@pytest.mark.parametrize(
    ("status", "word"),
    [("revoked", "revoked"), ("expired", "expired"), ("proposed", "proposed")],
)
def test_inactive_status_is_named(status: str, word: str) -> None:
    found = problems(make_waiver(status=status))
    assert len(found) == 1
    assert word in found[0]


def test_expired_at_now() -> None:
    w = make_waiver(expires_at="2026-11-26T11:59:59Z")
    assert any("expired at" in p for p in problems(w))
    assert problems(w, now=NOW - timedelta(hours=1)) == []


def test_missing_expiry_is_a_problem() -> None:
    data = waiver_data()
    del data["expires_at"]
    assert any("expires_at" in p for p in problems(parse_waiver(data)))


def test_naive_times_are_utc() -> None:
    w = make_waiver(expires_at="2026-11-26T12:30:00")
    assert w.expires_at == datetime(2026, 11, 26, 12, 30, tzinfo=UTC)
    assert problems(w, now=datetime(2026, 11, 26, 12, 0)) == []  # naive now is UTC too


def test_too_few_approvers_for_a_budget_raise() -> None:
    w = make_waiver(approvers=[{"handle": "bob"}, {"handle": "BOB"}])  # one person, twice
    assert any("requires 2" in p for p in problems(w))


def test_approver_count_follows_policy_per_tier() -> None:
    policy = make_policy(min_approvers={"1": 3})
    w = make_waiver()
    assert any("requires 3" in p for p in problems(w, policy, risk_tier=1))
    assert problems(w, policy, risk_tier=2) == []


def test_few_approvers_fine_without_budget_raise() -> None:
    w = make_waiver(gates=["coverage_threshold"], delta=None, approvers=[{"handle": "bob"}])
    assert problems(w) == []


def test_self_approval_is_refused() -> None:
    w = make_waiver(approvers=[{"handle": "alice"}], delta=None)
    found = problems(w)
    assert any("self-approved" in p for p in found)
    v11 = make_waiver(approvers=[], approved_by="Alice", delta=None)
    assert any("self-approved" in p for p in problems(v11))


def test_owner_among_other_approvers_is_not_self_approval_but_does_not_count() -> None:
    w = make_waiver(approvers=[{"handle": "alice"}, {"handle": "bob"}])
    found = problems(w)
    assert not any("self-approved" in p for p in found)
    assert any("1 independent approver" in p for p in found)


def test_no_approvers_is_a_problem() -> None:
    assert any("no approvers" in p for p in problems(make_waiver(approvers=[], delta=None)))


def test_applies_to_another_spec() -> None:
    w = make_waiver()
    assert any("not FEAT-9" in p for p in problems(w, spec_id="FEAT-9"))
    assert problems(w, spec_id="FEAT-0042") == []
    listed = make_waiver(applies_to=["FEAT-1", "FEAT-0042"])
    assert problems(listed, spec_id="FEAT-0042") == []


def test_bad_waiver_lists_every_problem() -> None:
    with pytest.raises(WaiverInvalid) as info:
        parse_waiver({"id": "wv-1", "status": "maybe", "delta": {"max_files": -1}})
    assert {p.path for p in info.value.problems} == {"id", "status", "delta.max_files"}


def test_as_utc_end_of_day_for_dates() -> None:
    assert as_utc("2025-12-31") == datetime(2025, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
    assert as_utc("not a date") == "not a date"


# ------------------------------------------------------------------- effective budget
def test_effective_budget_adds_usable_budget_waivers() -> None:
    policy = make_policy()
    usable = make_waiver()
    other_gate = make_waiver(id="WV-0101", gates=["coverage_threshold"])
    revoked = make_waiver(id="WV-0102", status="revoked")
    budget = effective_budget(
        policy, 2, [usable, other_gate, revoked], now=NOW, spec_id="FEAT-0042"
    )
    assert budget == Budget(max_files=150, max_loc=15_000)
    assert effective_budget(policy, 2, [], now=NOW) == policy.budget(2)


def test_effective_budget_ignores_waivers_for_other_specs() -> None:
    policy = make_policy()
    assert effective_budget(policy, 1, [make_waiver()], now=NOW, spec_id="X-1") == policy.budget(1)


def test_real_waivers_raise_nothing(caws_waivers: dict[str, Waiver], caws_policy: Policy) -> None:
    now = datetime(2026, 11, 26, tzinfo=UTC)
    waivers = list(caws_waivers.values())
    assert usable_waivers(waivers, now=now, policy=caws_policy) == []
    assert effective_budget(caws_policy, 1, waivers, now=now) == caws_policy.budget(1)


def test_default_policy_needs_two_approvers() -> None:
    assert parse_policy({}).min_approvers(2) == 2
