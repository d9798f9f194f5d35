"""Waivers in the database: proposed, approved by others, active until they expire or are
revoked. Ids are WV-NNNN. The council judges them in the CAWS waiver form (`caws_form`),
exactly like the waiver files of a CAWS repository.

Lifecycle: proposed → active (once enough independent approvals are in) → expired (its
time has passed) | revoked (by a person, with a reason). Nobody approves twice, and the
waiver's creator and risk owner cannot approve it at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from agency.db.types import UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")
WaiverStatus = Literal["proposed", "active", "expired", "revoked"]
OPEN_STATUSES = ("proposed", "active")
_ID_ATTEMPTS = 5


class WaiverRow(SQLModel, table=True):
    __tablename__ = "waivers"
    __table_args__ = (
        UniqueConstraint("number", name="uq_waivers_number"),
        Index("ix_waivers_tenant_status", "tenant", "status"),
    )

    id: str = Field(primary_key=True, max_length=16)
    number: int
    tenant: str = Field(max_length=100)
    title: str = Field(max_length=500)
    reason: str = Field(sa_type=Text)
    reason_code: str = Field(max_length=50)
    gates: list[str] = Field(default_factory=list, sa_type=JSON)
    # Budget deltas: {"max_files": n, "max_loc": n}, both >= 0.
    delta: dict[str, int] = Field(default_factory=dict, sa_type=JSON)
    # CAWS spec ids the waiver applies to.
    applies_to: list[str] = Field(default_factory=list, sa_type=JSON)
    risk_owner: str = Field(max_length=200)
    # The tier whose approver count the policy requires; None means the strictest.
    risk_tier: int | None = None
    created_by: str = Field(max_length=200)
    status: str = Field(default="proposed", max_length=20)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    expires_at: datetime = Field(sa_type=UTCDateTime())
    activated_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    revoked_by: str | None = Field(default=None, max_length=200)
    revoke_reason: str | None = Field(default=None, sa_type=Text)


class WaiverApproval(SQLModel, table=True):
    __tablename__ = "waiver_approvals"
    __table_args__ = (
        UniqueConstraint("waiver_id", "handle", name="uq_waiver_approvals_waiver_id_handle"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    waiver_id: str = Field(
        max_length=16,
        sa_column_args=[ForeignKey("waivers.id", name="fk_waiver_approvals_waiver_id_waivers")],
    )
    approver: str = Field(max_length=200)
    # The approver compared case-insensitively: one approval per person per waiver.
    handle: str = Field(max_length=200)
    comment: str = Field(default="", sa_type=Text)
    approved_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class WaiverRefused(ValueError):
    """A lifecycle step that does not apply; the message says why."""


class UnknownWaiverError(LookupError):
    pass


def handle_of(name: str) -> str:
    return name.strip().casefold()


def format_id(number: int) -> str:
    return f"WV-{number:04d}"


# ------------------------------------------------------------------------ writes
async def create_waiver(
    session: AsyncSession,
    *,
    tenant: str,
    title: str,
    reason: str,
    reason_code: str,
    gates: Sequence[str],
    delta: dict[str, int],
    applies_to: Sequence[str],
    risk_owner: str,
    risk_tier: int | None,
    created_by: str,
    expires_at: datetime,
    now: datetime | None = None,
) -> WaiverRow:
    """Insert a proposed waiver with the next free WV-NNNN id and commit."""
    at = now or utcnow()
    if expires_at <= at:
        raise WaiverRefused("expires_at must be in the future")
    for _ in range(_ID_ATTEMPTS):
        number = int(await session.scalar(select(func.coalesce(func.max(WaiverRow.number), 0))))
        row = WaiverRow(
            id=format_id(number + 1),
            number=number + 1,
            tenant=tenant,
            title=title,
            reason=reason,
            reason_code=reason_code,
            gates=list(gates),
            delta=dict(delta),
            applies_to=list(applies_to),
            risk_owner=risk_owner,
            risk_tier=risk_tier,
            created_by=created_by,
            status="proposed",
            created_at=at,
            expires_at=expires_at,
        )
        session.add(row)
        try:
            await session.commit()
        except IntegrityError:
            # Another writer took the number first; take the next one.
            await session.rollback()
            continue
        return row
    raise WaiverRefused("could not allocate a waiver id; try again")


async def approve_waiver(
    session: AsyncSession,
    waiver_id: str,
    *,
    approver: str,
    required: int,
    tenant: str | None = None,
    comment: str = "",
    now: datetime | None = None,
) -> WaiverRow:
    """Add `approver`'s approval and commit; the waiver becomes active once it has
    `required` approvals. Raises WaiverRefused for a self-approval, a second approval by
    the same person, or a waiver that is expired or revoked."""
    at = now or utcnow()
    await expire_due(session, at)
    row = await _require(session, waiver_id, tenant)
    if row.status not in OPEN_STATUSES:
        raise WaiverRefused(f"waiver {waiver_id} is {row.status}; it cannot be approved")
    handle = handle_of(approver)
    if not handle:
        raise WaiverRefused("an approval needs an approver")
    if handle in {handle_of(row.created_by), handle_of(row.risk_owner)}:
        raise WaiverRefused(
            f"{approver} cannot approve waiver {waiver_id}: its creator and its risk owner "
            "may not approve their own waiver"
        )
    approvals = await list_approvals(session, waiver_id)
    if handle in {a.handle for a in approvals}:
        raise WaiverRefused(f"{approver} has already approved waiver {waiver_id}")
    session.add(
        WaiverApproval(
            waiver_id=waiver_id, approver=approver, handle=handle, comment=comment, approved_at=at
        )
    )
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise WaiverRefused(f"{approver} has already approved waiver {waiver_id}") from None
    if row.status == "proposed" and len(approvals) + 1 >= required:
        await session.execute(
            update(WaiverRow)
            .where(WaiverRow.id == waiver_id, WaiverRow.status == "proposed")
            .values(status="active", activated_at=at)
        )
    await session.commit()
    return await _require(session, waiver_id, tenant)


async def revoke_waiver(
    session: AsyncSession,
    waiver_id: str,
    *,
    by: str,
    reason: str,
    tenant: str | None = None,
    now: datetime | None = None,
) -> WaiverRow:
    at = now or utcnow()
    await expire_due(session, at)
    row = await _require(session, waiver_id, tenant)
    if row.status not in OPEN_STATUSES:
        raise WaiverRefused(f"waiver {waiver_id} is already {row.status}")
    await session.execute(
        update(WaiverRow)
        .where(WaiverRow.id == waiver_id)
        .values(status="revoked", revoked_at=at, revoked_by=by, revoke_reason=reason)
    )
    await session.commit()
    return await _require(session, waiver_id, tenant)


async def expire_due(session: AsyncSession, now: datetime | None = None) -> int:
    """Mark open waivers whose time has passed as expired; commits; how many changed."""
    result = await session.execute(
        update(WaiverRow)
        .where(WaiverRow.status.in_(OPEN_STATUSES), WaiverRow.expires_at <= (now or utcnow()))
        .values(status="expired")
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# ------------------------------------------------------------------------- reads
async def _require(session: AsyncSession, waiver_id: str, tenant: str | None) -> WaiverRow:
    row = await get_waiver(session, waiver_id, tenant)
    if row is None:
        raise UnknownWaiverError(waiver_id)
    return row


async def get_waiver(
    session: AsyncSession, waiver_id: str, tenant: str | None = None
) -> WaiverRow | None:
    stmt = select(WaiverRow).where(WaiverRow.id == waiver_id)
    if tenant is not None:
        stmt = stmt.where(WaiverRow.tenant == tenant)
    return (await session.scalars(stmt.execution_options(populate_existing=True))).one_or_none()


async def list_approvals(session: AsyncSession, waiver_id: str) -> list[WaiverApproval]:
    stmt = (
        select(WaiverApproval)
        .where(WaiverApproval.waiver_id == waiver_id)
        .order_by(WaiverApproval.approved_at, WaiverApproval.id)
        .execution_options(populate_existing=True)
    )
    return list((await session.scalars(stmt)).all())


async def list_waivers(
    session: AsyncSession,
    *,
    tenant: str | None = None,
    status: str | None = None,
    applies_to: str | None = None,
    limit: int = 200,
) -> list[WaiverRow]:
    stmt = select(WaiverRow).order_by(WaiverRow.number.desc()).limit(limit)
    if tenant is not None:
        stmt = stmt.where(WaiverRow.tenant == tenant)
    if status is not None:
        stmt = stmt.where(WaiverRow.status == status)
    rows = list((await session.scalars(stmt.execution_options(populate_existing=True))).all())
    # JSON containment differs between backends; the list is small enough to filter here.
    return [r for r in rows if applies_to is None or applies_to in r.applies_to]


def caws_form(row: WaiverRow, approvals: Sequence[WaiverApproval]) -> dict[str, Any]:
    """The waiver as a CAWS waiver (council.waivers.parse_waiver reads it)."""
    data: dict[str, Any] = {
        "id": row.id,
        "title": row.title,
        "status": row.status,
        "gates": list(row.gates),
        "reason": row.reason_code,
        "reason_code": row.reason_code,
        "description": row.reason,
        "risk_owner": row.risk_owner,
        "created_by": row.created_by,
        "applies_to": list(row.applies_to),
        "delta": {"max_files": 0, "max_loc": 0, **row.delta},
        "created_at": row.created_at.isoformat(),
        "expires_at": row.expires_at.isoformat(),
        "approvers": [
            {"handle": a.approver, "approved_at": a.approved_at.isoformat()} for a in approvals
        ],
        "source": "database",
    }
    if row.revoked_at is not None:
        data["revocation"] = {
            "revoked_at": row.revoked_at.isoformat(),
            "revoked_by": row.revoked_by,
            "reason": row.revoke_reason,
        }
    return data


async def waivers_for_judging(
    session: AsyncSession, waiver_ids: Sequence[str], *, tenant: str | None, now: datetime
) -> list[dict[str, Any]]:
    """The named waivers of `tenant` in CAWS form, after expiring what is due."""
    if not waiver_ids:
        return []
    await expire_due(session, now)
    stmt = select(WaiverRow).where(WaiverRow.id.in_(list(waiver_ids)))
    if tenant is not None:
        stmt = stmt.where(WaiverRow.tenant == tenant)
    rows = list((await session.scalars(stmt.execution_options(populate_existing=True))).all())
    return [caws_form(row, await list_approvals(session, row.id)) for row in rows]
