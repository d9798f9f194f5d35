"""bench.fresh_database: a benchmark's own PostgreSQL database, created and dropped; a
database that exists already is refused with a readable message and exit code 2."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from bench.fresh_database import fresh_database
from tests.support.db_fixtures import pg_url

__all__ = ["pg_url"]


def _connects(url: str) -> bool:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    async def attempt() -> bool:
        try:
            connection = await asyncpg.connect(dsn, timeout=10)
        except asyncpg.InvalidCatalogNameError:
            return False
        await connection.close()
        return True

    return asyncio.run(attempt())


def test_an_existing_database_is_refused_with_exit_2_and_left_alone(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited, fresh_database(pg_url):
        pytest.fail("the benchmark ran on a database it did not create")
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "exists already" in err and "Traceback" not in err
    assert _connects(pg_url)  # nobody else's database is dropped


def test_a_new_database_is_created_for_the_run_and_dropped_after(pg_url: str) -> None:
    url = make_url(pg_url).set(database=f"bench_{uuid.uuid4().hex[:12]}")
    text = url.render_as_string(hide_password=False)
    with fresh_database(text) as given:
        assert given == text and _connects(text)
    assert not _connects(text)
