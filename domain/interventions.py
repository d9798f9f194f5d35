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

# Interventions that keep a task where it is or steer it (each may be followed by one
# resume). A task takes at most MAX_HOLDING_INTERVENTIONS of them; resume, approve,
# reject, cancel and an override that decides an awaited approval, which let it go on or
# end, are never refused for their number (workflows/interventions.py). Why a bound: every
# intervention adds six events to the workflow's history and is one of Temporal's
# updates, of which an execution holds at most 2,000; past that the server refuses every
# update, approve included. 500 of them (and their resumes) stay near 6,000 events with
# 20 iterations, under the server's 10,240-event warning and far from its limit, with
# room for every update a task needs to end. A refused update leaves no trace in the
# history.
HOLDING_INTERVENTIONS = frozenset({"pause", "override", "guidance", "parameters"})
MAX_HOLDING_INTERVENTIONS = 500

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
