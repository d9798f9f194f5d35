"""`agency logs`: the SSE parser, and following a task to its end."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from typer.testing import CliRunner

from agency.cli.logs import format_event, parse_sse
from agency.cli.main import app
from tests.api.conftest import ApiUnderTest, api
from tests.api.test_tasks import finished, wait_task
from tests.support.repos import task_spec

__all__ = ["api"]  # the fixture: the API with a worker and an executor


def test_parse_sse_follows_the_format() -> None:
    lines = [
        ": ping",
        "retry: 1000",
        "id: 1",
        'data: {"a":',
        "data: 1}",
        "",
        "event: end",
        "data: {}",
        "",
        "id: 2",
        "",
    ]
    events = list(parse_sse(lines))
    assert [(e.id, e.event, e.text) for e in events] == [
        ("1", "message", '{"a":\n1}'),
        (None, "end", "{}"),
    ]


def test_format_event_is_one_line() -> None:
    line = format_event(
        {
            "seq": 3,
            "at": "2025-01-01T10:00:00Z",
            "phase": "executing",
            "actor": "alice",
            "action": "run",
            "data": {"iteration": 1, "projection": {"phase": "executing"}},
        }
    )
    assert line == "#3  2025-01-01 10:00:00  executing  alice  run  (iteration=1)"


async def test_logs_prints_and_follows_a_task(api: ApiUnderTest, tmp_path: Path) -> None:
    env = {
        "AGENCY_API_URL": api.url,
        "AGENCY_API_KEY": api.admin_key,
        "AGENCY_DATA_DIR": str(tmp_path),
    }
    task = (await api.http.post("/api/v1/tasks", json=task_spec(api.h.repo))).json()
    results: list[object] = []

    def follow() -> None:
        results.append(CliRunner().invoke(app, ["logs", task["id"], "--follow", "--json"], env=env))

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    await wait_task(api.http, task["id"], finished)
    thread.join(timeout=60)
    assert not thread.is_alive()
    followed = results[0]
    assert followed.exit_code == 0, followed.stderr  # type: ignore[attr-defined]
    seqs = [json.loads(line)["seq"] for line in followed.stdout.splitlines()]  # type: ignore[attr-defined]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= 5

    listed = CliRunner().invoke(app, ["logs", task["id"], "--after", "2"], env=env)
    assert listed.exit_code == 0
    lines = listed.stdout.splitlines()
    assert len(lines) == len(seqs) - 2 and lines[0].startswith("#3 ")
