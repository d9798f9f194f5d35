"""Response shapes of a task's provenance verification and determinism replay."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class CheckPublic(BaseModel):
    name: str
    status: Literal["pass", "fail", "skip"]
    detail: str


class ProvenancePublic(BaseModel):
    task_id: str
    verified: bool = Field(description="True only when no check failed.")
    pending: bool = Field(
        default=False, description="The workflow still runs; the record is its last step."
    )
    checks: list[CheckPublic]
    kid: str | None = None
    commit: str | None = Field(default=None, description="Commit in the provenance repository.")
    path: str | None = Field(default=None, description="The record's file in that repository.")
    record_sha256: str | None = None
    jws: str | None = Field(default=None, description="The compact JWS (EdDSA) of the record.")
    record: dict[str, Any] | None = Field(
        default=None, description="The signed record (unverified when the signature fails)."
    )


class ReplayPublic(BaseModel):
    task_id: str
    workflow_id: str
    run_id: str
    events: int
    deterministic: bool
    divergence: str | None = Field(
        default=None, description="Temporal's description of the first divergence."
    )
