"""`agency replay`: is a finished (or running) task's history still what the current
workflow code would do? And, re-run from its recorded spec, does it come out the same?

The determinism check runs Temporal's Replayer over the task's history against the
workflow code its caller hands over (a process's entry point: this package may not
import the workflow, see tests/test_layers.py); a divergence is reported with Temporal's
own description of the first command that no longer matches. The comparison of two
outcomes reads their signed records (rounds, verdicts, changed files, gate results,
outcome).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.worker import Replayer


@dataclass(frozen=True)
class DeterminismReport:
    workflow_id: str
    run_id: str
    events: int
    deterministic: bool
    # Temporal's description of the first divergence (None when deterministic).
    divergence: str | None = None


async def check_determinism(
    history: WorkflowHistory,
    workflows: Sequence[type],
    data_converter: DataConverter | None = None,
) -> DeterminismReport:
    """Replay `history` against `workflows` (the task workflow's class, as this process
    runs it). `data_converter` must decode the history's payloads: with the codec on,
    pass agency.temporal_client.data_converter(settings) (or the fetching client's)."""
    replayer = Replayer(
        workflows=list(workflows), data_converter=data_converter or pydantic_data_converter
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    failure = result.replay_failure
    return DeterminismReport(
        workflow_id=history.workflow_id,
        run_id=history.run_id,
        events=len(history.events),
        deterministic=failure is None,
        divergence=None if failure is None else f"{type(failure).__name__}: {failure}",
    )


# ------------------------------------------------------------------- comparison
def outcome_of(record: dict[str, Any]) -> dict[str, Any]:
    """What a re-run must reproduce, from a signed record: the outcome, each round's
    decision and verdicts, the last execution's changed files, and the gate results."""
    executions = record.get("executions") or []
    last = executions[-1] if executions else {}
    gates = record.get("gates") or []
    return {
        "outcome": record.get("outcome"),
        "rounds": [
            {
                "stage": r.get("stage"),
                "iteration": r.get("iteration"),
                "decision": r.get("outcome"),
                "verdicts": r.get("verdicts"),
            }
            for r in record.get("rounds") or []
        ],
        "changed_files": sorted(last.get("changed_files") or []),
        "lines": [last.get("lines_added"), last.get("lines_removed")],
        "gates": [
            {g.get("name"): g.get("passed") for g in run.get("results") or []} for run in gates
        ],
    }


def compare_outcomes(original: dict[str, Any], rerun: dict[str, Any]) -> list[str]:
    """Each difference between two records' outcomes, named; empty when they agree."""
    a, b = outcome_of(original), outcome_of(rerun)
    found: list[str] = []
    for key in ("outcome", "changed_files", "lines"):
        if a[key] != b[key]:
            found.append(f"{key}: {a[key]!r} then, {b[key]!r} now")
    rounds_a, rounds_b = a["rounds"], b["rounds"]
    if len(rounds_a) != len(rounds_b):
        found.append(f"rounds: {len(rounds_a)} then, {len(rounds_b)} now")
    for i, (x, y) in enumerate(zip(rounds_a, rounds_b, strict=False), start=1):
        where = f"round {i} ({x['stage']}, iteration {x['iteration']})"
        if x["decision"] != y["decision"]:
            found.append(f"{where}: decision {x['decision']} then, {y['decision']} now")
        for judge in sorted(set(x["verdicts"] or {}) | set(y["verdicts"] or {})):
            then, now = (x["verdicts"] or {}).get(judge), (y["verdicts"] or {}).get(judge)
            if then != now:
                found.append(f"{where}: {judge} judged {then} then, {now} now")
    if a["gates"] != b["gates"]:
        found.append(f"gates: {a['gates']!r} then, {b['gates']!r} now")
    return found
