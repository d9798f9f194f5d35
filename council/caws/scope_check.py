"""Scope entries a change cannot be checked against: prose, and paths that name nothing.

CAWS's schema takes any non-empty string in `scope.in`, and real specs write things like
"other monorepo packages". Such an entry matches no file, so it neither admits nor
excludes anything. Each one is a warning; a `scope.in` made only of prose is refused,
since the scope judge could then admit nothing and a task under it could never pass.
An entry that names no file at the base commit is a warning too (in `scope.in` it may be
a file the change will create, so it is never refused).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from council.caws.rules import AgencyRules
from council.paths import glob_regex, is_glob, normalize
from council.problems import GovernanceWarning, Problem

_SCOPE_KEYS = ("in", "out", "support")
_WHOLE_REPO = frozenset({"", ".", "./", "**", "**/*", "*"})
HOW_TO_FIX = (
    "list the files or directories the change may touch, relative to the repository "
    "root, or globs (e.g. src/http/, tests/**/*.py)"
)


def looks_like_prose(entry: str) -> bool:
    """Words rather than a path: two words with no '/', or four and more words."""
    words = entry.split()
    return len(words) >= 2 and ("/" not in entry or len(words) >= 4)


@dataclass(frozen=True)
class RepoTree:
    """The files of a repository at one commit, for asking whether an entry names any."""

    files: frozenset[str]
    directories: frozenset[str]

    @classmethod
    def of(cls, paths: Iterable[str]) -> RepoTree:
        files = frozenset(normalize(p) for p in paths if p)
        directories = frozenset(
            "/".join(parts[:i])
            for f in files
            if (parts := f.split("/"))
            for i in range(1, len(parts))
        )
        return cls(files=files, directories=directories)

    def names_something(self, entry: str) -> bool:
        raw = entry.strip()
        if raw in _WHOLE_REPO:
            return True
        if is_glob(raw):
            pattern = normalize(raw) + ("/**" if raw.endswith("/") else "")
            regex = glob_regex(pattern)
            return any(regex.fullmatch(f) for f in self.files)
        path = normalize(raw)
        return path in self.files or path in self.directories


def scope_findings(
    scope: Any, tree: RepoTree | None, *, file: str | None = None, base: str = "the base commit"
) -> tuple[list[Problem], list[GovernanceWarning]]:
    """Problems (a scope.in of prose only) and warnings (each entry naming no path).

    Without a tree (a remote repository) only prose can be recognised.
    """
    if not isinstance(scope, dict):
        return [], []
    warnings: list[GovernanceWarning] = []
    prose_in: list[str] = []
    for key in _SCOPE_KEYS:
        entries = scope.get(key)
        if not isinstance(entries, list):
            continue
        for i, entry in enumerate(entries):
            if not isinstance(entry, str):
                continue
            path = f"scope.{key}[{i}]"
            found = tree is not None and tree.names_something(entry)
            if not found and looks_like_prose(entry):
                if key == "in":
                    prose_in.append(entry)
                message = f"{entry!r} reads as prose, not a path: it matches no file"
                warnings.append(_warning(AgencyRules.SCOPE_PROSE, message, path, file))
            elif tree is not None and not found:
                note = " (fine for a file the change creates)" if key != "out" else ""
                message = f"{entry!r} names no file or directory in {base}{note}"
                warnings.append(_warning(AgencyRules.SCOPE_PATH_MISSING, message, path, file))
    entries_in = [e for e in scope.get("in") or [] if isinstance(e, str)]
    problems: list[Problem] = []
    if entries_in and len(prose_in) == len(entries_in):
        message = (
            f"names no path (only prose: {'; '.join(repr(e) for e in prose_in)}), so no "
            f"change can be checked against the scope; {HOW_TO_FIX}"
        )
        problems.append(
            Problem(path="scope.in", message=message, rule=AgencyRules.SCOPE_IN_NO_PATH)
        )
    return problems, warnings


def _warning(rule: str, message: str, path: str, file: str | None) -> GovernanceWarning:
    return GovernanceWarning(rule=rule, message=message, path=path, file=file)
