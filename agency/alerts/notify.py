"""Notifications: which (transition, webhook) pairs still wait for a delivery, and one
delivery.

A delivery is idempotent per (transition, webhook): it is stored once the webhook
answered 2xx, and a transition already delivered to a webhook is not posted there again,
whether an attempt is retried by Temporal or a later evaluation finds it pending.
(A webhook may still see a body twice when it answered but the answer was lost; the
`X-Agency-Delivery` header, the transition's id, lets it drop the repeat.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agency.alerts.payload import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    body_bytes,
    payload,
    signature,
    url_hash,
)
from agency.db.alerts import AlertDelivery, AlertRow, AlertTransition
from agency.db.types import utcnow
from domain.alerts import Notification as Pending

DELIVERY_TIMEOUT_S = 10.0


class DeliveryFailed(Exception):
    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


async def pending(session: AsyncSession, urls: list[str], since: datetime) -> list[Pending]:
    """Notified transitions since `since` not yet delivered to each of `urls`."""
    if not urls:
        return []
    transitions = await session.scalars(
        select(AlertTransition.id)
        .where(
            AlertTransition.notify.is_(True),  # type: ignore[attr-defined]
            AlertTransition.alert_id.is_not(None),  # type: ignore[union-attr]
            AlertTransition.at >= since,  # type: ignore[arg-type]
        )
        .order_by(AlertTransition.id)  # type: ignore[arg-type]
    )
    ids = list(transitions.all())
    if not ids:
        return []
    done = await session.execute(
        select(AlertDelivery.transition_id, AlertDelivery.url_hash).where(
            AlertDelivery.transition_id.in_(ids)  # type: ignore[attr-defined]
        )
    )
    delivered = {(t, h) for t, h in done.all()}
    hashes = [url_hash(u) for u in urls]
    return [
        Pending(transition_id=t, url_hash=h) for t in ids for h in hashes if (t, h) not in delivered
    ]


async def deliver(
    session: AsyncSession,
    item: Pending,
    urls: list[str],
    *,
    secret: str | None,
    external_url: str,
    http: httpx.AsyncClient,
) -> Literal["delivered", "already", "unconfigured"]:
    """Post one transition to one webhook; raises DeliveryFailed when it was not taken."""
    url = next((u for u in urls if url_hash(u) == item.url_hash), None)
    if url is None:
        return "unconfigured"  # the webhook was removed from the settings since
    already = await session.scalar(
        select(AlertDelivery.id).where(
            AlertDelivery.transition_id == item.transition_id,
            AlertDelivery.url_hash == item.url_hash,
        )
    )
    if already is not None:
        return "already"
    transition = await session.get(AlertTransition, item.transition_id)
    alert = await session.get(AlertRow, transition.alert_id) if transition else None
    if transition is None or alert is None:
        raise DeliveryFailed(f"transition {item.transition_id} not found", retryable=False)
    body = body_bytes(payload(alert, transition, external_url))
    headers = {"Content-Type": "application/json", DELIVERY_HEADER: str(transition.id)}
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, body)
    try:
        response = await http.post(url, content=body, headers=headers, timeout=DELIVERY_TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"webhook unreachable: {type(exc).__name__}", retryable=True) from None
    if not response.is_success:
        # 5xx and 429 are the receiver's trouble, worth retrying; another 4xx would be
        # refused again (a wrong URL or secret), which no retry cures.
        retryable = response.status_code >= 500 or response.status_code in (408, 429)
        raise DeliveryFailed(f"webhook answered {response.status_code}", retryable=retryable)
    session.add(
        AlertDelivery(
            transition_id=transition.id,  # type: ignore[arg-type]
            url_hash=item.url_hash,
            status=response.status_code,
            delivered_at=utcnow(),
        )
    )
    try:
        await session.commit()
    except IntegrityError:  # a concurrent attempt stored it first
        await session.rollback()
    return "delivered"
