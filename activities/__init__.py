"""Every side effect the task workflow needs, as Temporal activities."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.execution import ExecutionActivities
from activities.governance import GovernanceActivities
from activities.inference import InferenceActivities
from activities.provenance import ProvenanceActivities
from activities.records import RecordActivities
from agency.settings import Settings


def build_activities(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> list[Callable[..., Any]]:
    governance = GovernanceActivities(settings, sessions)
    execution = ExecutionActivities(settings)
    records = RecordActivities(sessions)
    inference = InferenceActivities(settings)
    provenance = ProvenanceActivities(settings, sessions)
    return [
        governance.validate_task,
        governance.judge,
        execution.choose_executor,
        execution.execute,
        execution.run_gates,
        execution.control_run,
        execution.apply_change,
        execution.discard_workspace,
        records.record,
        inference.generate,
        inference.draft_patch,
        provenance.record_provenance,
    ]
