"""The state file of the one-machine stack: what `agency up` runs, as last written.

`agency up`'s supervisor rewrites `Settings.stack_state_file` (`<data dir>/stack.json`)
atomically on every change of a part's state; `agency status` and the API read it.

Public names (stable; other modules import them):

- `PartState`: one child process: `name`, `state` (one of `PART_STATES`), `pid` (None
  while no process runs), `restarts` (restarts done so far), `last_exit` (e.g. "exit
  code 1", "killed by signal 9"; None before the first death), `since` (when it entered
  this state, aware UTC datetime), `log` (path of its log file).
- `StackState`: `supervisor_pid` (the `agency up` process), `updated_at`, `parts`;
  `all_up()` says whether every part is "up".
- `read_stack_state(path) -> StackState | None`: None when the file does not exist;
  raises `StackStateError` when it exists but cannot be read or is not a state file.
- `is_running(state) -> bool`: whether the supervisor that wrote it is still alive. A
  file whose supervisor is gone is a stale record of the last known state (after a
  clean stop every part in it is "stopped"; after a crash or SIGKILL, whatever it was).
- `write_stack_state(path, state)`: the writing side (temp file + os.replace).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

PartStateName = Literal["starting", "up", "restarting", "stopping", "stopped"]
PART_STATES: tuple[str, ...] = get_args(PartStateName)


class StackStateError(Exception):
    """The state file exists but is unreadable or not a stack state file."""


class PartState(BaseModel):
    # Readers ignore fields a newer writer adds.
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    state: PartStateName
    pid: int | None
    restarts: int = Field(ge=0)
    last_exit: str | None
    since: datetime
    log: str


class StackState(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    # gt=0: os.kill(0, ...) would address our own process group, not a process.
    supervisor_pid: int = Field(gt=0)
    updated_at: datetime
    parts: list[PartState]

    def all_up(self) -> bool:
        return bool(self.parts) and all(part.state == "up" for part in self.parts)


def read_stack_state(path: Path) -> StackState | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StackStateError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return StackState.model_validate_json(data)
    except ValidationError as exc:
        raise StackStateError(
            f"{path} is not a stack state file ({exc.error_count()} problems)"
        ) from None


def write_stack_state(path: Path, state: StackState) -> None:
    """Replace the file in one step, so that a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(state.model_dump_json(indent=2))
            out.write("\n")
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    # A zombie has exited and only waits for its parent to reap it.
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def is_running(state: StackState) -> bool:
    # A pid can be reused after its process died; the chance that a stale file's pid
    # names another live process is accepted (the file is also rewritten by every start).
    return pid_alive(state.supervisor_pid)
