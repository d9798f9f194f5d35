"""The API alone (no Temporal, no worker) over real HTTP, for the model and chat routes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from agency.asgi_thread import serve_app
from agency.db.keys import Role
from agency.db.migrate import upgrade_database
from agency.settings import Settings
from api.app import create_app
from tests.support.keys import bearer, make_key


@dataclass
class ApiProcess:
    url: str
    settings: Settings

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http")


def api_settings(data_dir: Path) -> Settings:
    settings = Settings(data_dir=data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_database(settings.effective_database_url)
    return settings


async def new_key(
    settings: Settings, role: Role = "operator", tenant: str = "default"
) -> dict[str, str]:
    raw = await make_key(settings.effective_database_url, f"{role}-key", role, tenant)
    return bearer(raw)


@contextmanager
def running_api(settings: Settings) -> Iterator[ApiProcess]:
    """The API served in a thread (its own event loop); stopping it is a restart's first half."""
    with serve_app(create_app(settings)) as url:
        yield ApiProcess(url=url, settings=settings)
