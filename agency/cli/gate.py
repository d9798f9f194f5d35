"""`agency gate …`: checks ready to run as a task's quality gate or in a repository's CI.

`agency gate placeholders [PATHS…]` fails when source holds unfinished work: a
placeholder marker, an unimplemented stub, a commented-out `pass` stub. It looks for
exactly what the technical judge flags in a change (council.markers), so a repository
whose CI runs it and the council agree on what is a stub. Each finding is printed as
`file:line: what`; the exit code is 0 when none is found, 1 when some are, 2 for bad
input (a path that does not exist).

Directories are walked, leaving out hidden ones (`.git`, `.venv`, …), `__pycache__`,
`node_modules`, and files that are not text. Test files (tests/ or spec/ directories,
test_*.py, *_test.*, *.test.*, *.spec.*) are left out unless `--include-tests`: tests
may hold markers as test data.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated

import typer

from agency.cli.errors import EXIT_BAD_INPUT, EXIT_FAILURE, CliError, handles_errors
from council.markers import unfinished_lines
from council.paths import is_test_file, normalize

gate_app = typer.Typer(
    help="Checks for a task's quality gates or a repository's CI (exit 0: clean, 1: found, "
    "2: bad input).",
    no_args_is_help=True,
)

SKIPPED_DIRS = frozenset({"__pycache__", "node_modules"})
# Enough of a file to tell text from binary.
SNIFF_BYTES = 8192


def _walk(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for current, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS)
        for name in sorted(files):
            yield Path(current) / name


def _shown(path: Path, root: Path) -> str:
    """The path as reported (and as test files are recognised): relative to the working
    directory when it is inside it, else to the argument it was found under."""
    try:
        return normalize(str(path.resolve().relative_to(Path.cwd().resolve())))
    except ValueError:
        base = root if root.is_dir() else root.parent
        return normalize(str(path.relative_to(base)))


def _text_lines(path: Path) -> list[str] | None:
    """The file's lines, or None when it is not UTF-8 text."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if b"\x00" in data[:SNIFF_BYTES]:
        return None
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return None


def scan(
    roots: list[Path], *, include_tests: bool = False, exclude: list[str] | None = None
) -> tuple[list[tuple[str, int, str]], int]:
    """(findings as (path, line, what), number of files read) under `roots`."""
    findings: list[tuple[str, int, str]] = []
    read = 0
    seen: set[Path] = set()
    for root in roots:
        for path in _walk(root):
            shown = _shown(path, root)
            if path.resolve() in seen or any(fnmatchcase(shown, g) for g in exclude or []):
                continue
            seen.add(path.resolve())
            if not include_tests and is_test_file(shown):
                continue
            lines = _text_lines(path)
            if lines is None:
                continue
            read += 1
            findings += [(shown, n, what) for n, what in unfinished_lines(lines)]
    return findings, read


@gate_app.command("placeholders")
@handles_errors
def placeholders(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Files or directories to check (default: the current one)."),
    ] = None,
    include_tests: Annotated[
        bool, typer.Option("--include-tests", help="Check test files too.")
    ] = False,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", help="Leave out paths matching this glob (repeatable)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
) -> None:
    """Fail on unfinished work (placeholder markers, unimplemented or commented-out stubs)
    in source files: what the technical judge flags in a change."""
    roots = paths or [Path(".")]
    missing = [str(p) for p in roots if not p.exists()]
    if missing:
        raise CliError(f"no such file or directory: {', '.join(missing)}", EXIT_BAD_INPUT)
    findings, read = scan(roots, include_tests=include_tests, exclude=exclude)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "files": read,
                    "findings": [{"path": p, "line": n, "what": w} for p, n, w in findings],
                },
                indent=2,
            )
        )
    else:
        for path, line, what in findings:
            typer.echo(f"{path}:{line}: {what}")
        kinds = Counter(what for _, _, what in findings)
        found = ", ".join(f"{what}: {n}" for what, n in kinds.items())
        summary = f"{len(findings)} found ({found})" if findings else "none"
        typer.echo(f"{read} file(s) checked; unfinished work: {summary}", err=True)
    if findings:
        raise typer.Exit(EXIT_FAILURE)
