"""The provenance record: one canonical JSON document per task.

It is built the same way from two independent sources, so that a verifier can rebuild
it from either and compare:

- the Temporal history (the task input and every `record` activity input), which is
  what the provenance activity signs, and
- the database (the task row, the append-only audit log and the verdicts table).

A record holds the task's identity and spec hash, its trail (every audit entry up to
the end, with the judgments each carried), summaries derived from that trail (rounds,
interventions, executions, gates, outcome, commits), the workflow and run ids, the
digest of the history prefix, and timestamps.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row

from agency.db.task_reads import task_spec
from agency.provenance.canonical import CanonicalForm, canonical_sha256
from council.spec import TaskSpec
from domain.audit import RecordInput
from domain.interventions import INTERVENTION_KINDS, REFUSED_SUFFIX
from domain.phases import TERMINAL_PHASES
from domain.task import TaskInput

RECORD_TYPE = "agent-agency/provenance"
RECORD_VERSION = 1
INTERVENTIONS = frozenset(INTERVENTION_KINDS)
# Fields that only the signer knows (when it signed) or only the history holds.
SIGNER_ONLY = ("timestamps.signed_at",)
HISTORY_ONLY = ("workflow.history_events", "workflow.history_sha256")


@dataclass(frozen=True)
class Header:
    task_id: str
    spec: dict[str, Any]
    submitted_by: str
    tenant: str
    workflow_id: str
    run_id: str | None


def _iso(at: datetime) -> str:
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat()


def normalized_spec(spec: TaskSpec | dict[str, Any]) -> dict[str, Any]:
    model = spec if isinstance(spec, TaskSpec) else TaskSpec.model_validate(spec)
    return model.model_dump(mode="json", by_alias=True)


# ---------------------------------------------------------------- the two sources
def header_from_task_input(inp: TaskInput, workflow_id: str, run_id: str) -> Header:
    return Header(
        task_id=inp.task_id,
        spec=normalized_spec(inp.spec),
        submitted_by=inp.submitted_by,
        tenant=inp.tenant,
        workflow_id=workflow_id,
        run_id=run_id,
    )


def header_from_task_row(task: Row[Any]) -> Header:
    """The header of a task's projection row (agency.db.task_reads.TASK_ROW)."""
    return Header(
        task_id=task.id,
        spec=normalized_spec(task_spec(task)),
        submitted_by=task.submitted_by,
        tenant=task.tenant,
        workflow_id=task.workflow_id,
        run_id=task.workflow_run_id,
    )


def _entry(
    *,
    seq: int,
    at: datetime,
    phase: str,
    actor: str,
    action: str,
    verdict: str | None,
    approval_status: str | None,
    detail: dict[str, Any],
    judgments: list[dict[str, Any]],
    stage: str | None,
    iteration: int,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "seq": seq,
        "at": _iso(at),
        "phase": phase,
        "actor": actor,
        "action": action,
        "verdict": verdict,
        "approval_status": approval_status,
        "detail": detail,
    }
    if judgments:
        # The audit log keeps stage and iteration only with judgments (verdicts table).
        entry.update(judgments=judgments, stage=stage, iteration=iteration)
    return entry


def entry_from_record_input(rec: RecordInput) -> dict[str, Any]:
    dumped = rec.model_dump(mode="json", include={"detail", "judgments"})
    return _entry(
        seq=rec.seq,
        at=rec.at,
        phase=rec.phase,
        actor=rec.actor,
        action=rec.action,
        verdict=rec.verdict,
        approval_status=rec.approval_status,
        detail=dumped["detail"],
        judgments=dumped["judgments"],
        stage=rec.stage,
        iteration=rec.iteration,
    )


def trail_from_audit(
    audit: Iterable[Row[Any]], verdicts: Iterable[Row[Any]]
) -> list[dict[str, Any]]:
    """The trail of a task's audit and verdict rows (agency.db.task_reads)."""
    by_seq: dict[int, list[Row[Any]]] = defaultdict(list)
    for row in verdicts:
        by_seq[row.seq].append(row)
    trail = []
    for entry in audit:
        rows = by_seq.get(entry.seq, [])
        trail.append(
            _entry(
                seq=entry.seq,
                at=entry.at,
                phase=entry.phase,
                actor=entry.actor,
                action=entry.action,
                verdict=entry.verdict,
                approval_status=entry.approval_status,
                detail=entry.detail,
                judgments=[
                    {
                        "judge": r.judge,
                        "verdict": r.verdict,
                        "confidence": r.confidence,
                        "violations": r.violations,
                        "rationale": r.rationale,
                        "assessment": r.assessment,
                    }
                    for r in rows
                ],
                stage=rows[0].stage if rows else None,
                iteration=rows[0].iteration if rows else 0,
            )
        )
    return trail


# ------------------------------------------------------------------------ the record
def is_refusal(entry: dict[str, Any]) -> bool:
    return str(entry.get("action", "")).endswith(REFUSED_SUFFIX)


