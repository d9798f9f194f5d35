"""Matching changed paths against scope entries and forbidden-path patterns.

Scope entries (CAWS `scope.in`/`scope.out`) may be:
  - an exact file:                 `src/http/client.py`
  - a directory, slash or not:     `src/http/`, `src/http`  (everything below it)
  - a glob, `**` crossing slashes: `src/**/*.py`, `**/test_*.py`, `docs/*.md`
  - the whole repository:          `.`, `./`, `**`
A glob matches the whole path (`src/*` is direct children only; use `src/` or `src/**`).

Forbidden-path patterns (policy `agency.forbidden_paths`) are written to match wherever
the thing lives: `.git/` (a trailing slash) is that directory at any depth, `*.pem` (no
slash) is a file name in any directory, `.github/workflows/` is that directory sequence,
and a pattern with an inner slash and no trailing one (`deploy/*.tf`) is a path glob.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from functools import lru_cache

_GLOB_CHARS = frozenset("*?[")
_WHOLE_REPO = frozenset({"", ".", "./", "**", "**/*", "*"})
_TEST_DIRS = frozenset({"tests", "test", "__tests__", "spec"})
_TEST_NAME = re.compile(r"^(test_.*\.py|.*_test\..+|.*\.test\..+|.*\.spec\..+)$")


def normalize(path: str) -> str:
    """POSIX separators, no leading './' or '/', no duplicate or trailing slashes."""
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    parts = [p for p in path.split("/") if p not in ("", ".")]
    return "/".join(parts)


def is_glob(entry: str) -> bool:
    return any(c in _GLOB_CHARS for c in entry)


@lru_cache(maxsize=1024)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """Translate a path glob: `**` spans directories, `*` and `?` stay inside one."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append(f"[{body}]")
            i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out))


def matches_scope(path: str, entry: str) -> bool:
    """Whether a changed path falls under one scope entry."""
    path = normalize(path)
    raw = entry.strip()
    if raw in _WHOLE_REPO:
        return True
    if is_glob(raw):
        pattern = normalize(raw)
        if raw.endswith("/"):
            pattern += "/**"
        return glob_regex(pattern).fullmatch(path) is not None
    base = normalize(raw)
    return path == base or path.startswith(base + "/")


def in_scope(path: str, entries: list[str]) -> bool:
    return any(matches_scope(path, e) for e in entries)


def matches_forbidden(path: str, pattern: str) -> bool:
    """Whether a path touches one forbidden-path pattern (see the module docstring)."""
    path = normalize(path)
    if pattern.endswith("/"):
        seq = normalize(pattern)
        padded = f"/{path}/"
        return f"/{seq}/" in padded
    if "/" not in pattern:
        return fnmatchcase(path.rsplit("/", 1)[-1], pattern)
    return glob_regex(normalize(pattern)).fullmatch(path) is not None


def forbidden_hits(path: str, patterns: list[str]) -> list[str]:
    return [p for p in patterns if matches_forbidden(path, p)]


def entry_targets_forbidden(entry: str, pattern: str) -> bool:
    """Whether a scope entry explicitly reaches into a forbidden area.

    Whole-repository entries are not counted: they name no forbidden path, and the
    result-stage check still refuses any change that touches one.
    """
    raw = entry.strip()
    if raw in _WHOLE_REPO:
        return False
    base = normalize(raw)
    if matches_forbidden(base, pattern):
        return True  # the entry is itself inside (or is) a forbidden area
    if pattern.endswith("/"):
        # The entry is a directory containing the forbidden one: `.github/` holds workflows.
        witness = normalize(pattern) + "/x"
        return matches_scope(witness, raw)
    return False


def is_test_file(path: str) -> bool:
    """Test files by the usual conventions: tests/ or spec/ dirs, test_*.py, *_test.*,
    *.test.*, *.spec.*."""
    parts = normalize(path).split("/")
    if any(p in _TEST_DIRS for p in parts[:-1]):
        return True
    return _TEST_NAME.match(parts[-1]) is not None


def top_level(path: str) -> str:
    """The first directory of a path; files at the root count as '.'."""
    parts = normalize(path).split("/")
    return parts[0] if len(parts) > 1 else "."
