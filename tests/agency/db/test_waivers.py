"""The waiver lifecycle in the database, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agency.db import waivers as store
from council.policy import DEFAULT_POLICY, parse_policy
from council.waivers import parse_waiver, waiver_problems

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


async def propose(session: AsyncSession, **overrides: object) -> store.WaiverRow:
    values: dict[str, object] = {
        "tenant": "default",
        "title": "Large refactor of the parser",
        "reason": "the parser is split in three modules at once",
        "reason_code": "architectural_refactor",
        "gates": ["budget_limit"],
        "delta": {"max_files": 20, "max_loc": 2000},
        "applies_to": ["FEAT-0001"],
        "risk_owner": "olivia",
        "risk_tier": 2,
        "created_by": "carl",
        "expires_at": NOW + timedelta(days=7),
        "now": NOW,
    }
    values.update(overrides)
    return await store.create_waiver(session, **values)  # type: ignore[arg-type]


async def test_ids_are_sequential_wv_numbers(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        first = await propose(session)
        second = await propose(session)
    assert (first.id, second.id) == ("WV-0001", "WV-0002")
    assert first.status == "proposed"


async def test_concurrent_proposals_get_distinct_ids(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async def one() -> str:
        async with sessions() as session:
            return (await propose(session)).id

    ids = await asyncio.gather(*(one() for _ in range(4)))
    assert sorted(ids) == ["WV-0001", "WV-0002", "WV-0003", "WV-0004"]


async def test_enough_independent_approvals_activate_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        row = await propose(session)
        row = await store.approve_waiver(session, row.id, approver="ann", required=2, now=NOW)
        assert row.status == "proposed"
        row = await store.approve_waiver(session, row.id, approver="bob", required=2, now=NOW)
        assert row.status == "active" and row.activated_at == NOW
        approvals = await store.list_approvals(session, row.id)
    assert [a.approver for a in approvals] == ["ann", "bob"]


@pytest.mark.parametrize("who", ["carl", "OLIVIA", " olivia "])
async def test_creator_and_risk_owner_cannot_approve(
    sessions: async_sessionmaker[AsyncSession], who: str
) -> None:
    async with sessions() as session:
        row = await propose(session)
        with pytest.raises(store.WaiverRefused, match="may not approve their own waiver"):
            await store.approve_waiver(session, row.id, approver=who, required=1, now=NOW)
        assert await store.list_approvals(session, row.id) == []


async def test_nobody_approves_twice(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        row = await propose(session)
        await store.approve_waiver(session, row.id, approver="ann", required=2, now=NOW)
        with pytest.raises(store.WaiverRefused, match="already approved"):
            await store.approve_waiver(session, row.id, approver="Ann", required=2, now=NOW)
        assert len(await store.list_approvals(session, row.id)) == 1


async def test_revoked_and_expired_waivers_cannot_be_approved_or_revoked(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        revoked = await propose(session)
        await store.revoke_waiver(session, revoked.id, by="root", reason="misuse", now=NOW)
        with pytest.raises(store.WaiverRefused, match="is revoked"):
            await store.approve_waiver(session, revoked.id, approver="ann", required=1, now=NOW)
        with pytest.raises(store.WaiverRefused, match="already revoked"):
            await store.revoke_waiver(session, revoked.id, by="root", reason="again", now=NOW)

        short = await propose(session, expires_at=NOW + timedelta(hours=1))
        later = NOW + timedelta(hours=2)
        assert await store.expire_due(session, later) == 1
        with pytest.raises(store.WaiverRefused, match="is expired"):
            await store.approve_waiver(session, short.id, approver="ann", required=1, now=later)
        assert (await store.get_waiver(session, short.id)).status == "expired"  # type: ignore[union-attr]

        with pytest.raises(store.WaiverRefused, match="in the future"):
            await propose(session, expires_at=NOW - timedelta(seconds=1))


async def test_caws_form_is_judged_by_the_council_rules(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    policy = parse_policy(DEFAULT_POLICY)
    async with sessions() as session:
        row = await propose(session)
        await store.approve_waiver(session, row.id, approver="ann", required=2, now=NOW)
        await store.approve_waiver(session, row.id, approver="bob", required=2, now=NOW)
        other = await propose(session, tenant="acme")
        found = await store.waivers_for_judging(
            session, [row.id, other.id, "WV-9999"], tenant="default", now=NOW
        )
    assert [w["id"] for w in found] == [row.id]  # another tenant's waiver is not seen
    waiver = parse_waiver(found[0])
    assert waiver_problems(waiver, now=NOW, policy=policy, spec_id="FEAT-0001", risk_tier=2) == []
    assert waiver.approver_handles() == {"ann", "bob"} and waiver.owners() == {"olivia", "carl"}
