"""A run's diff (a database artifact, agency.db.artifacts) as the detail page shows it:
per file, with its status, its place in the spec's scope, and syntax-coloured lines.

The diff is `git diff --binary -M` with a/ and b/ prefixes. Each hunk's old and new
sides are coloured as whole texts (Pygments, by the file's name), so a line inside a
multi-line string is coloured as one; each diff line then takes its side's line.
Huge diffs are cut at MAX_LINES lines (the file list stays complete).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_for_filename
from pygments.token import Token, _TokenType
from pygments.util import ClassNotFound

from council.paths import in_scope

MAX_LINES = 4000
HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")
# Token kinds that get a colour (app.css, .tok-*), most specific first.
TOKEN_CLASSES: tuple[tuple[_TokenType, str], ...] = (
    (Token.Comment, "c"),
    (Token.Literal.String, "s"),
    (Token.Literal.Number, "m"),
    (Token.Keyword, "k"),
    (Token.Name.Builtin, "b"),
    (Token.Name.Function, "f"),
    (Token.Name.Class, "t"),
    (Token.Name.Decorator, "d"),
    (Token.Name.Tag, "k"),
    (Token.Name.Attribute, "f"),
    (Token.Operator.Word, "k"),
)


@dataclass
class Line:
    kind: str  # "add", "del", "ctx", "note"
    old: int | None
    new: int | None
    html: Markup


@dataclass
class Hunk:
    header: str
    lines: list[Line] = field(default_factory=list)


@dataclass
class FileDiff:
    path: str
    old_path: str | None
    status: str  # added, deleted, modified, renamed
    binary: bool = False
    added: int = 0
    removed: int = 0
    hunks: list[Hunk] = field(default_factory=list)
    scope: str = "unknown"  # "in", "out" (excluded by scope.out), "outside" (not in scope.in)
    truncated: bool = False


@dataclass
class ParsedDiff:
    files: list[FileDiff]
    truncated: bool = False


def _unquote(path: str) -> str:
    path = path.strip()
    if path.startswith('"') and path.endswith('"'):
        path = path[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
        path = path.encode("latin-1", "replace").decode("utf-8", "replace")
    return path


def _strip_prefix(path: str) -> str | None:
    path = _unquote(path)
    if path == "/dev/null":
        return None
    return path[2:] if path[:2] in ("a/", "b/") else path


def parse(text: str) -> ParsedDiff:
    files: list[FileDiff] = []
    current: FileDiff | None = None
    hunk: Hunk | None = None
    raw_hunks: list[tuple[FileDiff, Hunk, list[tuple[str, str]]]] = []
    lines_seen = 0
    truncated = False
    for raw in text.split("\n"):
        if raw.startswith("diff --git "):
            current = FileDiff(path="", old_path=None, status="modified")
            rest = raw[len("diff --git ") :]
            if " b/" in rest:
                old, new = rest.split(" b/", 1)
                current.old_path = _strip_prefix(old)
                current.path = _unquote(new)
            files.append(current)
            hunk = None
            continue
        if current is None:
            continue
        if hunk is None or raw.startswith("@@"):
            if raw.startswith("new file mode"):
                current.status = "added"
            elif raw.startswith("deleted file mode"):
                current.status = "deleted"
            elif raw.startswith("rename from "):
                current.status = "renamed"
                current.old_path = _unquote(raw[len("rename from ") :])
            elif raw.startswith("rename to "):
                current.path = _unquote(raw[len("rename to ") :])
            elif raw.startswith("--- "):
                old_path = _strip_prefix(raw[4:])
                if old_path is not None:
                    current.old_path = old_path
            elif raw.startswith("+++ "):
                new_path = _strip_prefix(raw[4:])
                if new_path is not None:
                    current.path = new_path
                elif current.old_path:
                    current.path = current.old_path
            elif raw.startswith(("GIT binary patch", "Binary files")):
                current.binary = True
            elif raw.startswith("@@"):
                hunk = Hunk(header=raw)
                current.hunks.append(hunk)
                raw_hunks.append((current, hunk, []))
            continue
        if current.binary:
            continue
        if raw[:1] in ("+", "-", " ", "\\"):
            if raw[:1] == "+":
                current.added += 1
            elif raw[:1] == "-":
                current.removed += 1
            lines_seen += 1
            if lines_seen > MAX_LINES:
                truncated = current.truncated = True
                continue
            raw_hunks[-1][2].append((raw[:1], raw[1:]))
        elif raw.startswith("@@"):
            hunk = Hunk(header=raw)
            current.hunks.append(hunk)
            raw_hunks.append((current, hunk, []))
    for diff_file, each, body in raw_hunks:
        each.lines = _render_hunk(diff_file, each.header, body)
    return ParsedDiff(files=files, truncated=truncated)


def _lexer(path: str) -> Lexer | None:
    try:
        return get_lexer_for_filename(path, stripnl=False, stripall=False, ensurenl=False)
    except ClassNotFound:
        return None


def _token_class(kind: _TokenType) -> str | None:
    for parent, name in TOKEN_CLASSES:
        if kind in parent:
            return name
    return None


def highlight_lines(text: str, lexer: Lexer | None) -> list[Markup]:
    """`text` coloured, one Markup per line (as many as text.split("\\n") gives)."""
    if lexer is None:
        return [Markup(escape(line)) for line in text.split("\n")]
    out: list[list[str]] = [[]]
    for kind, value in lexer.get_tokens(text):
        css = _token_class(kind)
        pieces = value.split("\n")
        for i, piece in enumerate(pieces):
            if i:
                out.append([])
            if piece:
                escaped = str(escape(piece))
                out[-1].append(f'<span class="tok-{css}">{escaped}</span>' if css else escaped)
    lines = [Markup("".join(parts)) for parts in out]
    wanted = len(text.split("\n"))
    return (lines + [Markup("")] * wanted)[:wanted]


def _render_hunk(diff_file: FileDiff, header: str, body: list[tuple[str, str]]) -> list[Line]:
    match = HUNK.match(header)
    old_no = int(match.group(1)) if match else 1
    new_no = int(match.group(3)) if match else 1
    lexer = _lexer(diff_file.path)
    old_side = [text for mark, text in body if mark in (" ", "-")]
    new_side = [text for mark, text in body if mark in (" ", "+")]
    old_html = highlight_lines("\n".join(old_side), lexer)
    new_html = highlight_lines("\n".join(new_side), lexer)
    lines: list[Line] = []
    oi = ni = 0
    for mark, text in body:
        if mark == " ":
            lines.append(
                Line("ctx", old_no, new_no, new_html[ni] if ni < len(new_html) else escape(text))
            )
            old_no += 1
            new_no += 1
            oi += 1
            ni += 1
        elif mark == "-":
            lines.append(
                Line("del", old_no, None, old_html[oi] if oi < len(old_html) else escape(text))
            )
            old_no += 1
            oi += 1
        elif mark == "+":
            lines.append(
                Line("add", None, new_no, new_html[ni] if ni < len(new_html) else escape(text))
            )
            new_no += 1
            ni += 1
        else:
            lines.append(Line("note", None, None, Markup(escape(text.strip()))))
    return lines


def mark_scope(parsed: ParsedDiff, scope: dict[str, Any] | None) -> None:
    """Each file's place in the spec's scope, as the constitutional judge sees it:
    in scope (scope.in or scope.support, not scope.out), excluded (scope.out), or
    outside (in no scope.in entry)."""
    scope = scope or {}
    admitted = [*(scope.get("in") or []), *(scope.get("support") or [])]
    excluded = list(scope.get("out") or [])
    for diff_file in parsed.files:
        paths = [p for p in (diff_file.path, diff_file.old_path) if p]
        if excluded and any(in_scope(p, excluded) for p in paths):
            diff_file.scope = "out"
        elif all(in_scope(p, admitted) for p in paths):
            diff_file.scope = "in"
        else:
            diff_file.scope = "outside"
