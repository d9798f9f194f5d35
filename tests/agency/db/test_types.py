"""UTCDateTime: aware UTC datetimes in and out of both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agency.db import Reader, read_task
from agency.db.types import UTCDateTime
from tests.agency.db.factories import add_task

Sessions = async_sessionmaker[AsyncSession]


@pytest.mark.parametrize(
    "given",
    [
        datetime(2025, 6, 1, 23, 30, 15, 123456, tzinfo=timezone(timedelta(hours=-7))),
        datetime(2025, 6, 1, 9, 0, tzinfo=UTC),
        datetime(2025, 6, 1, 9, 0),  # naive values are taken as UTC
    ],
)
async def test_datetimes_come_back_as_the_same_instant_in_utc(
    sessions: Sessions, reader: Reader, given: datetime
) -> None:
    async with sessions() as session:
        task_id = (await add_task(session, created_at=given)).id
    task = await read_task(reader, task_id)
    assert task is not None
    assert task.created_at.utcoffset() == timedelta(0)
    expected = given if given.tzinfo else given.replace(tzinfo=UTC)
    assert task.created_at == expected


def test_non_datetime_is_refused() -> None:
    with pytest.raises(TypeError, match="expected a datetime"):
        UTCDateTime().process_bind_param("2025-06-01", sqlite.dialect())
