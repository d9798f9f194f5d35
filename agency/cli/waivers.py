"""`agency waiver create|approve|revoke|list|show`: waivers through the API."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from agency.cli.client import API, default_client, path_segment
from agency.cli.errors import EXIT_BAD_INPUT, CliError, handles_errors
from agency.cli.output import note, out, print_json
from agency.cli.render import plain

waiver_app = typer.Typer(
    help="Waivers: time-limited, approved exceptions to a gate (budget, scope, …).",
    no_args_is_help=True,
)

WAIVERS = f"{API}/waivers"
STATUS_STYLES = {"active": "green", "proposed": "yellow", "expired": "dim", "revoked": "red"}
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
WaiverId = Annotated[str, typer.Argument(help="Waiver id, WV-NNNN.")]
_DURATION = re.compile(r"^(\d+)([dhm])$")


def parse_expiry(text: str, now: datetime | None = None) -> datetime:
    """An ISO date or datetime (UTC when no zone), or a duration from now: 7d, 12h, 30m."""
    now = now or datetime.now(UTC)
    match = _DURATION.match(text.strip())
    if match:
        unit = {"d": "days", "h": "hours", "m": "minutes"}[match.group(2)]
        return now + timedelta(**{unit: int(match.group(1))})
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CliError(
            f"--expires {text!r}: give an ISO date/datetime or a duration like 7d, 12h, 30m",
            EXIT_BAD_INPUT,
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@waiver_app.command("create")
@handles_errors
def create(
    title: Annotated[str, typer.Option("--title", help="One line naming the exception.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it is needed.")],
    reason_code: Annotated[
        str, typer.Option("--reason-code", help="CAWS reason code, e.g. architectural_refactor.")
    ],
    gates: Annotated[
        list[str], typer.Option("--gate", help="Gate waived (repeat): budget_limit, …")
    ],
    applies_to: Annotated[
        list[str], typer.Option("--applies-to", help="CAWS spec id it may be used by (repeat).")
    ],
    risk_owner: Annotated[str, typer.Option("--risk-owner", help="Who owns the risk.")],
    expires: Annotated[
        str, typer.Option("--expires", help="ISO date/datetime, or a duration: 7d, 12h.")
    ],
    max_files: Annotated[int, typer.Option("--max-files", min=0, help="Extra files.")] = 0,
    max_loc: Annotated[int, typer.Option("--max-loc", min=0, help="Extra changed lines.")] = 0,
    risk_tier: Annotated[
        int | None, typer.Option("--risk-tier", min=1, max=3, help="Tier for approver count.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Propose a waiver; prints its id. It is active once enough others approve it."""
    body = {
        "title": title,
        "reason": reason,
        "reason_code": reason_code,
        "gates": gates,
        "delta": {"max_files": max_files, "max_loc": max_loc},
        "applies_to": applies_to,
        "risk_owner": risk_owner,
        "risk_tier": risk_tier,
        "expires_at": parse_expiry(expires).isoformat(),
    }
    with default_client() as client:
        waiver = client.request("POST", WAIVERS, json=body)
    if as_json:
        print_json(waiver)
        return
    typer.echo(waiver["id"])
    note(
        f"proposed {waiver['id']}: needs {waiver['required_approvals']} approval(s) "
        "by people other than its creator and risk owner"
    )


