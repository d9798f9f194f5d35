"""Connecting to Temporal the same way everywhere: the pydantic data converter (DESIGN §9.1)."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from agency.settings import Settings


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.effective_temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )


def workflow_id_for(task_id: str) -> str:
    return f"task-{task_id}"
