"""`agency status`: the state file of the data dir as a table or JSON, and its exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agency.cli.main import app
from agency.stack_state import PartState, StackState, write_stack_state
from agency.supervisor import ChildSpec, Supervisor


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def env(data_dir: Path) -> dict[str, str]:
    return {"AGENCY_DATA_DIR": str(data_dir)}


def write_state(data_dir: Path, supervisor_pid: int, **states: str) -> None:
    now = datetime.now(UTC)
    write_stack_state(
        data_dir / "stack.json",
        StackState(
            supervisor_pid=supervisor_pid,
            updated_at=now,
            parts=[
                PartState(
                    name=name,
                    state=value,  # type: ignore[arg-type]
                    pid=4242 if value == "up" else None,
                    restarts=0 if value == "up" else 3,
                    last_exit=None if value == "up" else "killed by signal 9",
                    since=now,
                    log=str(data_dir / "logs" / f"{name}.log"),
                )
                for name, value in states.items()
            ],
        ),
    )


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_running_stack_with_every_part_up_exits_0(
    runner: CliRunner, data_dir: Path, tmp_path: Path
) -> None:
    # A real supervisor (this process) writes the file, as `agency up` does.
    sup = Supervisor(tmp_path / "logs", state_file=data_dir / "stack.json")
    try:
        child = sup.start(
            ChildSpec("worker", [sys.executable, "-c", "import time; time.sleep(30)"])
        )
        result = runner.invoke(app, ["status"], env=env(data_dir))
        assert result.exit_code == 0, result.output
        assert "worker" in result.stdout and str(child.pid) in result.stdout
        assert f"stack running (supervisor pid {os.getpid()}); every part is up" in result.stdout
    finally:
        sup.stop(grace_s=1)
    # After a clean stop the supervisor still runs (it is us) but nothing is up.
    result = runner.invoke(app, ["status"], env=env(data_dir))
    assert result.exit_code == 1
    assert "stopped" in result.stdout and "not up: worker" in result.stdout


def test_a_part_not_up_exits_1_and_is_named(runner: CliRunner, data_dir: Path) -> None:
    write_state(data_dir, os.getpid(), temporal="up", worker="restarting", api="up")
    result = runner.invoke(app, ["status"], env=env(data_dir))
    assert result.exit_code == 1
    assert "not up: worker" in result.stdout
    assert "killed by signal 9" in result.stdout and "restarting" in result.stdout


def test_a_gone_supervisor_shows_the_last_known_state_and_exits_1(
    runner: CliRunner, data_dir: Path
) -> None:
    pid = dead_pid()
    write_state(data_dir, pid, temporal="up", api="up")
    result = runner.invoke(app, ["status"], env=env(data_dir))
    assert result.exit_code == 1
    assert (
        f"the stack is not running (supervisor pid {pid} is gone); last known state:"
        in result.stdout
    )
    assert "temporal" in result.stdout and "api" in result.stdout


def test_no_state_file_means_no_stack(runner: CliRunner, data_dir: Path) -> None:
    result = runner.invoke(app, ["status"], env=env(data_dir))
    assert result.exit_code == 1
    assert f"no stack is running in {data_dir.resolve()}" in " ".join(result.stderr.split())
    assert result.stdout == ""


def test_json_has_the_state_and_whether_it_runs(runner: CliRunner, data_dir: Path) -> None:
    write_state(data_dir, os.getpid(), temporal="up", worker="up")
    result = runner.invoke(app, ["status", "--json"], env=env(data_dir))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["running"] is True and data["supervisor_pid"] == os.getpid()
    assert [(p["name"], p["state"], p["pid"]) for p in data["parts"]] == [
        ("temporal", "up", 4242),
        ("worker", "up", 4242),
    ]

    write_state(data_dir, dead_pid(), temporal="stopped")
    result = runner.invoke(app, ["status", "--json"], env=env(data_dir))
    assert result.exit_code == 1
    assert json.loads(result.stdout)["running"] is False


def test_a_file_that_is_not_a_state_file_exits_2(runner: CliRunner, data_dir: Path) -> None:
    data_dir.mkdir()
    (data_dir / "stack.json").write_text('{"parts": "no"}')
    result = runner.invoke(app, ["status"], env=env(data_dir))
    assert result.exit_code == 2
    assert "is not a stack state file" in result.stderr
    assert "Traceback" not in result.output
