"""Operating commands: `agency up`, `agency status`, `agency demo`, `agency db upgrade`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from agency.cli.errors import EXIT_BAD_INPUT, EXIT_FAILURE, CliError, handles_errors
from agency.cli.output import out, print_json
from agency.settings import Settings
from agency.stack_state import StackState, StackStateError, is_running, read_stack_state

PART_STYLES = {
    "up": "bold green",
    "starting": "cyan",
    "restarting": "bold yellow",
    "stopping": "yellow",
    "stopped": "dim",
}

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


@db_app.command("upgrade")
@handles_errors
def db_upgrade() -> None:
    """Apply the database migrations (SQLite under the data dir, or AGENCY_DATABASE_URL)."""
    from agency.stack import run_migrations

    settings = Settings()
    url = settings.effective_database_url
    if url.startswith("sqlite"):
        # SQLite creates the file but not its directory.
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        run_migrations(url)
    except Exception as exc:
        raise CliError(f"migration failed: {type(exc).__name__}: {exc}", EXIT_FAILURE) from None
    typer.echo(f"database at {_redact(url)} is up to date")


@handles_errors
def up() -> None:
    """Start Temporal, the executor, the worker and the API here and keep them running.

    A part that dies is restarted (with a growing delay); Ctrl-C stops them all.
    """
    from agency.demo.run import print_urls
    from agency.stack import Stack, StackError, stop_signals

    console = out()
    stack = Stack(Settings(), report=lambda line: console.print(f"[dim]{escape(line)}[/]"))
    with stop_signals():
        try:
            stack.start()
            print_urls(stack, console)
            console.print(
                f"logs in {escape(str(stack.supervisor.log_dir))}; `agency status` shows "
                "each part; press Ctrl-C to stop."
            )
            stack.wait()
        except StackError as error:
            raise CliError(str(error), EXIT_FAILURE) from None
        except KeyboardInterrupt:
            pass
        finally:
            stack.stop()


@handles_errors
def status(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the state as JSON instead of a table.")
    ] = False,
) -> None:
    """Show the parts of the stack `agency up` runs in the data dir (AGENCY_DATA_DIR).

    Exit status 0 when every part is up; 1 when the stack is not running or a part is not up.
    """
    settings = Settings()
    try:
        state = read_stack_state(settings.stack_state_file)
    except StackStateError as exc:
        raise CliError(str(exc), EXIT_BAD_INPUT) from None
    if state is None:
        raise CliError(
            f"no stack is running in {settings.resolved_data_dir}",
            EXIT_FAILURE,
            hint="`agency up` starts one (AGENCY_DATA_DIR chooses the directory).",
        )
    running = is_running(state)
    if as_json:
        print_json({"running": running, **state.model_dump(mode="json")})
    else:
        console = out()
        if not running:
            console.print(
                f"the stack is not running (supervisor pid {state.supervisor_pid} is gone); "
                "last known state:"
            )
        console.print(stack_table(state))
        if running:
            waiting = [part.name for part in state.parts if part.state != "up"]
            summary = f"not up: {', '.join(waiting)}" if waiting else "every part is up"
            console.print(
                f"stack running (supervisor pid {state.supervisor_pid}); {escape(summary)}"
            )
    if not (running and state.all_up()):
        raise typer.Exit(EXIT_FAILURE)


def stack_table(state: StackState) -> Table:
    table = Table(header_style="bold")
    for column in ("part", "state", "pid", "restarts", "last exit", "since"):
        table.add_column(column, no_wrap=True, justify="right" if column == "restarts" else "left")
    for part in state.parts:
        table.add_row(
            Text(part.name),
            Text(part.state, style=PART_STYLES.get(part.state, "")),
            Text("-" if part.pid is None else str(part.pid)),
            Text(str(part.restarts)),
            Text(part.last_exit or "-"),
            Text(_local_time(part.since)),
        )
    return table


def _local_time(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


@handles_errors
def demo(
    ci: Annotated[
        bool,
        typer.Option("--ci", help="Stop after the report; exit 0 only if all scenarios passed."),
    ] = False,
) -> None:
    """Run three governed tasks end to end on a fresh stack and report the outcomes."""
    from agency.demo.run import ci_requested, run_demo

    raise typer.Exit(run_demo(Settings(), ci=ci_requested(ci), console=out()))


def _redact(url: str) -> str:
    # postgresql://user:secret@host/db → postgresql://user:***@host/db
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, location = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{location}"
