"""Reading unified diffs: which lines a change adds, per file."""

from __future__ import annotations

MAX_LINES_PER_FILE = 20_000


def added_lines_by_file(diff_text: str) -> dict[str, list[str]]:
    """Map each file path (post-image) to the lines the diff adds to it."""
    added: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in diff_text.splitlines():
        if line.startswith("+++ "):
            target = line[4:].strip()
            if target == "/dev/null":
                current = None
                continue
            path = target[2:] if target.startswith("b/") else target
            current = added.setdefault(path, [])
        elif line.startswith("diff --git "):
            current = None
        elif current is not None and line.startswith("+") and len(current) < MAX_LINES_PER_FILE:
            current.append(line[1:])
    return added
