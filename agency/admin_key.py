"""The first admin key: made by `agency up` when the database has no active admin key,
written to `<data_dir>/admin.key` (mode 0600) where the CLI finds it."""

from __future__ import annotations

import os
from pathlib import Path

from agency.db import keys
from agency.db.engine import make_engine, session_maker
from agency.db.migrate import run_blocking
from agency.db.reads import make_reader
from agency.settings import Settings

ADMIN_KEY_FILE = "admin.key"
FIRST_ADMIN_NAME = "admin"


def admin_key_path(settings: Settings) -> Path:
    return settings.resolved_data_dir / ADMIN_KEY_FILE


def write_secret_file(path: Path, content: str) -> None:
    """Write `content` to `path`, readable by the owner only from the first byte on (the
    file is created 0600, never widened then narrowed), replacing any previous file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, content.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


async def ensure_admin_key_async(settings: Settings) -> Path | None:
    """Create the first admin key if the tenant has no active one; return the file written,
    or None when an admin key already existed (its file, if any, is left alone)."""
    url = settings.effective_database_url
    reader = make_reader(url)
    try:
        admins = await keys.count_active_admins(reader, settings.default_tenant)
    finally:
        await reader.close()
    if admins > 0:
        return None
    engine = make_engine(url)
    try:
        async with session_maker(engine)() as session:
            new = await keys.create_key(
                session, name=FIRST_ADMIN_NAME, role="admin", tenant=settings.default_tenant
            )
    finally:
        await engine.dispose()
    path = admin_key_path(settings)
    write_secret_file(path, new.raw + "\n")
    return path


def ensure_admin_key(settings: Settings) -> Path | None:
    return run_blocking(ensure_admin_key_async(settings))
