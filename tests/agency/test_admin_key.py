"""The first admin key `agency up` makes: once, 0600, usable by the CLI."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from sqlalchemy import Row

from agency.admin_key import ensure_admin_key, write_secret_file
from agency.cli.client import resolve_api_key
from agency.db import keys
from agency.db.migrate import upgrade_database
from agency.db.reads import make_reader
from agency.settings import Settings


async def verify(settings: Settings, raw: str) -> Row[Any] | None:
    reader = make_reader(settings.effective_database_url)
    try:
        return await keys.verify(reader, raw)
    finally:
        await reader.close()


async def test_first_start_writes_an_admin_key_once(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir()
    upgrade_database(settings.effective_database_url)

    path = ensure_admin_key(settings)
    assert path == (tmp_path / "data" / "admin.key").resolve()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    raw = path.read_text().strip()
    row = await verify(settings, raw)
    assert row is not None and (row.role, row.tenant) == ("admin", "default")
    assert resolve_api_key(settings) == raw

    # Later starts leave it alone.
    assert ensure_admin_key(settings) is None
    assert path.read_text().strip() == raw


def test_secret_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    import os

    old = os.umask(0)
    try:
        target = tmp_path / "nested" / "secret"
        write_secret_file(target, "one")
        write_secret_file(target, "two")
    finally:
        os.umask(old)
    assert target.read_text() == "two"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["secret"]
