"""`agency replay TASK [--rerun]`: determinism check, and optionally a re-run compared.

The re-run starts a new task from the recorded spec at the recorded base commit, as a
dry run (a change that was applied once is never applied twice), waits for it, and
compares the two signed records: outcome, each round's decision and verdicts, changed
files and gate results. Exit 0 only when the replay is clean and (with --rerun) nothing
differs.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from agency.cli.client import API, ApiClient, default_client, path_segment
from agency.cli.errors import EXIT_FAILURE, CliError, handles_errors
from agency.cli.output import note, print_json
from agency.cli.verify import fetch_provenance
from agency.cli.watch import is_terminal, poll_until_terminal
from agency.provenance.replay import compare_outcomes

SIGNING_WAIT_S = 60.0


def rerun_spec(spec: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """The recorded spec, pinned to the recorded base commit, as a dry run."""
    again = dict(spec)
    if record.get("base_commit"):
        again["base_ref"] = record["base_commit"]
    again["execution_mode"] = "dry_run"
    return again


def rerun_and_compare(client: ApiClient, task_id: str, timeout_s: float) -> dict[str, Any]:
    original = fetch_provenance(client, task_id, SIGNING_WAIT_S)
    if not original.get("verified") or not original.get("record"):
        failed = [c["name"] for c in original.get("checks", []) if c.get("status") == "fail"]
        raise CliError(
            f"task {task_id}'s provenance does not verify ({', '.join(failed)}); "
            "a re-run needs a trusted record to compare with",
            EXIT_FAILURE,
            hint=f"see `agency verify {task_id}`",
        )
    record = original["record"]
    spec = client.get_task(task_id)["spec"]
    new = client.submit(rerun_spec(spec, record))
    new_id = str(new["id"])
    base = str(record.get("base_commit") or spec.get("base_ref"))
    note(f"re-running task {task_id} as {new_id} from {base[:12]} (dry run)")
    final = poll_until_terminal(client, new_id, timeout_s=timeout_s)
    if not is_terminal(final):
        raise CliError(
            f"re-run {new_id} did not finish within {timeout_s:.0f}s "
            f"(phase {final.get('phase')}, pending {final.get('pending_action')})",
            EXIT_FAILURE,
        )
    again = fetch_provenance(client, new_id, SIGNING_WAIT_S)
    if not again.get("record"):
        raise CliError(f"re-run {new_id} has no provenance record", EXIT_FAILURE)
    return {
        "task_id": new_id,
        "verified": bool(again.get("verified")),
        "differences": compare_outcomes(record, again["record"]),
    }


@handles_errors
def replay(
    task_id: Annotated[str, typer.Argument(help="Task id.")],
    rerun: Annotated[
        bool,
        typer.Option("--rerun", help="Also re-run the task from its recorded spec and compare."),
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds to wait for the re-run.")
    ] = 900.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Replay a task's Temporal history against the current workflow code (determinism)."""
    with default_client() as client:
        determinism = client.request("GET", f"{API}/tasks/{path_segment(task_id)}/replay")
        result: dict[str, Any] = {"determinism": determinism}
        if not as_json:
            _print_determinism(determinism)
        if rerun:
            result["rerun"] = rerun_and_compare(client, task_id, timeout)
            if not as_json:
                _print_rerun(result["rerun"])
    if as_json:
        print_json(result)
    ok = determinism.get("deterministic") and not result.get("rerun", {}).get("differences")
    raise typer.Exit(0 if ok else EXIT_FAILURE)


def _print_determinism(report: dict[str, Any]) -> None:
    where = f"{report.get('events')} events of run {report.get('run_id')}"
    if report.get("deterministic"):
        typer.echo(f"replay: deterministic ({where})")
    else:
        typer.echo(f"replay: NOT deterministic ({where})")
        typer.echo(f"  first divergence: {report.get('divergence')}")


def _print_rerun(rerun: dict[str, Any]) -> None:
    differences = rerun["differences"]
    if not differences:
        typer.echo(f"re-run {rerun['task_id']}: no differences")
        return
    typer.echo(f"re-run {rerun['task_id']}: {len(differences)} difference(s)")
    for difference in differences:
        typer.echo(f"  - {difference}")
