"""Telling an outage from a bug: which dependency a real failure says is down."""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text

from agency.asgi_thread import free_port
from agency.db.engine import make_engine
from agency.settings import Settings
from api.outages import TemporalUnavailableError, down_dependency, is_outage
from api.temporal_gateway import TemporalGateway


async def raised(coro: Awaitable[object]) -> BaseException:
    try:
        await coro
    except Exception as err:
        return err
    raise AssertionError("no failure")


async def select_one(url: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


async def test_a_refused_database_connection_is_the_database() -> None:
    # Through SQLAlchemy, asyncpg's socket error arrives unwrapped: its origin decides.
    err = await raised(select_one(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x"))
    assert isinstance(err, OSError)
    assert down_dependency(err) == "database" and is_outage(err)
    direct = await raised(asyncpg.connect(host="127.0.0.1", port=free_port(), timeout=2))
    assert down_dependency(direct) == "database"


async def test_an_unreachable_temporal_is_temporal(tmp_path: Path) -> None:
    gateway = TemporalGateway(
        Settings(data_dir=tmp_path, temporal_address=f"127.0.0.1:{free_port()}")
    )
    err = await raised(gateway.client())
    assert isinstance(err, TemporalUnavailableError)
    assert down_dependency(err) == "temporal"


@pytest.mark.parametrize(
    ("err", "outage"),
    [
        (ConnectionRefusedError(111, "refused"), True),  # some peer: an outage, unnamed
        (TimeoutError(), True),
        (FileNotFoundError(2, "no such file"), False),  # our own failure: a 500
        (ValueError("bug"), False),
    ],
)
def test_failures_of_unknown_origin(err: BaseException, outage: bool) -> None:
    assert down_dependency(err) is None
    assert is_outage(err) is outage
