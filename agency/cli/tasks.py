"""Commands that submit and inspect tasks: submit, list, show, watch, audit."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, get_args

import typer

from agency.cli.client import default_client
from agency.cli.errors import EXIT_BAD_INPUT, EXIT_FAILURE, CliError, handles_errors
from agency.cli.output import note, out, print_json
from agency.cli.render import audit_table, task_table, task_view
from agency.cli.specfile import load_spec_file
from agency.cli.watch import poll_until_terminal, watch_task
from domain.phases import Phase

EXECUTION_MODES = ("strict", "auto", "dry_run")
TASK_MODES = ("feature", "refactor", "fix", "doc", "chore")
PHASES: tuple[str, ...] = get_args(Phase)


class ExecutionMode(StrEnum):
    strict = "strict"
    auto = "auto"
    dry_run = "dry_run"


TaskId = Annotated[str, typer.Argument(help="Task id (as printed by `agency submit`).")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def exit_for(task: dict[str, Any]) -> int:
    """0 when the task completed; 1 when it failed, was rejected or canceled."""
    return 0 if task.get("phase") == "completed" else EXIT_FAILURE


@handles_errors
def submit(
    spec_file: Annotated[Path, typer.Argument(help="Task spec, YAML or JSON.")],
    mode: Annotated[
        ExecutionMode | None,
        typer.Option("--mode", help="Override the spec's execution_mode."),
    ] = None,
    watch: Annotated[bool, typer.Option("--watch", help="Follow the task to its end.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Submit a task spec; prints the new task's id."""
    spec = load_spec_file(spec_file, mode.value if mode else None)
    with default_client() as client:
        task = client.submit(spec)
        task_id = str(task.get("id"))
        if as_json and not watch:
            print_json(task)
            return
        if not as_json:
            typer.echo(task_id)
            note(f"submitted {task.get('caws_id') or spec.get('id') or ''}: {task.get('phase')}")
        if not watch:
            return
        if as_json:
            final = poll_until_terminal(client, task_id)
            print_json(final)
        else:
            final = watch_task(client, task_id, out())
    raise typer.Exit(exit_for(final))


@handles_errors
def list_tasks(
    phase: Annotated[str | None, typer.Option("--phase", help="Only tasks in this phase.")] = None,
    mode: Annotated[
        str | None,
        typer.Option(
            "--mode",
            help="Execution mode (strict|auto|dry_run) or task mode (feature|fix|...).",
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 20,
    as_json: JsonFlag = False,
) -> None:
    """List tasks, newest first."""
    if phase is not None and phase not in PHASES:
        raise CliError(f"unknown phase {phase!r}; one of: {', '.join(PHASES)}", EXIT_BAD_INPUT)
    filters: dict[str, str | None] = {"phase": phase}
    # The two mode vocabularies do not overlap, so one option can serve both filters.
    if mode in EXECUTION_MODES:
        filters["execution_mode"] = mode
    elif mode in TASK_MODES:
        filters["mode"] = mode
    elif mode is not None:
        raise CliError(
            f"unknown mode {mode!r}; one of: {', '.join(EXECUTION_MODES + TASK_MODES)}",
            EXIT_BAD_INPUT,
        )
    with default_client() as client:
        tasks = client.list_tasks(limit, **filters)
    if as_json:
        print_json(tasks)
    elif not tasks:
        note("no tasks")
    else:
        out().print(task_table(tasks))


@handles_errors
def show(task_id: TaskId, as_json: JsonFlag = False) -> None:
    """Show one task: phase, judges' verdicts, decision, applied commit."""
    with default_client() as client:
        task = client.get_task(task_id)
    if as_json:
        print_json(task)
    else:
        out().print(task_view(task))


@handles_errors
def watch(task_id: TaskId) -> None:
    """Follow a task live until it completes, fails, is rejected or canceled."""
    with default_client() as client:
        final = watch_task(client, task_id, out())
    raise typer.Exit(exit_for(final))


@handles_errors
def audit(task_id: TaskId, as_json: JsonFlag = False) -> None:
    """The task's audit trail: who did what, when, with which verdict."""
    with default_client() as client:
        entries = client.audit(task_id)
    if as_json:
        print_json(entries)
    elif not entries:
        note("no audit entries")
    else:
        out().print(audit_table(entries))
