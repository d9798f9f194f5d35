"""What a human sends a running task (pause, resume, approve, reject, override, guidance,
parameters, cancel) and the answer an update gets."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, Field

InterventionKind = Literal[
    "pause", "resume", "cancel", "approve", "reject", "override", "guidance", "parameters"
]
# Every kind, in that order (the workflow's signal and update names; metrics, trends,
# provenance and the dashboard list them so). A refused one is recorded as
# `<kind>_refused`.
INTERVENTION_KINDS: tuple[str, ...] = get_args(InterventionKind)
REFUSED_SUFFIX = "_refused"

# Actor recorded when a signal arrives without one: the `temporal` CLI sends no input.
DEFAULT_ACTOR = "temporal-cli"
MAX_ACTOR = 200
MAX_REASON = 4000


class Intervention(BaseModel):
    """Payload of pause/resume/cancel/approve/reject. Optional: `temporal workflow signal`
    may send nothing, and then the actor is DEFAULT_ACTOR."""

    actor: str = Field(default=DEFAULT_ACTOR, max_length=MAX_ACTOR)
    reason: str = Field(default="", max_length=MAX_REASON)


class OverrideInput(Intervention):
    verdict: Literal["approve", "reject"]


class GuidanceInput(Intervention):
    text: str = Field(min_length=1, max_length=20_000)


class ParametersInput(Intervention):
    max_iterations: int | None = Field(default=None, ge=1, le=20)
    risk_tier: int | None = Field(default=None, ge=1, le=3)


class InterventionAck(BaseModel):
    accepted: bool
    detail: str
