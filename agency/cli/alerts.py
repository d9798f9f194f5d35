"""`agency alerts list|ack|resolve|silence|silences|expire`: alerts from the SLOs and
their silences, through the API (docs/alerts.md). A refused step (an alert already
acknowledged or resolved, a silence already ended, bad input) exits 2 saying why."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.table import Table

from agency.cli.client import API, default_client
from agency.cli.errors import EXIT_BAD_INPUT, CliError, handles_errors
from agency.cli.output import note, out, print_json

alerts_app = typer.Typer(
    help="Alerts from the SLOs: list, acknowledge, resolve, silence.", no_args_is_help=True
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
AlertId = Annotated[int, typer.Argument(help="The alert's id (agency alerts list).", min=1)]
Reason = Annotated[str, typer.Option("--reason", help="Why; recorded with the step.")]
_DURATION = re.compile(r"^(\d+)([wdhm])$")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise CliError(f"--for {text!r}: give a duration like 30m, 2h, 1d", EXIT_BAD_INPUT)
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_matcher(text: str) -> dict[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise CliError(
            f"--matcher {text!r}: give label=value, e.g. slo=task_success", EXIT_BAD_INPUT
        )
    return {"name": name.strip(), "value": value.strip()}


def _when(value: str | None) -> str:
    return "-" if not value else value.replace("T", " ")[:19]


def alerts_table(items: list[dict[str, Any]]) -> Table:
    table = Table(title="Alerts", title_justify="left", header_style="bold")
    for column in ("id", "state", "SLO", "severity", "started", "last seen", "by", "silenced"):
        table.add_column(column)
    for a in items:
        by = a.get("resolved_by") or a.get("acknowledged_by") or "-"
        silenced = ", ".join(f"#{s}" for s in a.get("silenced_by") or []) or "-"
        table.add_row(
            str(a["id"]),
            a["state"].upper(),
            a["slo"],
            a["severity"],
            _when(a["started_at"]),
            _when(a["last_seen_at"]),
            by,
            silenced,
        )
    return table


def silences_table(items: list[dict[str, Any]]) -> Table:
    table = Table(title="Silences", title_justify="left", header_style="bold")
    for column in ("id", "status", "matchers", "ends", "by", "reason"):
        table.add_column(column)
    for s in items:
        matchers = ", ".join(f"{m['name']}={m['value']}" for m in s["matchers"])
        table.add_row(
            str(s["id"]), s["status"], matchers, _when(s["ends_at"]), s["created_by"], s["reason"]
        )
    return table


@alerts_app.command("list")
@handles_errors
def list_alerts(
    state: Annotated[
        str | None, typer.Option("--state", help="firing, acknowledged or resolved.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Alerts, newest first."""
    with default_client() as client:
        items = client.request("GET", f"{API}/alerts", params={"state": state})["items"]
    if as_json:
        print_json(items)
    elif not items:
        note("no alerts")
    else:
        out().print(alerts_table(items))


def _step(alert_id: int, step: str, reason: str, as_json: bool) -> None:
    with default_client() as client:
        alert = client.request("POST", f"{API}/alerts/{alert_id}/{step}", json={"reason": reason})
    if as_json:
        print_json(alert)
    else:
        note(f"alert {alert['id']} ({alert['slo']} {alert['severity']}) is {alert['state']}")


@alerts_app.command("ack")
@handles_errors
def ack(alert_id: AlertId, reason: Reason = "acknowledged", as_json: JsonFlag = False) -> None:
    """Acknowledge a firing alert: it is not notified again until it resolves."""
    _step(alert_id, "ack", reason, as_json)


@alerts_app.command("resolve")
@handles_errors
def resolve(
    alert_id: AlertId, reason: Reason = "resolved by hand", as_json: JsonFlag = False
) -> None:
    """Resolve an alert by hand (a new one fires if the SLO still burns)."""
    _step(alert_id, "resolve", reason, as_json)


@alerts_app.command("silence")
@handles_errors
def silence(
    matchers: Annotated[
        list[str], typer.Option("--matcher", help="label=value (repeat): slo, severity, alertname.")
    ],
    duration: Annotated[str, typer.Option("--for", help="How long: 30m, 2h, 1d.")],
    reason: Reason,
    as_json: JsonFlag = False,
) -> None:
    """Mute the notifications of matching alerts for a while; prints the silence's id."""
    body = {
        "matchers": [parse_matcher(m) for m in matchers],
        "ends_at": (datetime.now(UTC) + parse_duration(duration)).isoformat(),
        "reason": reason,
    }
    with default_client() as client:
        made = client.request("POST", f"{API}/silences", json=body)
    if as_json:
        print_json(made)
        return
    typer.echo(made["id"])
    note(f"silence {made['id']} until {_when(made['ends_at'])} UTC")


@alerts_app.command("silences")
@handles_errors
def silences(
    include_expired: Annotated[
        bool, typer.Option("--all", help="Also the silences that ended.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Silences, newest first."""
    with default_client() as client:
        items = client.request(
            "GET", f"{API}/silences", params={"include_expired": include_expired or None}
        )["items"]
    if as_json:
        print_json(items)
    elif not items:
        note("no silences")
    else:
        out().print(silences_table(items))


@alerts_app.command("expire")
@handles_errors
def expire(
    silence_id: Annotated[int, typer.Argument(help="The silence's id.", min=1)],
    as_json: JsonFlag = False,
) -> None:
    """Expire a silence now."""
    with default_client() as client:
        made = client.request("DELETE", f"{API}/silences/{silence_id}")
    if as_json:
        print_json(made)
    else:
        note(f"silence {made['id']} expired")