@waiver_app.command("approve")
@handles_errors
def approve(
    waiver_id: WaiverId,
    comment: Annotated[str, typer.Option("--comment", help="Recorded with the approval.")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Approve a waiver (not your own, and once)."""
    with default_client() as client:
        waiver = client.request(
            "POST", f"{WAIVERS}/{path_segment(waiver_id)}/approve", json={"comment": comment}
        )
    _done(waiver, as_json, "approved")


@waiver_app.command("revoke")
@handles_errors
def revoke(
    waiver_id: WaiverId,
    reason: Annotated[str, typer.Option("--reason", help="Why it is withdrawn.")],
    as_json: JsonFlag = False,
) -> None:
    """Revoke a waiver: tasks validated from now on cannot use it."""
    with default_client() as client:
        waiver = client.request(
            "POST", f"{WAIVERS}/{path_segment(waiver_id)}/revoke", json={"reason": reason}
        )
    _done(waiver, as_json, "revoked")


@waiver_app.command("list")
@handles_errors
def list_waivers(
    status: Annotated[str | None, typer.Option("--status", help="Only this status.")] = None,
    applies_to: Annotated[
        str | None, typer.Option("--applies-to", help="Only waivers for this spec id.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List waivers, newest first."""
    with default_client() as client:
        body = client.request("GET", WAIVERS, params={"status": status, "applies_to": applies_to})
    items = body["items"]
    if as_json:
        print_json(items)
        return
    if not items:
        note("no waivers")
    else:
        out().print(waiver_table(items))
    # Waiver files the server set aside: each is a problem only for tasks citing it.
    for f in body.get("files") or []:
        if not f.get("valid"):
            problems = "; ".join(
                f"{p.get('path') or '<file>'}: {p.get('message')} [{p.get('rule')}]"
                for p in f.get("problems") or []
            )
            note(f"waiver file {f.get('file')} ({f.get('id')}) is invalid, set aside: {problems}")


@waiver_app.command("show")
@handles_errors
def show(waiver_id: WaiverId, as_json: JsonFlag = False) -> None:
    """Show one waiver with its approvals."""
    with default_client() as client:
        waiver = client.request("GET", f"{WAIVERS}/{path_segment(waiver_id)}")
    if as_json:
        print_json(waiver)
    else:
        out().print(waiver_view(waiver))


def _done(waiver: dict[str, Any], as_json: bool, what: str) -> None:
    if as_json:
        print_json(waiver)
        return
    approvals = len(waiver.get("approvals") or [])
    note(
        f"{what} {waiver['id']}: now {waiver['status']} "
        f"({approvals}/{waiver['required_approvals']} approvals)"
    )


def _status(value: Any) -> Text:
    return Text(str(value), style=STATUS_STYLES.get(str(value), ""))


def waiver_table(items: list[dict[str, Any]]) -> Table:
    table = Table(header_style="bold")
    for column in ("id", "status", "gates", "applies to", "delta", "approvals", "expires", "title"):
        table.add_column(column, no_wrap=column != "title")
    for w in items:
        delta = w.get("delta") or {}
        table.add_row(
            plain(w.get("id")),
            _status(w.get("status")),
            plain(", ".join(w.get("gates") or [])),
            plain(", ".join(w.get("applies_to") or [])),
            plain(f"+{delta.get('max_files', 0)} files +{delta.get('max_loc', 0)} loc"),
            plain(f"{len(w.get('approvals') or [])}/{w.get('required_approvals')}"),
            plain(str(w.get("expires_at") or "")[:19].replace("T", " ")),
            plain(w.get("title")),
        )
    return table


def waiver_view(w: dict[str, Any]) -> RenderableType:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    delta = w.get("delta") or {}
    rows: list[tuple[str, RenderableType]] = [
        ("waiver", plain(f"{w.get('id')}  {w.get('title')}")),
        ("status", _status(w.get("status"))),
        ("gates", plain(", ".join(w.get("gates") or []))),
        ("delta", plain(f"+{delta.get('max_files', 0)} files, +{delta.get('max_loc', 0)} lines")),
        ("applies to", plain(", ".join(w.get("applies_to") or []))),
        ("reason", plain(f"[{w.get('reason_code')}] {w.get('reason')}")),
        ("risk owner", plain(w.get("risk_owner"))),
        ("created", plain(f"{w.get('created_at')} by {w.get('created_by')}")),
        ("expires", plain(w.get("expires_at"))),
        ("approvals", plain(f"{len(w.get('approvals') or [])} of {w.get('required_approvals')}")),
    ]
    for label, value in rows:
        grid.add_row(label, value)
    for a in w.get("approvals") or []:
        comment = f": {a['comment']}" if a.get("comment") else ""
        grid.add_row("", plain(f"{a.get('approver')} at {a.get('approved_at')}{comment}"))
    if w.get("revoked_at"):
        grid.add_row(
            "revoked",
            Text(f"{w['revoked_at']} by {w.get('revoked_by')}: {w.get('revoke_reason')}", "red"),
        )
    return Group(grid)
