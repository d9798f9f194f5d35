"""What a run changed: parse `git diff --raw/--numstat -z` into ChangedFile rows and vet them.

`-z` output is used because it is the only form git never quotes or escapes, so paths
with spaces, quotes or non-ASCII bytes come through exactly.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import Path

from agency.executor.paths import relative_path_problem, symlink_problem
from council.models import ChangedFile

_STATUS = {
    "A": "added",
    "C": "added",
    "M": "modified",
    "T": "modified",
    "D": "deleted",
    "R": "renamed",
}


@dataclass(frozen=True)
class RawEntry:
    status: str  # one letter: A, C, D, M, R, T
    new_mode: int
    path: str  # the path after the change (the old one for deletions)


@dataclass
class ChangeSet:
    files: list[ChangedFile] = field(default_factory=list)
    lines_added: int = 0
    lines_removed: int = 0


def _fields(data: bytes) -> list[str]:
    # Paths are bytes to git; surrogateescape keeps undecodable bytes round-trippable.
    parts = data.split(b"\0")
    if parts and parts[-1] == b"":
        parts.pop()
    return [p.decode("utf-8", errors="surrogateescape") for p in parts]


def parse_raw(data: bytes) -> list[RawEntry]:
    """Parse `git diff --raw -z`: ':<old> <new> <sha> <sha> <S>[score]' NUL path [NUL path]."""
    fields = _fields(data)
    entries: list[RawEntry] = []
    i = 0
    while i < len(fields):
        meta = fields[i].lstrip(":").split()
        status = meta[4][0]
        if status in ("R", "C"):
            path = fields[i + 2]
            i += 3
        else:
            path = fields[i + 1]
            i += 2
        entries.append(RawEntry(status=status, new_mode=int(meta[1], 8), path=path))
    return entries


def parse_numstat(data: bytes) -> dict[str, tuple[int, int, bool]]:
    """Parse `git diff --numstat -z` into {new path: (added, removed, binary)}."""
    fields = _fields(data)
    counts: dict[str, tuple[int, int, bool]] = {}
    i = 0
    while i < len(fields):
        added, removed, path = fields[i].split("\t", 2)
        if path == "":  # rename or copy: old and new path follow as separate fields
            path = fields[i + 2]
            i += 3
        else:
            i += 1
        binary = added == "-"
        counts[path] = (0 if binary else int(added), 0 if binary else int(removed), binary)
    return counts


def build_changeset(raw: list[RawEntry], numstat: dict[str, tuple[int, int, bool]]) -> ChangeSet:
    changes = ChangeSet()
    for entry in raw:
        added, removed, binary = numstat.get(entry.path, (0, 0, False))
        changes.files.append(
            ChangedFile(
                path=entry.path,
                added=added,
                removed=removed,
                status=_STATUS.get(entry.status, "modified"),  # type: ignore[arg-type]
                binary=binary,
            )
        )
        changes.lines_added += added
        changes.lines_removed += removed
    return changes


def unsafe_entries(worktree: Path, raw: list[RawEntry]) -> list[str]:
    """Reasons the change cannot be accepted: bad paths, symlinks leading out of the worktree."""
    reasons: list[str] = []
    for entry in raw:
        if problem := relative_path_problem(entry.path):
            reasons.append(problem)
            continue
        if entry.status == "D":
            continue
        if stat.S_ISLNK(entry.new_mode) and (problem := symlink_problem(worktree, entry.path)):
            reasons.append(problem)
    return reasons
