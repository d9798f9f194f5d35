"""Human interventions on a running task (docs/architecture.md, "Interventions"): each
one is a POST to the API.

The API answers 202 {accepted, detail}; 409 when the intervention does not apply
(resume when not paused, approve when nothing awaits approval, a finished task),
which the client turns into exit code 2 with the reason.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from agency.cli.client import default_client
from agency.cli.errors import EXIT_BAD_INPUT, CliError, handles_errors
from agency.cli.tasks import TaskId

Reason = Annotated[str, typer.Option("--reason", help="Why (recorded in the audit trail).")]


class OverrideVerdict(StrEnum):
    approve = "approve"
    reject = "reject"


def send(task_id: str, action: str, body: dict[str, Any]) -> None:
    with default_client() as client:
        ack = client.intervene(task_id, action, body) or {}
    detail = str(ack.get("detail") or "")
    if ack.get("accepted") is False:
        raise CliError(f"{action} not accepted: {detail or 'no reason given'}", EXIT_BAD_INPUT)
    typer.echo(detail or f"{action} accepted")


def _simple(action: str, doc: str) -> Any:
    @handles_errors
    def command(task_id: TaskId, reason: Reason = "") -> None:
        send(task_id, action, {"reason": reason} if reason else {})

    command.__doc__ = doc
    command.__name__ = action
    return command


pause = _simple("pause", "Pause the task at its next safe point (a running agent is suspended).")
resume = _simple("resume", "Resume a paused task.")
cancel = _simple("cancel", "Cancel the task: the agent is killed, nothing is applied.")
approve = _simple("approve", "Approve a task that awaits approval (strict mode).")
reject = _simple("reject", "Reject a task that awaits approval (strict mode).")


@handles_errors
def override(
    task_id: TaskId,
    verdict: Annotated[OverrideVerdict, typer.Option("--verdict", help="Replacing verdict.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the council is overridden.")],
) -> None:
    """Replace the council's verdict with a human one (recorded with actor and reason)."""
    if not reason.strip():
        raise CliError("--reason must not be empty for an override", EXIT_BAD_INPUT)
    send(task_id, "override", {"verdict": verdict.value, "reason": reason})


@handles_errors
def guide(
    task_id: TaskId,
    text: Annotated[str, typer.Argument(help="Guidance for the agent's next iteration.")],
) -> None:
    """Hand free-text guidance to the next iteration of the agent."""
    if not text.strip():
        raise CliError("guidance text must not be empty", EXIT_BAD_INPUT)
    send(task_id, "guidance", {"text": text})


@handles_errors
def params(
    task_id: TaskId,
    max_iterations: Annotated[
        int | None, typer.Option("--max-iterations", min=1, max=20, help="New iteration cap.")
    ] = None,
    risk_tier: Annotated[
        int | None,
        typer.Option("--risk-tier", min=1, max=3, help="Raise the risk tier (1 is highest)."),
    ] = None,
) -> None:
    """Change a running task's max_iterations or raise its risk tier."""
    body = {
        key: value
        for key, value in {"max_iterations": max_iterations, "risk_tier": risk_tier}.items()
        if value is not None
    }
    if not body:
        raise CliError("nothing to change: give --max-iterations and/or --risk-tier", 2)
    send(task_id, "parameters", body)
