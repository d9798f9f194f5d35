"""`agency verify TASK`: check a task's signed provenance; exit 0 only when all holds."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from agency.cli.client import API, ApiClient, default_client, path_segment
from agency.cli.errors import EXIT_FAILURE, handles_errors
from agency.cli.output import note, out, print_json
from agency.cli.render import plain

STATUS_MARKS = {"pass": ("ok", "green"), "fail": ("FAIL", "bold red"), "skip": ("skip", "dim")}
POLL_S = 0.5


def fetch_provenance(client: ApiClient, task_id: str, wait_s: float) -> dict[str, Any]:
    """The verification report; while the task's workflow is still signing, ask again for
    up to `wait_s` seconds."""
    deadline = time.monotonic() + wait_s
    while True:
        report = client.request("GET", f"{API}/tasks/{path_segment(task_id)}/provenance")
        if not report.get("pending") or time.monotonic() >= deadline:
            return report
        time.sleep(POLL_S)


@handles_errors
def verify(
    task_id: Annotated[str, typer.Argument(help="Task id.")],
    wait: Annotated[
        float,
        typer.Option("--wait", min=0, help="Seconds to wait for a task that is still signing."),
    ] = 30.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Verify a task's provenance: signature, key, database, Temporal history, git."""
    with default_client() as client:
        report = fetch_provenance(client, task_id, wait)
    if as_json:
        print_json(report)
    else:
        out().print(checks_table(report))
        if report.get("verified"):
            note(f"verified: record {report.get('path')} at commit {report.get('commit')}")
        else:
            failed = [c["name"] for c in report.get("checks", []) if c.get("status") == "fail"]
            note(f"NOT verified: {', '.join(failed) or 'no checks ran'}")
    raise typer.Exit(0 if report.get("verified") else EXIT_FAILURE)


def checks_table(report: dict[str, Any]) -> Table:
    table = Table(
        title=f"Provenance of task {report.get('task_id')}",
        title_justify="left",
        header_style="bold",
    )
    table.add_column("check", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("detail", overflow="fold", ratio=1)
    for check in report.get("checks", []):
        mark, style = STATUS_MARKS.get(str(check.get("status")), ("?", "yellow"))
        table.add_row(plain(check.get("name")), Text(mark, style=style), plain(check.get("detail")))
    return table
