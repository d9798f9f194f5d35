"""What counts as unfinished work in source code: placeholder markers, unimplemented
stubs, commented-out `pass` stubs. Pure and I/O-free.

One definition for both places that look: the technical judge (a change that adds such a
line is flagged) and `agency gate placeholders` (a repository's CI, ours included, fails
on any such line). So the judge and the CI agree on what is a stub.

The words are spelled with a one-letter class ([O], [I], ...) so that this file does not
itself contain what it looks for: the gate runs on the source tree that holds it.
"""

from __future__ import annotations

import re

UNFINISHED_MARKERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "a placeholder marker",
        re.compile(r"\b(?:T[O]DO|F[I]XME|X[X]X|H[A]CK|P[L]ACEHOLDER)\b"),
    ),
    ("an unimplemented stub", re.compile(r"\braise\s+Not[I]mplemented(?:Error)?\b")),
    ("a commented 'pass' stub", re.compile(r"^\s*pass\s*#")),
)


def unfinished(line: str) -> list[str]:
    """What `line` marks as unfinished (the kinds, in UNFINISHED_MARKERS order)."""
    return [what for what, pattern in UNFINISHED_MARKERS if pattern.search(line)]


def unfinished_lines(lines: list[str]) -> list[tuple[int, str]]:
    """(line number from 1, kind) for each unfinished-work mark in `lines`."""
    return [(n, what) for n, line in enumerate(lines, start=1) for what in unfinished(line)]
