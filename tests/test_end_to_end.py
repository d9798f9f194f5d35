"""The whole stack as processes (Temporal dev server, executor, worker, API), driven by the
`agency` CLI over real HTTP: a strict task waits for a human, who approves it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from agency.asgi_thread import free_port
from agency.settings import Settings
from agency.stack import Stack
from tests.support.repos import git, make_repo, task_spec


@pytest.fixture
def stack_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    api_port = free_port()
    env = {
        "AGENCY_DATA_DIR": str(tmp_path / "data"),
        "AGENCY_TEMPORAL_PORT": str(free_port()),
        "AGENCY_TEMPORAL_UI_PORT": str(free_port()),
        "AGENCY_API_PORT": str(api_port),
        "AGENCY_API_URL": f"http://127.0.0.1:{api_port}",
    }
    monkeypatch.delenv("AGENCY_TEMPORAL_ADDRESS", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    stack = Stack(Settings())
    stack.start()
    try:
        yield {**os.environ, **env}
    finally:
        stack.stop()


def agency(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agency.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def show(env: dict[str, str], task_id: str) -> dict[str, Any]:
    done = agency(env, "show", task_id, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def wait_show(env: dict[str, str], task_id: str, predicate: Any, within: float = 120) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        task = show(env, task_id)
        if predicate(task):
            return task
        time.sleep(0.5)
    raise AssertionError(f"task {task_id} stuck in {task['phase']}")


def temporal_list(env: dict[str, str], query: str, within: float = 30) -> str:
    """`temporal workflow list --query`, until it lists something (visibility lags)."""
    argv = [
        str(Path(sys.executable).parent / "temporal"),
        "workflow",
        "list",
        "--address",
        f"127.0.0.1:{env['AGENCY_TEMPORAL_PORT']}",
        "--query",
        query,
    ]
    deadline = time.monotonic() + within
    while True:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        if "task-" in done.stdout or time.monotonic() > deadline:
            return done.stdout
        time.sleep(0.5)


def test_strict_task_through_the_cli_against_the_running_stack(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    spec_file = tmp_path / "task.yaml"
    spec_file.write_text(yaml.safe_dump(task_spec(repo)))

    submitted = agency(stack_env, "submit", str(spec_file), "--mode", "strict", "--json")
    assert submitted.returncode == 0, submitted.stderr
    task_id = json.loads(submitted.stdout)["id"]

    waiting = wait_show(stack_env, task_id, lambda t: t["pending_action"] == "approve")
    assert waiting["phase"] == "awaiting_approval" and waiting["execution_mode"] == "strict"
    assert {v["judge"]: v["verdict"] for v in waiting["verdicts"]}["constitutional"] == "pass"
    # The `temporal` CLI finds it by its search attribute (README, "The workflow").
    assert f"task-{task_id}" in temporal_list(stack_env, "AgencyPhase='awaiting_approval'")

    approved = agency(stack_env, "approve", task_id, "--reason", "reviewed the diff")
    assert approved.returncode == 0, approved.stderr
    done = wait_show(stack_env, task_id, lambda t: t["phase"] == "completed")
    assert done["applied_commit"] == git(repo, "rev-parse", "main")
    assert done["error"] is None

    again = agency(stack_env, "approve", task_id)
    assert again.returncode == 2 and "completed" in (again.stdout + again.stderr)

    listed = agency(stack_env, "list", "--json")
    assert task_id in [t["id"] for t in json.loads(listed.stdout)]


def test_invalid_spec_file_is_refused_with_every_problem(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    spec_file = tmp_path / "bad.yaml"
    spec_file.write_text(yaml.safe_dump({"id": "X-1", "risk_tier": 9, "repo": str(tmp_path)}))
    refused = agency(stack_env, "submit", str(spec_file))
    assert refused.returncode == 2
    text = refused.stdout + refused.stderr
    for field in ("title", "risk_tier", "mode", "scope", "agent"):
        assert field in text, field
    assert "Traceback" not in text
