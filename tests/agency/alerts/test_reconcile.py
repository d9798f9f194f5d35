"""The reconcile activity against a real database (SQLite and PostgreSQL), fed by task
records that make an SLO burn: firing, repeats, acknowledgement, silences, recovery,
and alerts surviving a new process."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.alerts import AlertActivities
from agency.alerts import silences, store
from agency.alerts.payload import url_hash
from agency.db.alerts import AlertTransition
from agency.db.engine import make_engine, session_maker
from agency.db.types import utcnow
from agency.settings import Settings
from domain.alerts import ReconcileInput, ReconcileOutput
from tests.agency.alerts.burning import RECOVERED_AFTER, burn

Sessions = async_sessionmaker[AsyncSession]
HOOK = "http://127.0.0.1:9/hook"


def activities(sessions: Sessions, tmp_path: object, repeat_s: float = 3600) -> AlertActivities:
    settings = Settings(data_dir=tmp_path, alert_webhooks=[HOOK], alert_repeat_interval_s=repeat_s)
    return AlertActivities(settings, sessions)


async def run(acts: AlertActivities, at: object) -> ReconcileOutput:
    return await ActivityEnvironment().run(acts.reconcile_alerts, ReconcileInput(now=at))


async def transitions(sessions: Sessions) -> list[tuple[int | None, str, str, str, bool]]:
    async with sessions() as session:
        rows = await session.scalars(select(AlertTransition).order_by(AlertTransition.id))
        return [(t.alert_id, t.action, t.state, t.actor, t.notify) for t in rows.all()]


async def by_severity(sessions: Sessions) -> dict[str, store.AlertRow]:
    async with sessions() as session:
        return {a.severity: a for a in await store.list_alerts(session)}


async def test_burn_fires_then_ack_stops_repeats_then_recovery_resolves(
    sessions: Sessions, tmp_path: object
) -> None:
    now = utcnow()
    acts = activities(sessions, tmp_path, repeat_s=60)
    assert (await run(acts, now)).fired == []  # nothing burns yet

    await burn(sessions, now)
    first = await run(acts, now)
    alerts = await by_severity(sessions)
    assert set(alerts) == {"page", "ticket"}
    page, ticket = alerts["page"], alerts["ticket"]
    assert sorted(first.fired) == sorted([page.id, ticket.id])
    assert page.state == "firing" and page.fingerprint == "task_success:page"
    assert page.labels == {
        "alertname": "AgencySloErrorBudgetBurn",
        "slo": "task_success",
        "severity": "page",
    }
    # Each new alert's transition is to be notified to the webhook: two pending.
    assert {p.url_hash for p in first.pending} == {url_hash(HOOK)}
    assert len(first.pending) == 2

    # Still firing half a minute later: no new alert, no new transition, last_seen moves on.
    later = now + timedelta(seconds=30)
    second = await run(acts, later)
    assert (second.fired, second.resolved, second.renotified) == ([], [], [])
    assert (await by_severity(sessions))["page"].last_seen_at == later

    async with sessions() as session:
        await store.acknowledge(session, page.id, actor="alice", reason="looking")  # type: ignore[arg-type]
    # Past the repeat interval: the ticket is notified again, the acknowledged page is not.
    repeat = await run(acts, now + timedelta(minutes=2))
    assert repeat.renotified == [ticket.id]

    recovered = await run(acts, now + RECOVERED_AFTER)
    assert sorted(recovered.resolved) == sorted([page.id, ticket.id])
    assert all(
        a.state == "resolved" and a.resolved_by == "system"
        for a in (await by_severity(sessions)).values()
    )
    assert await transitions(sessions) == [
        (page.id, "fired", "firing", "system", True),
        (ticket.id, "fired", "firing", "system", True),
        (page.id, "acknowledged", "acknowledged", "alice", False),
        (ticket.id, "renotified", "firing", "system", True),
        (page.id, "resolved", "resolved", "system", True),
        (ticket.id, "resolved", "resolved", "system", True),
    ]


async def test_a_silenced_alert_is_not_notified_until_its_silence_ends(
    sessions: Sessions, tmp_path: object
) -> None:
    now = utcnow()
    acts = activities(sessions, tmp_path)
    async with sessions() as session:
        silence = await silences.create_silence(
            session,
            matchers=[
                {"name": "slo", "value": "task_success"},
                {"name": "severity", "value": "page"},
            ],
            starts_at=now - timedelta(minutes=1),
            ends_at=now + timedelta(hours=2),
            author="bob",
            reason="deploying",
            now=now,
        )
    await burn(sessions, now)
    fired = await run(acts, now)
    alerts = await by_severity(sessions)
    assert sorted(fired.fired) == sorted(a.id for a in alerts.values())
    # Only the ticket is notified: the page is silenced.
    notified = [t for t in await transitions(sessions) if t[4]]
    assert notified == [(alerts["ticket"].id, "fired", "firing", "system", True)]
    assert alerts["page"].last_notified_at is None

    async with sessions() as session:
        await silences.expire_silence(
            session, silence.id, actor="bob", now=now + timedelta(minutes=2)
        )  # type: ignore[arg-type]
    # Still firing once the silence is gone: notified now, for the first time.
    after = await run(acts, now + timedelta(minutes=3))
    assert after.renotified == [alerts["page"].id]
    actions = [(t[1], t[3]) for t in await transitions(sessions) if t[0] is None]
    assert actions == [("silence_created", "bob"), ("silence_expired", "bob")]


async def test_a_person_resolves_and_the_burn_opens_a_new_alert(
    sessions: Sessions, tmp_path: object
) -> None:
    now = utcnow()
    acts = activities(sessions, tmp_path)
    await burn(sessions, now)
    await run(acts, now)
    page = (await by_severity(sessions))["page"]
    async with sessions() as session:
        resolved = await store.resolve(session, page.id, actor="carol", reason="fixed")  # type: ignore[arg-type]
        assert (resolved.state, resolved.resolved_by) == ("resolved", "carol")
        try:
            await store.resolve(session, page.id, actor="carol", reason="again")  # type: ignore[arg-type]
        except store.AlertRefused as err:
            assert "already resolved" in str(err)
        else:
            raise AssertionError("a resolved alert was resolved again")
    again = await run(acts, now + timedelta(minutes=1))
    assert len(again.fired) == 1 and again.fired[0] != page.id


async def test_alerts_outlive_the_process(
    db_url: str, sessions: Sessions, tmp_path: object
) -> None:
    now = utcnow()
    await burn(sessions, now)
    await run(activities(sessions, tmp_path), now)
    # A new engine, as a restarted worker or API would open.
    engine = make_engine(db_url)
    try:
        reopened = session_maker(engine)
        async with reopened() as session:
            assert sorted(a.severity for a in await store.list_alerts(session, state="firing")) == [
                "page",
                "ticket",
            ]
        # And the restarted evaluator carries on with them rather than firing anew.
        second = await run(activities(reopened, tmp_path), now + timedelta(minutes=1))
        assert second.fired == []
    finally:
        await engine.dispose()
