"""A model-drafted change, applied by `git apply` inside the sandbox like any agent's work.

The patch is written beside the run's logs (outside the worktree, so it is never part of
the change) and handed to the sandboxed command on standard input; the command stages it
in the sandbox's private /tmp, checks it applies, then applies it. A malformed or
non-applying patch is an agent failure (a non-zero exit with git's reason on stderr),
never an executor error.
"""

from __future__ import annotations

from pathlib import Path

from agency.executor.layout import Layout, atomic_write

# --recount: models rarely get hunk line counts right; git recomputes them from the body.
APPLY_SCRIPT = (
    'p="$(mktemp)" && cat > "$p" && '
    'git apply --recount --check "$p" && git apply --recount --verbose "$p"'
)
APPLY_ARGV: tuple[str, ...] = ("sh", "-c", APPLY_SCRIPT)
# What the run reports as its agent command.
APPLY_DISPLAY: tuple[str, ...] = ("git", "apply", "--recount", "<model-drafted patch>")


def write_patch(layout: Layout, run_id: str, patch: str) -> Path:
    path = layout.run_logs(run_id) / "agent.patch"
    atomic_write(path, patch.encode("utf-8"))
    return path
