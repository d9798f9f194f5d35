from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from agency import dev_server
from domain import search_attributes
from tests.support.harness import TEMPORAL_BIN


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """One Temporal dev server (the temporal-bin binary) shared by the tests that need one."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_BIN),
        data_converter=pydantic_data_converter,
        ui=False,
        # As `agency up` registers them (domain/search_attributes.py).
        search_attributes=search_attributes.ALL,
        dev_server_extra_args=dev_server.dynamic_config_args(),
    )
    try:
        yield env
    finally:
        await env.shutdown()
