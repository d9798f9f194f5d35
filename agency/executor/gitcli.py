"""Running `git` from the event loop, with an environment that cannot be steered from outside.

Every call disables hooks (the executor must not run scripts as a side effect of its
bookkeeping) and drops variables that would point git at another repository.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_STEERING_VARS = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
)


class GitError(RuntimeError):
    def __init__(self, args: list[str], returncode: int, stderr: str) -> None:
        self.argv = args
        self.returncode = returncode
        self.stderr = stderr.strip()
        super().__init__(f"git {' '.join(args)} failed ({returncode}): {self.stderr}")


@dataclass(frozen=True)
class GitOutput:
    returncode: int
    stdout: bytes
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", errors="replace").strip()


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _STEERING_VARS}
    env["GIT_TERMINAL_PROMPT"] = "0"  # never wait for a password on a terminal
    env["LC_ALL"] = "C"  # stable messages
    if extra:
        env.update(extra)
    return env


async def git(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    check: bool = True,
) -> GitOutput:
    """Run `git -c core.hooksPath=/dev/null <args>`; raise GitError on failure when `check`."""
    argv = ["-c", "core.hooksPath=/dev/null", *args]
    proc = await asyncio.create_subprocess_exec(
        "git",
        *argv,
        cwd=cwd,
        env=git_env(env),
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await proc.communicate(stdin)
    except asyncio.CancelledError:
        # A canceled run must not leave a clone or checkout running behind it.
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise
    result = GitOutput(proc.returncode or 0, out, err.decode("utf-8", errors="replace"))
    if check and result.returncode != 0:
        raise GitError(list(args), result.returncode, result.stderr)
    return result
