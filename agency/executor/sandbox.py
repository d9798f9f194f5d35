"""The sandbox around agent and gate commands: bubblewrap, or (only when allowed) nothing.

Inside bubblewrap the whole filesystem is visible read-only, the worktree is the one
writable place besides a private /tmp, the agency's data directory (other runs' worktrees
and logs, the database file, signing and API keys) is hidden, the network is unshared
unless allowed, and the processes live in their own PID namespace so nothing survives
the sandbox.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

DEFAULT_BWRAP = "/usr/bin/bwrap"

SandboxKind = Literal["bwrap", "none"]

MISSING_BWRAP = (
    "bubblewrap (bwrap) is missing at {path}, so agent commands cannot be sandboxed; "
    "install bubblewrap, or allow unsandboxed execution explicitly with "
    "AGENCY_ALLOW_UNSANDBOXED=1 (agents then run with the executor's own permissions)"
)


class SandboxUnavailable(RuntimeError):
    """No sandbox is available and running without one was not allowed."""


def find_bwrap(path: str | None = None) -> str | None:
    """The bubblewrap executable to use: `path` when given (and only it), else the default."""
    if path is not None:
        return path if os.access(path, os.X_OK) else None
    if os.access(DEFAULT_BWRAP, os.X_OK):
        return DEFAULT_BWRAP
    return shutil.which("bwrap")


@dataclass(frozen=True)
class Sandbox:
    bwrap: str | None
    allow_unsandboxed: bool
    # Directories hidden behind an empty tmpfs (the executor's state), so one run cannot
    # read another run's worktree or logs.
    hidden: tuple[Path, ...] = field(default=())
    # What the user asked for, for the error message when bwrap was not found.
    searched: str = DEFAULT_BWRAP

    @classmethod
    def detect(
        cls,
        *,
        bwrap_path: str | None = None,
        allow_unsandboxed: bool = False,
        hidden: Sequence[Path] = (),
    ) -> Sandbox:
        return cls(
            bwrap=find_bwrap(bwrap_path),
            allow_unsandboxed=allow_unsandboxed,
            hidden=tuple(Path(p) for p in hidden),
            searched=bwrap_path or DEFAULT_BWRAP,
        )

    @property
    def kind(self) -> SandboxKind:
        return "bwrap" if self.bwrap else "none"

    @property
    def problem(self) -> str | None:
        """Why commands cannot run at all, or None when they can."""
        if self.bwrap or self.allow_unsandboxed:
            return None
        return MISSING_BWRAP.format(path=self.searched)

    def check(self) -> None:
        if problem := self.problem:
            raise SandboxUnavailable(problem)

    def wrap(
        self,
        argv: Sequence[str],
        worktree: Path,
        *,
        network: bool,
        readable: Sequence[Path] = (),
    ) -> list[str]:
        """The command line that runs `argv` with `worktree` as its writable working directory.

        `readable` names paths the process must still see (read-only) even when they live
        under /tmp, which the sandbox replaces with a private tmpfs: the repository's git
        data, say, when the repository itself is in /tmp.
        """
        self.check()
        if not self.bwrap:
            return list(argv)
        wt = str(worktree)
        cmd = [self.bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        # Order matters: bwrap applies mounts in sequence, so the private /tmp and the
        # hiding tmpfs mounts come first and the worktree (possibly below them) last.
        cmd += ["--tmpfs", "/tmp"]
        for path in _under_tmp([*_toolchain_paths(), *readable], self.hidden):
            cmd += ["--ro-bind", str(path), str(path)]
        for hidden in self.hidden:
            # A directory is covered by an empty tmpfs, a file by /dev/null.
            if hidden.is_file():
                cmd += ["--ro-bind", "/dev/null", str(hidden)]
            else:
                cmd += ["--tmpfs", str(hidden)]
        # What the command must read but lives in a hidden directory (a mirror of a remote
        # repository in the executor's own directory) comes back, read-only.
        for path in _inside_hidden(readable, self.hidden):
            cmd += ["--ro-bind", str(path), str(path)]
        cmd += ["--bind", wt, wt]
        if not network:
            cmd.append("--unshare-net")
        # No --new-session: the command must stay in the process group the executor
        # created, so suspend/resume/kill of that group reach every process inside.
        cmd += ["--unshare-pid", "--die-with-parent", "--chdir", wt, "--", *argv]
        return cmd


TMP = Path("/tmp")


def _toolchain_paths() -> list[Path]:
    """Where the interpreter and the tools on PATH live: the sandboxed command needs them
    even when they are installed below /tmp (a CI checkout, a throw-away venv)."""
    paths = [Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).parent]
    paths += [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    return paths


def _inside_hidden(candidates: Sequence[Path], hidden: Sequence[Path]) -> list[Path]:
    """The existing candidates inside a hidden directory, outermost first, deduplicated."""
    roots = [h.resolve() for h in hidden]
    found = {
        path
        for candidate in candidates
        if (path := candidate.resolve()).exists() and any(path.is_relative_to(r) for r in roots)
    }
    outermost: list[Path] = []
    for path in sorted(found, key=lambda p: len(p.parts)):
        if not any(path.is_relative_to(kept) for kept in outermost):
            outermost.append(path)
    return outermost


def _under_tmp(candidates: Sequence[Path], hidden: Sequence[Path]) -> list[Path]:
    """The existing candidates below /tmp, outermost first, none inside another or hidden."""
    found: list[Path] = []
    for candidate in candidates:
        try:
            path = candidate.resolve()
        except OSError:
            continue
        if path == TMP or not path.is_relative_to(TMP) or not path.exists():
            continue
        if any(path.is_relative_to(h.resolve()) for h in hidden):
            continue
        found.append(path)
    outermost: list[Path] = []
    for path in sorted(set(found), key=lambda p: len(p.parts)):
        if not any(path.is_relative_to(kept) for kept in outermost):
            outermost.append(path)
    return outermost
