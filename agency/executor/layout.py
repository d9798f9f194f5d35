"""Where an executor keeps things under its own directory, in one place.

    <executor dir>/lock          held (flock) by the one executor process using the dir
    <executor dir>/workspaces/   one git worktree per run, and scratch trees of applies
    <executor dir>/logs/<run>/   the output of a run's agent and gates
    <executor dir>/objects/<run>/  git objects a run's change made (blobs, trees)
    <executor dir>/repos/        mirrors of remote repositories (kept across restarts)
    <executor dir>/exclude       byproducts of tools that never count as a change

Worktrees and logs belong to one process's lifetime: a restarted executor is a new host
(its runs were started again elsewhere), so it removes what its predecessor left.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Byproducts of tools (not of the agent's intent) that must never count as a change.
EXCLUDES = "__pycache__/\n.pytest_cache/\n"


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def lock_file(self) -> Path:
        return self.root / "lock"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def workspaces(self) -> Path:
        return self.root / "workspaces"

    @property
    def mirrors(self) -> Path:
        return self.root / "repos"

    @property
    def exclude_file(self) -> Path:
        return self.root / "exclude"

    @property
    def objects(self) -> Path:
        return self.root / "objects"

    @property
    def ephemeral(self) -> tuple[Path, ...]:
        """What dies with the process: removed when the next one starts."""
        return (self.workspaces, self.logs, self.objects)

    def run_logs(self, run_id: str) -> Path:
        return self.logs / run_id

    def run_objects(self, run_id: str) -> Path:
        return self.objects / run_id

    def scratch(self, name: str) -> Path:
        # Not a valid run id (those start with a letter or digit), so never a run's worktree.
        return self.workspaces / f".apply-{name}"

    def worktree(self, run_id: str) -> Path:
        return self.workspaces / run_id

    def ensure(self) -> None:
        for d in (self.logs, self.workspaces, self.objects, self.mirrors):
            d.mkdir(parents=True, exist_ok=True)
        atomic_write(self.exclude_file, EXCLUDES.encode())


def atomic_write(path: Path, data: bytes) -> None:
    """Write `path` so that readers (and a crash) see either the old or the new content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
