"""The stack state file: atomic writes, reading, and whether its supervisor still runs."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agency.stack_state import (
    PartState,
    StackState,
    StackStateError,
    is_running,
    read_stack_state,
    write_stack_state,
)


def state(supervisor_pid: int, *states: str) -> StackState:
    now = datetime.now(UTC)
    return StackState(
        supervisor_pid=supervisor_pid,
        updated_at=now,
        parts=[
            PartState(
                name=f"part{i}",
                state=s,  # type: ignore[arg-type]
                pid=None if s in ("restarting", "stopped") else 1000 + i,
                restarts=i,
                last_exit="exit code 1" if i else None,
                since=now,
                log=f"/tmp/part{i}.log",
            )
            for i, s in enumerate(states)
        ],
    )


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_round_trip_in_the_documented_shape(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "stack.json"
    written = state(os.getpid(), "up", "restarting")
    write_stack_state(path, written)
    assert read_stack_state(path) == written
    raw = json.loads(path.read_text())
    assert set(raw) == {"supervisor_pid", "updated_at", "parts"}
    assert set(raw["parts"][1]) == {"name", "state", "pid", "restarts", "last_exit", "since", "log"}
    assert raw["parts"][1]["pid"] is None
    datetime.fromisoformat(raw["updated_at"])  # ISO 8601
    # Nothing left behind by the temp-file-and-rename write.
    assert [p.name for p in path.parent.iterdir()] == ["stack.json"]


def test_missing_file_is_none_and_garbage_is_an_error(tmp_path: Path) -> None:
    assert read_stack_state(tmp_path / "stack.json") is None
    (tmp_path / "stack.json").write_text("{not json")
    with pytest.raises(StackStateError, match="not a stack state file"):
        read_stack_state(tmp_path / "stack.json")


def test_fields_a_newer_writer_adds_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "stack.json"
    write_stack_state(path, state(os.getpid(), "up"))
    raw = json.loads(path.read_text())
    raw["extra"] = 1
    raw["parts"][0]["cpu"] = 3
    path.write_text(json.dumps(raw))
    read = read_stack_state(path)
    assert read is not None and [p.name for p in read.parts] == ["part0"]


def test_is_running_follows_the_supervisor_pid() -> None:
    assert is_running(state(os.getpid(), "up"))
    assert not is_running(state(dead_pid(), "up"))


def test_all_up() -> None:
    assert state(1, "up", "up").all_up()
    assert not state(1, "up", "starting").all_up()
    assert not state(1).all_up()
