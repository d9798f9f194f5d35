"""An API on a migrated database without Temporal, a viewer and an operator key, and
alerts fired straight into the database: what the alert route and page tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from agency.alerts.store import Firing, reconcile
from agency.asgi_thread import free_port, serve_app
from agency.db.engine import make_engine, session_maker
from agency.db.migrate import upgrade_database
from agency.db.types import utcnow
from agency.settings import Settings
from api.app import create_app
from tests.support.keys import bearer, make_key


@dataclass
class Served:
    url: str
    settings: Settings
    keys: dict[str, str]

    def client(self, role: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers=bearer(self.keys[role]))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    data = tmp_path / "data"
    data.mkdir()
    # No Temporal: these routes need only the database.
    settings = Settings(data_dir=data, temporal_address=f"127.0.0.1:{free_port()}")
    upgrade_database(settings.effective_database_url)
    with serve_app(create_app(settings)) as url:
        yield Served(url, settings, {})


@pytest.fixture
async def api(served: Served) -> AsyncIterator[Served]:
    url = served.settings.effective_database_url
    for name, role in (("vera", "viewer"), ("otto", "operator")):
        served.keys[role] = await make_key(
            url, name, role, "other" if role == "viewer" else "default"
        )
    yield served


async def fire(api: Served, *pairs: tuple[str, str]) -> None:
    engine = make_engine(api.settings.effective_database_url)
    try:
        async with session_maker(engine)() as session:
            firing = [
                Firing(slo=s, severity=v, summary=f"{s} burns", description="d") for s, v in pairs
            ]
            await reconcile(session, firing, now=utcnow(), repeat=timedelta(hours=4))
    finally:
        await engine.dispose()
