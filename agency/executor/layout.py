"""Where the executor keeps things under its data dir, in one place."""

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
    def runs(self) -> Path:  # <run_id>.json: one record per run
        return self.root / "runs"

    @property
    def logs(self) -> Path:  # <run_id>/: the output of the agent and gates
        return self.root / "logs"

    @property
    def workspaces(self) -> Path:  # one git worktree per run
        return self.root / "workspaces"

    @property
    def artifacts(self) -> Path:  # <id>.diff
        return self.root / "artifacts"

    @property
    def mirrors(self) -> Path:  # mirrors of remote repositories
        return self.root / "repos"

    @property
    def exclude_file(self) -> Path:
        return self.root / "exclude"

    def run_logs(self, run_id: str) -> Path:
        return self.logs / run_id

    def scratch(self, run_id: str) -> Path:
        # Not a valid run id (those start with a letter or digit), so never a run's worktree.
        return self.workspaces / f".apply-{run_id}"

    def worktree(self, run_id: str) -> Path:
        return self.workspaces / run_id

    def artifact(self, artifact_id: str) -> Path:
        return self.artifacts / f"{artifact_id}.diff"

    def ensure(self) -> None:
        for d in (self.runs, self.logs, self.workspaces, self.artifacts, self.mirrors):
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
