"""Connecting to Temporal the same way everywhere: the pydantic data converter."""

from __future__ import annotations

import os
import socket

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from agency.settings import Settings


def identity(role: str | None = None) -> str:
    """`<pid>@<host>` (the SDK's own default), then the role: pollers of a task queue can
    be told apart, and `agency up` finds its child's poller by the pid."""
    base = f"{os.getpid()}@{socket.gethostname()}"
    return f"{base} {role}" if role else base


async def connect(settings: Settings, role: str | None = None) -> Client:
    return await Client.connect(
        settings.effective_temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        identity=identity(role),
    )


def workflow_id_for(task_id: str) -> str:
    return f"task-{task_id}"
