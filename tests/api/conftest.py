from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from agency.asgi_thread import serve_app
from api.app import create_app
from tests.support.harness import Harness, harness


@dataclass
class ApiUnderTest:
    http: httpx.AsyncClient
    h: Harness


@pytest.fixture
async def api(dev_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[ApiUnderTest]:
    """The API served over real HTTP, with a worker, an executor and SQLite behind it."""
    async with harness(dev_env.client, tmp_path) as h:
        with serve_app(create_app(h.settings)) as url:
            async with httpx.AsyncClient(
                base_url=url, headers={"X-Agency-Actor": "tester"}, timeout=30
            ) as http:
                yield ApiUnderTest(http=http, h=h)
