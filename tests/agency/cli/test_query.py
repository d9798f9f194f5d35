"""`agency query`: rows as a table, CSV or JSON; a refused query exits 2 saying why."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agency.admin_key import ensure_admin_key
from agency.asgi_thread import free_port, serve_app
from agency.cli.main import app
from agency.db.engine import make_engine, session_maker
from agency.db.migrate import upgrade_database
from agency.explorer.params import parse_param
from agency.settings import Settings
from api.app import create_app
from tests.agency.db.factories import add_task


async def _tasks(url: str) -> None:
    engine = make_engine(url)
    try:
        async with session_maker(engine)() as session:
            for title in ("alpha", "beta"):
                await add_task(session, title=title)
    finally:
        await engine.dispose()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[dict[str, str]]:
    data = tmp_path / "data"
    data.mkdir()
    settings = Settings(data_dir=data, temporal_address=f"127.0.0.1:{free_port()}")
    upgrade_database(settings.effective_database_url)
    ensure_admin_key(settings)
    asyncio.run(_tasks(settings.effective_database_url))
    with serve_app(create_app(settings)) as url:
        yield {"AGENCY_API_URL": url, "AGENCY_DATA_DIR": str(data), "AGENCY_API_KEY": ""}


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["query", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def test_formats(served: dict[str, str]) -> None:
    sql = "SELECT title FROM tasks WHERE title <> :skip ORDER BY title"
    code, out, err = run(served, sql, "--param", "skip=gamma")
    assert code == 0, err
    assert "alpha" in out and "beta" in out and "2 row(s)" in err
    code, out, _ = run(served, sql, "-p", "skip=alpha", "--format", "csv")
    assert list(csv.reader(io.StringIO(out))) == [["title"], ["beta"]]
    code, out, _ = run(served, sql, "-p", "skip=beta", "-f", "json")
    assert json.loads(out)["rows"] == [["alpha"]]


def test_a_refused_query_exits_2_with_its_reason(served: dict[str, str]) -> None:
    code, _, err = run(served, "DELETE FROM tasks")
    assert code == 2 and "Query refused (HTTP 422)" in err and "only reads" in err
    code, _, err = run(served, "SELECT hash FROM api_keys")
    assert code == 2 and "hidden" in err
    code, _, err = run(served, "SELECT 1", "--param", "novalue")
    assert code == 2 and "NAME=VALUE" in err


def test_param_values() -> None:
    assert parse_param("n=3") == ("n", 3)
    assert parse_param("phase=failed") == ("phase", "failed")
    assert parse_param('s="7"') == ("s", "7")
    assert parse_param("x=[1]") == ("x", "[1]")
