"""Where the CLI writes: rich for people, plain JSON for programs."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console

# Pipes and log files get wide lines rather than tables folded to 80 columns.
MIN_PIPE_WIDTH = 160


def out() -> Console:
    # Built per call so that the current sys.stdout is used (CliRunner swaps it).
    console = Console(highlight=False)
    if not console.is_terminal and console.width < MIN_PIPE_WIDTH:
        console = Console(highlight=False, width=MIN_PIPE_WIDTH)
    return console


def note(message: str) -> None:
    """Side remarks go to stderr so that stdout stays machine-readable (ids, JSON)."""
    Console(stderr=True, highlight=False).print(message, markup=False)


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))
