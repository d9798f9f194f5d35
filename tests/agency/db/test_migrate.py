"""Running migrations from code: revisions, idempotent upgrades, sync and async callers."""

from __future__ import annotations

from pathlib import Path

from agency.db import (
    current_revision,
    current_revision_async,
    downgrade_database,
    head_revision,
    upgrade_database,
    upgrade_database_async,
)
from agency.db.migrate import alembic_config, migrations_dir


def test_scripts_are_found_inside_the_package() -> None:
    directory = migrations_dir()
    assert (directory / "env.py").is_file()
    assert (directory / "script.py.mako").is_file()
    assert head_revision() is not None


def test_sync_upgrade_is_idempotent_and_reports_head(sqlite_url: str) -> None:
    assert current_revision(sqlite_url) is None
    upgrade_database(sqlite_url)
    upgrade_database(sqlite_url)
    assert current_revision(sqlite_url) == head_revision()
    downgrade_database(sqlite_url)
    assert current_revision(sqlite_url) is None


async def test_async_callers(db_url: str) -> None:
    assert await current_revision_async(db_url) is None
    await upgrade_database_async(db_url)
    assert await current_revision_async(db_url) == head_revision()
    # The sync form also works from inside a running event loop (CLI code reused in tests).
    assert current_revision(db_url) == head_revision()


def test_asking_for_the_revision_does_not_create_a_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "absent" / "agency.db"
    assert current_revision(f"sqlite+aiosqlite:///{path}") is None
    assert not path.exists()


def test_url_with_percent_survives_config() -> None:
    # URL-encoded passwords contain '%', which ConfigParser interpolation would reject.
    url = "postgresql+asyncpg://agency:p%40ss%25word@db.example:5432/agency"
    config = alembic_config(url)
    assert url in config.attributes.values()
