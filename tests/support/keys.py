"""Making API keys for tests, straight in the database (as `agency keys create --direct`)."""

from __future__ import annotations

from agency.db import keys
from agency.db.engine import make_engine, session_maker


async def make_key(
    database_url: str, name: str, role: keys.Role = "admin", tenant: str = "default"
) -> str:
    engine = make_engine(database_url)
    try:
        async with session_maker(engine)() as session:
            return (await keys.create_key(session, name=name, role=role, tenant=tenant)).raw
    finally:
        await engine.dispose()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
