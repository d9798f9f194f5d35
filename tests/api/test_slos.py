"""`GET /api/v1/slos`: the SLOs judged from the records, for any viewer."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from agency.asgi_thread import free_port, serve_app
from agency.db import apply_record
from agency.db.engine import make_engine, session_maker
from agency.db.migrate import upgrade_database
from agency.db.types import utcnow
from agency.settings import Settings
from api.app import create_app
from tests.agency.db.factories import add_task, record
from tests.support.keys import bearer, make_key


@dataclass
class Served:
    url: str
    settings: Settings


def settings_for(tmp_path: Path, **overrides: object) -> Settings:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    # No Temporal: the route needs only the database.
    return Settings(data_dir=data, temporal_address=f"127.0.0.1:{free_port()}", **overrides)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    settings = settings_for(tmp_path)
    upgrade_database(settings.effective_database_url)
    with serve_app(create_app(settings)) as url:
        yield Served(url, settings)


@pytest.fixture
async def viewer(served: Served) -> AsyncIterator[httpx.AsyncClient]:
    key = await make_key(served.settings.effective_database_url, "watcher", "viewer", "other")
    async with httpx.AsyncClient(base_url=served.url, headers=bearer(key)) as http:
        yield http


async def finish_tasks(url: str, outcomes: list[str]) -> None:
    engine = make_engine(url)
    try:
        async with session_maker(engine)() as session:
            for outcome in outcomes:
                task = await add_task(session)
                at = utcnow() - timedelta(minutes=1)
                assert await apply_record(session, record(task.id, 1, phase=outcome, at=at))
    finally:
        await engine.dispose()


async def test_a_viewer_sees_budgets_and_burn_rates(
    served: Served, viewer: httpx.AsyncClient
) -> None:
    response = await viewer.get("/api/v1/slos")
    assert response.status_code == 200, response.text
    empty = {s["name"]: s for s in response.json()["slos"]}
    assert empty["task_success"]["total"] == 0
    assert empty["task_success"]["error_budget_left"] == 1.0

    await finish_tasks(served.settings.effective_database_url, ["completed"] * 9 + ["failed"])
    report = (await viewer.get("/api/v1/slos")).json()
    tasks = next(s for s in report["slos"] if s["name"] == "task_success")
    assert (tasks["good"], tasks["total"]) == (9, 10)
    assert tasks["error_budget_left"] == pytest.approx(1 - 0.1 / 0.01)
    burns = {w["window"]: w["burn_rate"] for w in tasks["windows"]}
    assert burns["1h"] == pytest.approx(10.0) and burns["3d"] == pytest.approx(10.0)
    # Burn 10 over 6h and 30m (> 6, ten events): a page; over 1d and 2h: a ticket.
    assert tasks["firing"] == ["page", "ticket"]
    assert {a["long"]: a["firing"] for a in tasks["alerts"]} == {
        "1h": False,  # 10 < 14.4
        "6h": True,
        "1d": True,
        "3d": True,
    }
    assert [u["name"] for u in report["unjudged"]] == ["api_latency", "api_availability"]


async def test_without_a_key_it_is_refused(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url) as http:
        assert (await http.get("/api/v1/slos")).status_code == 401


def test_an_invalid_slo_file_stops_the_api_listing_each_problem(tmp_path: Path) -> None:
    bad = tmp_path / "slo.yaml"
    bad.write_text("slos:\n  - {name: x, objective: 7}\n")
    env = {**os.environ, "AGENCY_DATA_DIR": str(tmp_path), "AGENCY_SLO_FILE": str(bad)}
    done = subprocess.run(
        [sys.executable, "-m", "api"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 78  # EX_CONFIG: restarting would not help
    assert "Traceback" not in done.stderr
    for path in ("slos[0].objective", "slos[0].window", "slos[0].good"):
        assert path in done.stderr
