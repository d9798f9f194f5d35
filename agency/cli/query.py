"""`agency query "SQL"`: the database explorer from the command line (admin keys only).

Calls POST /api/v1/explorer/query and prints the rows as a table, CSV or JSON. A refused
query (a write, a hidden column, another tenant's rows, past its deadline) exits 2 with
every reason the API gave.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any, Literal

import typer
from rich.markup import escape
from rich.table import Table

from agency.cli.client import API, default_client
from agency.cli.errors import EXIT_BAD_INPUT, CliError, handles_errors
from agency.cli.output import note, out, print_json
from agency.explorer.params import BadParam, parse_param
from agency.explorer.result import QueryResult, to_csv


def _params(texts: list[str]) -> dict[str, Any]:
    try:
        return dict(parse_param(t) for t in texts)
    except BadParam as err:
        raise CliError(f"--param {err}", EXIT_BAD_INPUT) from None


@handles_errors
def query(
    sql: Annotated[str, typer.Argument(help="One SELECT; `:name` marks a parameter.")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="NAME=VALUE (repeatable)")
    ] = None,
    format: Annotated[
        Literal["table", "csv", "json"], typer.Option("--format", "-f", help="table, csv or json")
    ] = "table",
) -> None:
    """Run read-only SQL over your tenant's records (admin; docs/explorer.md)."""
    params = _params(param or [])
    with default_client() as client:
        body = client.request("POST", f"{API}/explorer/query", json={"sql": sql, "params": params})
    result = QueryResult(body["columns"], body["rows"], body["truncated"], body["elapsed_ms"])
    if format == "json":
        print_json(body)
    elif format == "csv":
        sys.stdout.write(to_csv(result))
    else:
        table = Table(*[escape(c) for c in result.columns])
        for row in result.rows:
            table.add_row(*["" if v is None else escape(str(v)) for v in row])
        out().print(table)
        note(
            f"{len(result.rows)} row(s) in {result.elapsed_ms:g} ms"
            + ("; truncated at the row or size cap" if result.truncated else "")
        )
