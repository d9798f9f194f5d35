"""Alerts in the database: reconciled with what the SLO evaluator sees firing, and moved
through their lifecycle by people.

    (evaluator sees it)  → firing ──ack──→ acknowledged
    firing | acknowledged ──(evaluator no longer sees it, or a person)──→ resolved

One open alert per fingerprint (SLO and severity); a fingerprint that fires again after
its alert was resolved opens a new alert. Every change is an `alert_transitions` row with
its actor (`system` for the evaluator's) and whether it is to be notified:

- `fired`: notified unless a silence matches;
- `renotified`: a firing alert, neither acknowledged nor silenced, not notified for the
  repeat interval (or never: its silence ended while it still fires);
- `resolved`: notified when its firing was (a receiver never told it fired is not told
  it stopped);
- `acknowledged`: never notified, and an acknowledged alert is not repeated.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agency.alerts.silences import active_silences, silenced_by
from agency.db.alerts import OPEN_STATES, SYSTEM_ACTOR, AlertRow, AlertTransition
from agency.db.types import utcnow

ALERTNAME = "AgencySloErrorBudgetBurn"  # the Prometheus rules' alert name (agency/slo/rules.py)


class Firing(BaseModel):
    """One (SLO, severity) the evaluator sees firing now."""

    slo: str
    severity: str
    summary: str
    description: str


class ReconcileResult(BaseModel):
    fired: list[int] = []
    resolved: list[int] = []
    renotified: list[int] = []
    still_firing: list[int] = []


class AlertRefused(ValueError):
    """A lifecycle step that does not apply to the alert's state; the message says why."""


class UnknownAlert(LookupError):
    pass


def fingerprint(slo: str, severity: str) -> str:
    return f"{slo}:{severity}"


def labels_of(slo: str, severity: str) -> dict[str, str]:
    return {"alertname": ALERTNAME, "slo": slo, "severity": severity}


def _transition(
    alert: AlertRow, at: datetime, actor: str, action: str, reason: str = "", *, notify: bool
) -> AlertTransition:
    return AlertTransition(
        alert_id=alert.id,
        at=at,
        actor=actor,
        action=action,
        state=alert.state,
        reason=reason,
        notify=notify,
    )


async def open_alerts(session: AsyncSession) -> list[AlertRow]:
    rows = await session.scalars(select(AlertRow).where(AlertRow.state.in_(OPEN_STATES)))  # type: ignore[attr-defined]
    return list(rows.all())


async def reconcile(
    session: AsyncSession, firing: Sequence[Firing], *, now: datetime, repeat: timedelta
) -> ReconcileResult:
    """Bring the alerts in line with `firing` and commit. Run by one evaluator at a time
    (the schedule skips overlapping runs); the unique open fingerprint refuses a second
    open alert should two ever race."""
    result = ReconcileResult()
    silences = await active_silences(session, now)
    by_fingerprint = {a.fingerprint: a for a in await open_alerts(session)}
    seen: set[str] = set()
    for f in firing:
        fp = fingerprint(f.slo, f.severity)
        seen.add(fp)
        alert = by_fingerprint.get(fp)
        if alert is not None:
            alert.last_seen_at = now
            alert.annotations = {"summary": f.summary, "description": f.description}
            result.still_firing.append(alert.id)  # type: ignore[arg-type]
            continue
        labels = labels_of(f.slo, f.severity)
        notify = not silenced_by(silences, labels, now)
        alert = AlertRow(
            fingerprint=fp,
            open_fingerprint=fp,
            slo=f.slo,
            severity=f.severity,
            state="firing",
            labels=labels,
            annotations={"summary": f.summary, "description": f.description},
            started_at=now,
            last_seen_at=now,
            last_notified_at=now if notify else None,
        )
        session.add(alert)
        await session.flush()
        session.add(_transition(alert, now, SYSTEM_ACTOR, "fired", notify=notify))
        result.fired.append(alert.id)  # type: ignore[arg-type]
    for fp, alert in by_fingerprint.items():
        if fp not in seen:
            _resolve(
                session, alert, now, SYSTEM_ACTOR, "the SLO no longer burns its budget this fast"
            )
            result.resolved.append(alert.id)  # type: ignore[arg-type]
        elif _repeat_due(alert, silences, now, repeat):
            alert.last_notified_at = now
            session.add(_transition(alert, now, SYSTEM_ACTOR, "renotified", notify=True))
            result.renotified.append(alert.id)  # type: ignore[arg-type]
    await session.commit()
    return result


def _repeat_due(
    alert: AlertRow, silences: Sequence[object], now: datetime, repeat: timedelta
) -> bool:
    if alert.state != "firing" or silenced_by(silences, alert.labels, now):  # type: ignore[arg-type]
        return False
    return alert.last_notified_at is None or now - alert.last_notified_at >= repeat


def _resolve(session: AsyncSession, alert: AlertRow, at: datetime, actor: str, reason: str) -> None:
    alert.state, alert.open_fingerprint = "resolved", None
    alert.resolved_at, alert.resolved_by = at, actor
    session.add(
        _transition(alert, at, actor, "resolved", reason, notify=alert.last_notified_at is not None)
    )


async def _require(session: AsyncSession, alert_id: int) -> AlertRow:
    alert = await session.get(AlertRow, alert_id, with_for_update=True)
    if alert is None:
        raise UnknownAlert(alert_id)
    return alert


async def acknowledge(
    session: AsyncSession, alert_id: int, *, actor: str, reason: str, now: datetime | None = None
) -> AlertRow:
    at = now or utcnow()
    alert = await _require(session, alert_id)
    if alert.state != "firing":
        raise AlertRefused(
            f"alert {alert_id} is {alert.state}; only a firing alert can be acknowledged"
        )
    alert.state, alert.acknowledged_at, alert.acknowledged_by = "acknowledged", at, actor
    session.add(_transition(alert, at, actor, "acknowledged", reason, notify=False))
    await session.commit()
    return alert


async def resolve(
    session: AsyncSession, alert_id: int, *, actor: str, reason: str, now: datetime | None = None
) -> AlertRow:
    """A person's resolve. Should the SLO still burn, the next evaluation opens a new alert."""
    at = now or utcnow()
    alert = await _require(session, alert_id)
    if alert.state not in OPEN_STATES:
        raise AlertRefused(f"alert {alert_id} is already resolved")
    _resolve(session, alert, at, actor, reason)
    await session.commit()
    return alert


async def list_alerts(
    session: AsyncSession, *, state: str | None = None, limit: int = 200
) -> list[AlertRow]:
    query = select(AlertRow).order_by(AlertRow.id.desc()).limit(limit)  # type: ignore[union-attr]
    if state is not None:
        query = query.where(AlertRow.state == state)
    return list((await session.scalars(query)).all())


async def get_alert(session: AsyncSession, alert_id: int) -> AlertRow | None:
    return await session.get(AlertRow, alert_id)


async def transitions_of(session: AsyncSession, alert_id: int) -> list[AlertTransition]:
    rows = await session.scalars(
        select(AlertTransition)
        .where(AlertTransition.alert_id == alert_id)
        .order_by(AlertTransition.id)  # type: ignore[arg-type]
    )
    return list(rows.all())
