"""`agency slo` and `agency slo rules`: the SLO file read, the database judged."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agency.cli.main import app
from agency.db import apply_record
from agency.db.engine import make_engine, session_maker
from agency.db.migrate import upgrade_database_async
from agency.db.types import utcnow
from agency.slo.rules import rules_yaml
from agency.slo.spec import load_slo_file
from tests.agency.db.factories import add_task, record

BAD_FILE = """
slos:
  - name: Bad Name
    description: d
    objective: 2
    window: forever
    good: {promql: a}
    total: {promql: b}
"""


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
async def data(tmp_path: Path) -> dict[str, str]:
    """A migrated SQLite database with ten tasks in the last hour, three failed."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'agency.db'}"
    await upgrade_database_async(url)
    engine = make_engine(url)
    now = utcnow()
    try:
        async with session_maker(engine)() as session:
            for outcome in ["completed"] * 7 + ["failed"] * 3:
                task = await add_task(session)
                at = now - timedelta(minutes=2)
                assert await apply_record(session, record(task.id, 1, phase=outcome, at=at))
    finally:
        await engine.dispose()
    return {"AGENCY_DATABASE_URL": url}


def test_rules_are_the_default_files(tmp_path: Path) -> None:
    code, out, _ = run({}, "slo", "rules")
    assert code == 0
    assert out == rules_yaml(load_slo_file())


def test_the_setting_and_the_option_name_the_file(tmp_path: Path) -> None:
    mine = tmp_path / "slo.yaml"
    mine.write_text(
        "slos:\n  - {name: mine, description: d, objective: 0.9, window: 7d,\n"
        "     good: {promql: g_total}, total: {promql: t_total}}\n"
    )
    for env, args in (({"AGENCY_SLO_FILE": str(mine)}, ()), ({}, ("--file", str(mine)))):
        code, out, _ = run(env, "slo", "rules", *args)
        assert code == 0
        assert "slo:agency_mine:error_ratio_rate1h" in out
        assert "task_success" not in out


def test_a_bad_file_exits_2_listing_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "slo.yaml"
    bad.write_text(BAD_FILE)
    for args in (("slo", "rules"), ("slo",)):
        code, out, err = run({"AGENCY_SLO_FILE": str(bad)}, *args)
        assert code == 2, err
        assert out == ""
        assert "invalid SLO file" in err and "3 problem(s)" in err
        for path in ("slos[0].name", "slos[0].objective", "slos[0].window"):
            assert path in err


def test_status_judges_the_database(data: dict[str, str]) -> None:
    code, out, err = run(data, "slo", "--json")
    assert code == 0, err
    report = json.loads(out)
    tasks = next(s for s in report["slos"] if s["name"] == "task_success")
    assert (tasks["good"], tasks["total"]) == (7, 10)
    assert tasks["error_budget_left"] == pytest.approx(1 - 0.3 / 0.01)
    assert tasks["firing"] == ["page", "ticket"]
    assert [u["name"] for u in report["unjudged"]] == ["api_latency", "api_availability"]

    code, out, err = run(data, "slo")
    assert code == 0, err
    assert "task_success" in out and "approval_latency" in out
    assert "99%" in out and "95%" in out  # the objectives
    assert "-2900.00%" in out  # the budget left: 30x overspent
    assert "FIRING page: task_success" in err
    assert "api_latency: counted only by the metrics" in err


def test_status_without_a_database_is_a_failure_not_a_traceback(tmp_path: Path) -> None:
    env = {"AGENCY_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'none.db'}"}
    code, _, err = run(env, "slo")
    assert code == 1
    assert "database error" in err and "Traceback" not in err
