"""Run records on disk: one JSON file per run, replaced atomically on every change.

The record is what makes POST /execute idempotent across executor restarts, and what
lets a restarted executor say what happened to runs it was in the middle of.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from agency.executor.layout import atomic_write
from agency.executor.schemas import ApplyResult, ExecuteRequest, RunState, RunStatus
from agency.executor.workspace import WorkspaceInfo

log = logging.getLogger(__name__)

REDACTED = "<redacted>"


class RunRecord(BaseModel):
    status: RunStatus
    request: ExecuteRequest
    network: bool = False
    workspace: WorkspaceInfo | None = None
    gates_ran: bool = False
    # The state a suspended run returns to on resume (running or gating).
    resume_state: RunState | None = None
    # Fixed at the first apply attempt so that every attempt makes the same commit.
    apply_date: str | None = None
    apply_known: list[str] = Field(default_factory=list)
    apply_result: ApplyResult | None = None


class RunStore:
    def __init__(self, runs_dir: Path) -> None:
        self._dir = runs_dir

    def save(self, record: RunRecord) -> None:
        path = self._dir / f"{record.status.run_id}.json"
        data = record.model_dump(mode="json")
        # The agent's variables may be credentials; the record only needs their names
        # (the agent never runs again from a stored record).
        env = data["request"]["agent"]["env"]
        data["request"]["agent"]["env"] = {name: REDACTED for name in env}
        atomic_write(path, json.dumps(data, indent=1).encode())

    def load_all(self) -> list[RunRecord]:
        records: list[RunRecord] = []
        for path in sorted(self._dir.glob("*.json")):
            try:
                records.append(RunRecord.model_validate_json(path.read_bytes()))
            except (OSError, ValidationError) as exc:
                # One unreadable record must not stop the executor from serving the rest.
                log.error("skipping unreadable run record %s: %s", path, exc)
        return records
