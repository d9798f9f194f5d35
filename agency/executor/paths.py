"""Path safety: nothing named in a request or produced by a change may reach outside a workspace.

Every check returns a reason (a sentence for the caller) instead of raising, so the caller
decides whether the answer is a refused step or a failed run (unsafe change).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from agency.executor.schemas import RUN_ID_PATTERN

_RUN_ID = re.compile(RUN_ID_PATTERN)


def run_id_problem(run_id: str) -> str | None:
    """Why `run_id` cannot name a run (it becomes a file and directory name), or None."""
    if not _RUN_ID.match(run_id):
        return f"run id must match {RUN_ID_PATTERN}"
    # The pattern already excludes separators; `..` is refused too so that no id ever
    # looks like a parent-directory reference in logs, URLs or paths.
    if ".." in run_id:
        return "run id must not contain '..'"
    return None


def relative_path_problem(path: str) -> str | None:
    """Why `path` is not a safe path relative to a workspace root, or None."""
    if not path:
        return "empty path"
    if "\0" in path:
        return "path contains a NUL byte"
    if path.startswith("/") or os.path.isabs(path):
        return f"absolute path {path!r}"
    if ".." in Path(path).parts:
        return f"path {path!r} contains a '..' component"
    return None


def is_within(root: Path, candidate: Path) -> bool:
    """True when `candidate`, with every symlink resolved, lies inside `root` (resolved)."""
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(candidate))
    return real == real_root or real_root in real.parents


def symlink_problem(root: Path, rel: str) -> str | None:
    """Why the symlink at `root/rel` is unsafe to keep in a change, or None.

    The link is read, never followed by anything but realpath. An absolute target is
    refused even when it currently points inside the workspace: once committed to the
    repository somewhere else it can only point outside it.
    """
    link = root / rel
    target = os.readlink(link)
    if os.path.isabs(target):
        return f"{rel} is a symlink to an absolute path ({target}); refused"
    lexical = os.path.normpath(os.path.join(os.path.dirname(rel), target))
    if lexical == ".." or lexical.startswith("../"):
        return f"{rel} is a symlink pointing outside the workspace ({target}); refused"
    if not is_within(root, link):
        return f"{rel} is a symlink resolving outside the workspace ({target}); refused"
    return None
