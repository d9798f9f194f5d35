"""`agency slo`: each SLO judged from the database; `agency slo rules`: the Prometheus rules.

Both read the SLO file (AGENCY_SLO_FILE, or --file; unset: the default one). A file with
problems exits 2 listing every one. `agency slo` reads the database directly
(AGENCY_DATABASE_URL or the data dir), not the API: it is the operator's view of the
service, and works while the API is down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from agency.cli.errors import EXIT_BAD_INPUT, EXIT_FAILURE, CliError, Problem, handles_errors
from agency.cli.output import note, out, print_json
from agency.settings import Settings
from agency.slo.burn import SloStatus
from agency.slo.report import SloReport, build_report
from agency.slo.rules import rules_yaml
from agency.slo.spec import SloFile, SloFileInvalid, load_slo_file

slo_app = typer.Typer(
    help="Service level objectives: `agency slo` judges them from the database, "
    "`agency slo rules` prints them as Prometheus rules.",
    invoke_without_command=True,
)

FileOption = Annotated[
    Path | None,
    typer.Option("--file", help="The SLO file (default: AGENCY_SLO_FILE, else the built-in)."),
]


def read_slo_file(path: Path | None) -> SloFile:
    path = path or Settings().slo_file
    try:
        return load_slo_file(path)
    except SloFileInvalid as err:
        raise CliError(
            f"invalid SLO file {path or '(built-in)'}: {len(err.problems)} problem(s)",
            EXIT_BAD_INPUT,
            problems=[Problem(path=p.path or "(file)", message=p.message) for p in err.problems],
        ) from None


async def _report(settings: Settings, slo_file: SloFile) -> SloReport:
    from agency.db.engine import make_engine, session_maker
    from agency.db.types import utcnow

    engine = make_engine(settings.effective_database_url)
    try:
        async with session_maker(engine)() as session:
            return await build_report(session, slo_file, utcnow())
    finally:
        await engine.dispose()


def _run_report(slo_file: SloFile) -> SloReport:
    from agency.db.migrate import run_blocking

    try:
        return run_blocking(_report(Settings(), slo_file))  # type: ignore[no-any-return]
    except Exception as exc:
        raise CliError(f"database error: {type(exc).__name__}: {exc}", EXIT_FAILURE) from None


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def _burn(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def status_table(report: SloReport) -> Table:
    windows = [w.window for w in report.slos[0].windows] if report.slos else []
    table = Table(title="SLOs (from the database)", title_justify="left", header_style="bold")
    for column in ("SLO", "objective", "window", "events", "errors", "budget left"):
        table.add_column(column)
    for window in windows:
        table.add_column(f"burn {window}", justify="right")
    table.add_column("firing")
    for slo in report.slos:
        table.add_row(*_row(slo))
    return table


def _row(slo: SloStatus) -> list[str]:
    return [
        slo.name,
        f"{slo.objective * 100:g}%",  # 99%, 99.9%
        slo.window,
        f"{slo.total:g}",
        _pct(slo.error_ratio),
        _pct(slo.error_budget_left),
        *(_burn(w.burn_rate) for w in slo.windows),
        ", ".join(slo.firing) or "-",
    ]


@slo_app.callback()
@handles_errors
def status(
    ctx: typer.Context,
    file: FileOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Each SLO: objective, error budget left, burn rate per window, alerts firing."""
    if ctx.invoked_subcommand is not None:
        return
    report = _run_report(read_slo_file(file))
    if as_json:
        print_json(report.model_dump(mode="json"))
        return
    out().print(status_table(report))
    for slo in report.unjudged:
        note(f"{slo.name}: {slo.reason}")
    for name, severity in report.firing:
        note(f"FIRING {severity}: {name} is burning its error budget")


@slo_app.command("rules")
@handles_errors
def rules(file: FileOption = None) -> None:
    """Print the SLOs as Prometheus recording and alerting rules (`> rules.yml`)."""
    typer.echo(rules_yaml(read_slo_file(file)), nl=False)
