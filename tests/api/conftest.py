from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from agency.asgi_thread import serve_app
from agency.db.keys import Role
from api.app import create_app
from tests.support.harness import Harness, harness
from tests.support.keys import bearer, make_key
from workflows.task import TaskWorkflow


@dataclass
class ApiUnderTest:
    """The API at `url`; `http` carries an admin key of tenant "default" named "tester"."""

    http: httpx.AsyncClient
    h: Harness
    url: str
    admin_key: str
    _clients: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.admin_key)

    async def key(self, name: str, role: Role = "admin", tenant: str = "default") -> str:
        return await make_key(self.h.settings.effective_database_url, name, role, tenant)

    def client(self, key: str | None, base_url: str | None = None) -> httpx.AsyncClient:
        """A client for `key` (None: no key), closed with the fixture."""
        http = httpx.AsyncClient(
            base_url=base_url or self.url, headers=bearer(key) if key else {}, timeout=30
        )
        self._clients.append(http)
        return http


@pytest.fixture
async def api(dev_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[ApiUnderTest]:
    """The API served over real HTTP, with a worker, an executor and SQLite behind it."""
    async with harness(dev_env.client, tmp_path) as h:
        admin = await make_key(h.settings.effective_database_url, "tester", "admin")
        with serve_app(create_app(h.settings, workflows=[TaskWorkflow])) as url:
            async with httpx.AsyncClient(base_url=url, headers=bearer(admin), timeout=30) as http:
                under_test = ApiUnderTest(http=http, h=h, url=url, admin_key=admin)
                try:
                    yield under_test
                finally:
                    for client in under_test._clients:
                        await client.aclose()
