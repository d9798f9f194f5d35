"""`agency trends`: a series of the tenant's records and its forecast, from the API
(`GET /api/v1/trends`, docs/trends.md)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from agency.cli.client import default_client
from agency.cli.errors import handles_errors
from agency.cli.output import note, out, print_json

API_TRENDS = "/api/v1/trends"
# The table's history: the most recent buckets only (--json has them all).
SHOWN = 14


def _number(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def trend_table(report: dict[str, Any]) -> Table:
    table = Table(
        title=f"{report['series']} per {report['bucket']}: {report['unit']}",
        title_justify="left",
        header_style="bold",
    )
    for column in ("start (UTC)", "value", "forecast", "lower", "upper"):
        table.add_column(column, justify="left" if column.startswith("start") else "right")
    for bucket in report["buckets"][-SHOWN:]:
        at = bucket["at"][:16].replace("T", " ") + ("" if bucket["complete"] else " (so far)")
        table.add_row(at, _number(bucket["value"]), "", "", "")
    for point in (report.get("forecast") or {}).get("points", []):
        at = point["at"][:16].replace("T", " ")
        table.add_row(
            at, "", _number(point["value"]), _number(point["lower"]), _number(point["upper"])
        )
    return table


def summary(report: dict[str, Any]) -> str:
    forecast = report.get("forecast")
    if forecast is None:
        return f"No forecast: {report.get('reason')}."
    score = forecast["backtest"]
    mape = "" if score["mape"] is None else f", MAPE {score['mape'] * 100:.1f} %"
    naive = "" if score["naive_mae"] is None else f"; seasonal-naive MAE {score['naive_mae']:g}"
    return (
        f"Forecast: {forecast['method']}; {forecast['interval'] * 100:.0f} % band. "
        f"Backtest ({score['kind']}): MAE {score['mae']:g}{mape}{naive}."
    )


@handles_errors
def trends(
    series: Annotated[
        str,
        typer.Option(help="tasks, outcomes, durations, approvals or interventions"),
    ] = "tasks",
    bucket: Annotated[str, typer.Option(help="hour or day")] = "day",
    days: Annotated[int, typer.Option(help="days of history (1 to 366)")] = 42,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON.")] = False,
) -> None:
    """A series of your tenant's tasks by hour or day, and its forecast with its backtest
    error (or why there is none)."""
    with default_client() as client:
        report = client.request(
            "GET", API_TRENDS, params={"series": series, "bucket": bucket, "days": days}
        )
    if as_json:
        print_json(report)
        return
    out().print(trend_table(report))
    note(summary(report))
