"""Operating commands: `agency up`, `agency demo`, `agency db upgrade`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from agency.cli.errors import EXIT_FAILURE, CliError, handles_errors
from agency.cli.output import out
from agency.settings import Settings

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
    """Start Temporal, the executor, the worker and the API on this machine; Ctrl-C stops."""
    from agency.demo.run import print_urls
    from agency.stack import Stack, StackError, stop_signals

    console = out()
    stack = Stack(Settings(), report=lambda line: console.print(f"[dim]{escape(line)}[/]"))
    with stop_signals():
        try:
            stack.start()
            print_urls(stack, console)
            console.print(f"logs in {stack.supervisor.log_dir}; press Ctrl-C to stop.")
            stack.wait()
        except StackError as error:
            raise CliError(str(error), EXIT_FAILURE) from None
        except KeyboardInterrupt:
            pass
        finally:
            stack.stop()


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
