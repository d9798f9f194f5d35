"""Errors the CLI shows to a person: a message, optional problems, and an exit code.

Exit codes: 2 for bad input (a bad spec file, an API 4xx), 1 for server-side trouble
(an API 5xx, the API unreachable, a task that did not complete). Nothing reaches the
user as a traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Problem:
    path: str
    message: str


@dataclass
class CliError(Exception):
    message: str
    exit_code: int = EXIT_FAILURE
    problems: list[Problem] = field(default_factory=list)
    hint: str | None = None

    def __str__(self) -> str:
        return self.message


def error_console() -> Console:
    # Built per call so that the current sys.stderr is used (CliRunner swaps it).
    return Console(stderr=True, highlight=False, soft_wrap=True)


def print_error(error: CliError) -> None:
    console = error_console()
    console.print(f"[bold red]error:[/] {escape(error.message)}")
    for problem in error.problems:
        where = problem.path or "(spec)"
        console.print(f"  [yellow]{escape(where)}[/]: {escape(problem.message)}")
    if error.hint:
        console.print(f"[dim]{escape(error.hint)}[/]")


def handles_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn CliError (and Ctrl-C) into a readable message and an exit code."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except CliError as error:
            print_error(error)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            error_console().print("[yellow]interrupted[/]")
            raise typer.Exit(EXIT_INTERRUPTED) from None

    return wrapper
