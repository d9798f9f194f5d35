"""The webhook body: Alertmanager's webhook payload (version 4), one alert per
notification, and its HMAC-SHA256 signature.

Receivers written for Alertmanager (PagerDuty and Slack bridges, alertmanager-webhook
loggers) read it unchanged. One notification is one transition of one alert, so the
group is that alert: `groupKey` names its labels, `commonLabels` are its labels.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from agency.db.alerts import AlertRow, AlertTransition

RECEIVER = "agency"
# Alertmanager's "not ended" endsAt: Go's zero time.
ZERO_TIME = "0001-01-01T00:00:00Z"
SIGNATURE_HEADER = "X-Agency-Signature"
DELIVERY_HEADER = "X-Agency-Delivery"


def _rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def group_key(labels: dict[str, str]) -> str:
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return "{}:{" + inner + "}"


def payload(alert: AlertRow, transition: AlertTransition, external_url: str) -> dict[str, Any]:
    status = "resolved" if transition.state == "resolved" else "firing"
    ends = alert.resolved_at if status == "resolved" and alert.resolved_at else None
    item = {
        "status": status,
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "startsAt": _rfc3339(alert.started_at),
        "endsAt": _rfc3339(ends) if ends else ZERO_TIME,
        "generatorURL": f"{external_url.rstrip('/')}/ui/alerts#alert-{alert.id}",
        "fingerprint": hashlib.sha256(alert.fingerprint.encode()).hexdigest()[:16],
    }
    return {
        "version": "4",
        "groupKey": group_key(alert.labels),
        "truncatedAlerts": 0,
        "status": status,
        "receiver": RECEIVER,
        "groupLabels": dict(alert.labels),
        "commonLabels": dict(alert.labels),
        "commonAnnotations": dict(alert.annotations),
        "externalURL": external_url,
        "alerts": [item],
        # Ours, beside Alertmanager's: which alert and transition this is (receivers may
        # deduplicate on it; it is also the X-Agency-Delivery header).
        "agency": {
            "alert_id": alert.id,
            "transition_id": transition.id,
            "action": transition.action,
        },
    }


def body_bytes(document: dict[str, Any]) -> bytes:
    # Fixed key order and separators: the signed bytes are the sent bytes, every attempt.
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()
