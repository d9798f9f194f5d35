"""Silences: label matchers with a time range, an author and a reason.

A silence mutes the notifications of every alert whose labels match all its matchers
(equality, as Alertmanager's `=`), from `starts_at` until `ends_at`. Expiring one ends it
now; its row stays, like every transition (`silence_created`, `silence_expired`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agency.db.alerts import AlertTransition, SilenceRow
from agency.db.types import utcnow

# The labels an alert carries (agency.alerts.labels); a matcher on another would never match.
MATCHABLE = ("alertname", "slo", "severity")


class SilenceRefused(ValueError):
    """An expiry that does not apply (the silence has already ended)."""


class UnknownSilence(LookupError):
    pass


def is_active(silence: SilenceRow, now: datetime) -> bool:
    return silence.expired_at is None and silence.starts_at <= now < silence.ends_at


def matches(silence: SilenceRow, labels: Mapping[str, str]) -> bool:
    return all(labels.get(m["name"]) == m["value"] for m in silence.matchers)


def silenced_by(
    silences: Iterable[SilenceRow], labels: Mapping[str, str], now: datetime
) -> list[int]:
    """Ids of the active silences that mute an alert with `labels`."""
    return [s.id for s in silences if s.id is not None and is_active(s, now) and matches(s, labels)]


async def active_silences(session: AsyncSession, now: datetime) -> list[SilenceRow]:
    rows = await session.scalars(
        select(SilenceRow).where(
            SilenceRow.expired_at.is_(None),  # type: ignore[union-attr]
            SilenceRow.ends_at > now,  # type: ignore[arg-type]
            SilenceRow.starts_at <= now,  # type: ignore[arg-type]
        )
    )
    return list(rows.all())


async def list_silences(
    session: AsyncSession, *, include_ended: bool, limit: int = 200
) -> list[SilenceRow]:
    query = select(SilenceRow).order_by(SilenceRow.id.desc()).limit(limit)  # type: ignore[union-attr]
    if not include_ended:
        query = query.where(
            SilenceRow.expired_at.is_(None),  # type: ignore[union-attr]
            SilenceRow.ends_at > utcnow(),  # type: ignore[arg-type]
        )
    return list((await session.scalars(query)).all())


async def get_silence(session: AsyncSession, silence_id: int) -> SilenceRow | None:
    return await session.get(SilenceRow, silence_id)


async def create_silence(
    session: AsyncSession,
    *,
    matchers: list[dict[str, str]],
    starts_at: datetime,
    ends_at: datetime,
    author: str,
    reason: str,
    now: datetime | None = None,
) -> SilenceRow:
    at = now or utcnow()
    row = SilenceRow(
        matchers=matchers,
        starts_at=starts_at,
        ends_at=ends_at,
        created_by=author,
        reason=reason,
        created_at=at,
    )
    session.add(row)
    await session.flush()
    session.add(
        AlertTransition(
            silence_id=row.id,
            at=at,
            actor=author,
            action="silence_created",
            state="active",
            reason=reason,
            detail={"matchers": matchers, "ends_at": ends_at.isoformat()},
        )
    )
    await session.commit()
    return row


async def expire_silence(
    session: AsyncSession,
    silence_id: int,
    *,
    actor: str,
    reason: str = "",
    now: datetime | None = None,
) -> SilenceRow:
    at = now or utcnow()
    row = await session.get(SilenceRow, silence_id, with_for_update=True)
    if row is None:
        raise UnknownSilence(silence_id)
    if row.expired_at is not None or row.ends_at <= at:
        raise SilenceRefused(f"silence {silence_id} has already ended")
    row.expired_at, row.expired_by = at, actor
    # Not started yet: it ends before it begins (ends_at >= starts_at always).
    row.ends_at = max(at, row.starts_at)
    session.add(
        AlertTransition(
            silence_id=row.id,
            at=at,
            actor=actor,
            action="silence_expired",
            state="expired",
            reason=reason,
        )
    )
    await session.commit()
    return row
