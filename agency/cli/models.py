"""`agency models list|load|swap`: the API process's inference models and hot swap."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from agency.cli.client import default_client, path_segment
from agency.cli.errors import handles_errors
from agency.cli.output import note, out, print_json
from agency.cli.render import plain

models_app = typer.Typer(
    help="Inference models: list them, load one, hot-swap the current one.",
    no_args_is_help=True,
)

API_MODELS = "/api/v1/models"
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Name = Annotated[str, typer.Argument(help="A model name (see `agency models list`).")]


def _mib(value: Any) -> str:
    return f"{value / 2**20:.0f} MiB" if isinstance(value, int) else "-"


def models_table(listing: dict[str, Any]) -> Table:
    table = Table(title="Models", title_justify="left", header_style="bold")
    for column in ("name", "state", "precision", "memory", "load", "in flight", "source"):
        table.add_column(column, no_wrap=column != "source")
    for model in listing.get("models", []):
        if model.get("current"):
            state = "current"
        elif model.get("loaded"):
            state = "loaded"
        elif not model.get("available"):
            state = "not installed"
        else:
            state = "-"
        if model.get("default"):
            state += " (default)"
        load = model.get("load_s")
        table.add_row(
            plain(model.get("name")),
            plain(state),
            plain(model.get("precision") or "-"),
            _mib(model.get("memory_bytes")),
            f"{load:.2f} s" if isinstance(load, int | float) else "-",
            str(model.get("in_flight", 0)),
            plain(model.get("problem") or model.get("description") or ""),
        )
    return table


@models_app.command("list")
@handles_errors
def list_models(as_json: JsonFlag = False) -> None:
    """The models the API knows, which is current, and their memory and load time."""
    with default_client() as client:
        listing = client.request("GET", API_MODELS)
    if as_json:
        print_json(listing)
        return
    out().print(models_table(listing))
    note(f"BLAS: {listing.get('blas')}")


@models_app.command("load")
@handles_errors
def load(name: Name, as_json: JsonFlag = False) -> None:
    """Load a model into the API's memory (it becomes current if none is)."""
    with default_client() as client:
        info = client.request("POST", f"{API_MODELS}/{path_segment(name)}/load")
    if as_json:
        print_json(info)
        return
    typer.echo(
        f"{info['name']}: loaded in {info.get('load_s') or 0:.2f} s, "
        f"{_mib(info.get('memory_bytes'))}, {info.get('precision')}"
        + (" (current)" if info.get("current") else "")
    )


@models_app.command("swap")
@handles_errors
def swap(name: Name, as_json: JsonFlag = False) -> None:
    """Hot swap: new requests go to NAME; requests in flight finish on the old model."""
    with default_client() as client:
        # Loading a model can take a while on a CPU.
        report = client.request("POST", f"{API_MODELS}/swap", json={"name": name})
    if as_json:
        print_json(report)
        return
    typer.echo(
        f"{report.get('previous') or '(none)'} -> {report['current']}: "
        f"switched in {report['switch_s']:.2f} s (load {report['load_s']:.2f} s), "
        f"{_mib(report.get('memory_bytes'))}"
    )
    if report.get("previous_in_flight"):
        note(
            f"{report['previous_in_flight']} request(s) finish on {report['previous']}; "
            "it is freed after them"
        )