def build_record(
    header: Header,
    trail: Sequence[dict[str, Any]],
    *,
    last_seq: int,
    history_events: int | None = None,
    history_sha256: str | None = None,
    form: CanonicalForm = "jcs",
) -> dict[str, Any]:
    """The record for `trail` (entries with seq <= last_seq are used, in seq order).
    `form` is the canonical form of `spec_sha256`: a verifier rebuilding a record signed
    before JCS passes "legacy"."""
    entries = sorted((e for e in trail if e["seq"] <= last_seq), key=lambda e: e["seq"])
    spec = header.spec
    end = next((e for e in entries if e["phase"] in TERMINAL_PHASES), None)
    executions = [_execution(e) for e in entries if e["action"] == "executed"]
    applied = [e["detail"].get("commit") for e in entries if e["action"] == "applied"]
    return {
        "type": RECORD_TYPE,
        "version": RECORD_VERSION,
        "task_id": header.task_id,
        "caws_id": spec.get("id"),
        "title": spec.get("title"),
        "spec_sha256": canonical_sha256(spec, form),
        "mode": spec.get("mode"),
        "execution_mode": spec.get("execution_mode"),
        "risk_tier": spec.get("risk_tier"),
        "repo": spec.get("repo"),
        "base_ref": spec.get("base_ref"),
        "target_branch": spec.get("target_branch"),
        "waiver_ids": spec.get("waiver_ids") or [],
        "submitted_by": header.submitted_by,
        "tenant": header.tenant,
        "workflow": {
            "id": header.workflow_id,
            "run_id": header.run_id,
            "history_events": history_events,
            "history_sha256": history_sha256,
        },
        "outcome": end["phase"] if end else None,
        "decision": end["verdict"] if end else None,
        "error": (end["detail"].get("error") or end["detail"].get("reason")) if end else None,
        "base_commit": next((x["base_commit"] for x in executions if x["base_commit"]), None),
        "applied_commit": applied[-1] if applied else None,
        "diff_sha256": executions[-1]["diff_sha256"] if executions else None,
        "rounds": [_round(e) for e in entries if e.get("judgments")],
        "interventions": [_intervention(e) for e in entries if _is_intervention(e)],
        "executions": executions,
        "gates": [
            {"run_id": e["detail"].get("run_id"), "results": e["detail"].get("gates", [])}
            for e in entries
            if e["action"] == "gates_ran"
        ],
        "timestamps": {
            "submitted_at": entries[0]["at"] if entries else None,
            "finished_at": end["at"] if end else None,
            "signed_at": None,
        },
        "last_seq": last_seq,
        "trail": entries,
    }


def _is_intervention(entry: dict[str, Any]) -> bool:
    action = str(entry["action"])
    return action in INTERVENTIONS or action.removesuffix(REFUSED_SUFFIX) in INTERVENTIONS


def _intervention(entry: dict[str, Any]) -> dict[str, Any]:
    detail = entry["detail"]
    return {
        "seq": entry["seq"],
        "at": entry["at"],
        "actor": entry["actor"],
        "action": entry["action"],
        "reason": detail.get("reason", ""),
        "accepted": not is_refusal(entry),
    }


def _round(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "seq": entry["seq"],
        "stage": entry.get("stage"),
        "iteration": entry.get("iteration"),
        "outcome": entry["verdict"],
        "score": entry["detail"].get("score"),
        "verdicts": {j["judge"]: j["verdict"] for j in entry["judgments"]},
        "violations": [
            {"judge": j["judge"], **v} for j in entry["judgments"] for v in j["violations"]
        ],
    }


def _execution(entry: dict[str, Any]) -> dict[str, Any]:
    detail = entry["detail"]
    return {
        "run_id": detail.get("run_id"),
        "state": detail.get("state"),
        "exit_code": detail.get("exit_code"),
        "timed_out": detail.get("timed_out"),
        "changed_files": detail.get("changed_files", []),
        "lines_added": detail.get("lines_added"),
        "lines_removed": detail.get("lines_removed"),
        "diff_sha256": detail.get("diff_sha256"),
        "base_commit": detail.get("base_commit"),
    }


# ------------------------------------------------------------------ comparison
def _without(record: dict[str, Any], paths: Iterable[str]) -> dict[str, Any]:
    copy = {k: (dict(v) if isinstance(v, dict) else v) for k, v in record.items()}
    for path in paths:
        outer, _, inner = path.partition(".")
        if isinstance(copy.get(outer), dict):
            copy[outer].pop(inner, None)
    return copy


def differences(
    signed: dict[str, Any], rebuilt: dict[str, Any], source: str, ignore: Iterable[str] = ()
) -> list[str]:
    """Each way `signed` differs from the record rebuilt from `source`, named."""
    ignored = (*SIGNER_ONLY, *ignore)
    a, b = _without(signed, ignored), _without(rebuilt, ignored)
    found: list[str] = []
    for key in sorted(set(a) | set(b)):
        if key == "trail" or a.get(key) == b.get(key):
            continue
        found.append(
            f"{key}: the record says {_short(a.get(key))}, {source} says {_short(b.get(key))}"
        )
    found += _trail_differences(a.get("trail") or [], b.get("trail") or [], source)
    return found


def _trail_differences(
    signed: list[dict[str, Any]], rebuilt: list[dict[str, Any]], source: str
) -> list[str]:
    found: list[str] = []
    mine = {e["seq"]: e for e in signed}
    theirs = {e["seq"]: e for e in rebuilt}
    for seq in sorted(set(mine) | set(theirs)):
        if seq not in theirs:
            found.append(f"trail #{seq}: in the record, missing from {source}")
        elif seq not in mine:
            found.append(f"trail #{seq}: in {source}, missing from the record")
        elif mine[seq] != theirs[seq]:
            fields = sorted(
                k
                for k in set(mine[seq]) | set(theirs[seq])
                if mine[seq].get(k) != theirs[seq].get(k)
            )
            detail = "; ".join(
                f"{k}: record {_short(mine[seq].get(k))} vs {source} {_short(theirs[seq].get(k))}"
                for k in fields
            )
            found.append(f"trail #{seq} ({mine[seq].get('action')}): {detail}")
    return found


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
