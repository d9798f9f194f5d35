"""The shape of GET /health: each dependency reported on its own."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class DependencyHealth(BaseModel):
    ok: bool
    detail: str = ""


class PollerPublic(BaseModel):
    identity: str = Field(description="the worker's Temporal identity (`<pid>@<host> <role>`)")
    last_access_time: datetime | None = Field(description="when it last polled the queue")
    active: bool = Field(description="polled recently enough to be taking work")


class PollersHealth(DependencyHealth):
    """The pollers of one task queue; `ok` when at least one of them is active."""

    task_queue: str
    pollers: list[PollerPublic]


class StackPartPublic(BaseModel):
    name: str
    state: str = Field(description="starting, up, restarting, stopping or stopped")
    restarts: int
    pid: int | None


class StackHealth(BaseModel):
    """The processes `agency up` supervises on this machine, from its state file."""

    supervisor_pid: int
    updated_at: datetime
    parts: list[StackPartPublic]


class Health(BaseModel):
    status: Literal["ok", "degraded"] = Field(
        description="ok: Temporal and the database answer, and at least one executor and "
        "one workflow worker poll their queues"
    )
    temporal: DependencyHealth
    database: DependencyHealth
    executors: PollersHealth = Field(description="pollers of the executors' activity queue")
    workers: PollersHealth = Field(description="pollers of the workflow task queue")
    stack: StackHealth | None = Field(
        default=None,
        description="present while an `agency up` supervisor runs the stack on this machine",
    )
