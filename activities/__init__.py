"""Every side effect the task workflow needs, as Temporal activities.

`build_activities` lists those of the workflow worker; the executor's own (agent, gates,
apply) run in executor processes (activities/executor.py, agency/executor/worker.py).
Each is registered under its typed reference in domain/activities.py (`@implements`,
activities/defn.py), the one place its name and types are written; the workflow calls it
through the same reference and never imports this package.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.alerts import AlertActivities
from activities.governance import GovernanceActivities
from activities.inference import InferenceActivities
from activities.provenance import ProvenanceActivities
from activities.records import RecordActivities
from agency.settings import Settings


def build_activities(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> list[Callable[..., Any]]:
    governance = GovernanceActivities(settings, sessions)
    records = RecordActivities(sessions)
    inference = InferenceActivities(settings, sessions=sessions)
    provenance = ProvenanceActivities(settings, sessions)
    alerts = AlertActivities(settings, sessions)
    return [
        governance.validate_task,
        governance.judge,
        records.record,
        records.record_entry,
        inference.draft_patch,
        provenance.record_provenance,
        alerts.reconcile_alerts,
        alerts.deliver_alert,
    ]
