"""The record built from the database equals the record built from the records the
workflow wrote (the history's view), on both backends; and differences are named."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agency.db import Reader, records, task_reads
from agency.provenance.record import (
    build_record,
    differences,
    entry_from_record_input,
    header_from_task_input,
    header_from_task_row,
    trail_from_audit,
)
from council.models import Judgment, Violation
from council.validation import parse_task_spec
from domain.audit import RecordInput
from domain.task import TaskInput
from tests.support.repos import task_spec

T0 = datetime(2025, 11, 27, 9, 0, 0, 123456, tzinfo=UTC)


def trail_inputs(task_id: str) -> list[RecordInput]:
    judgments = [
        Judgment(judge="constitutional", verdict="pass", confidence=0.9, rationale="in scope"),
        Judgment(
            judge="technical",
            verdict="fail",
            confidence=0.75,
            violations=[Violation(rule="gate_failed", severity="high", detail="tests failed")],
        ),
    ]

    def rec(seq: int, action: str, phase: str, **kw: object) -> RecordInput:
        return RecordInput(
            task_id=task_id,
            seq=seq,
            at=T0 + timedelta(seconds=seq),
            kind=str(kw.pop("kind", "phase")),
            phase=phase,  # type: ignore[arg-type]
            actor=str(kw.pop("actor", "system")),
            action=action,
            **kw,  # type: ignore[arg-type]
        )

    return [
        rec(1, "submitted", "validating", actor="alice"),
        rec(2, "execute", "executing", detail={"run_id": "r1", "executor": "http://x"}),
        rec(
            3,
            "executed",
            "executing",
            kind="execution",
            detail={
                "run_id": "r1",
                "state": "finished",
                "exit_code": 0,
                "changed_files": ["src/a.py"],
                "lines_added": 3,
                "lines_removed": 1,
                "diff_sha256": "d" * 64,
                "base_commit": "b" * 40,
            },
        ),
        rec(
            4,
            "gates_ran",
            "gating",
            detail={"run_id": "r1", "gates": [{"name": "tests", "passed": False}]},
        ),
        rec(5, "pause", "gating", kind="intervention", actor="bob", detail={"reason": "look"}),
        rec(
            6,
            "result_review",
            "result_review",
            kind="judgment",
            actor="council",
            verdict="reject",
            detail={"score": 0.5, "reasons": ["no"]},
            judgments=judgments,
            stage="result",
            iteration=1,
        ),
        rec(7, "rejected", "rejected", verdict="reject", detail={"error": "council rejected"}),
        rec(
            8,
            "resume_refused",
            "rejected",
            kind="intervention",
            actor="bob",
            detail={"reason": "x"},
        ),
    ]


async def test_the_database_and_the_workflow_records_give_the_same_record(
    sessions: async_sessionmaker[AsyncSession], reader: Reader
) -> None:
    task_id = str(uuid.uuid4())
    spec = parse_task_spec(task_spec(Path("/tmp/repo")))
    inputs = trail_inputs(task_id)
    async with sessions() as session:
        await records.insert_task(
            session,
            task_id=task_id,
            caws_id=spec.id,
            title=spec.title,
            risk_tier=spec.risk_tier,
            mode=spec.mode,
            execution_mode=spec.execution_mode,
            max_iterations=spec.max_iterations,
            workflow_id=f"task-{task_id}",
            spec=spec.model_dump(mode="json", by_alias=True),
            submitted_by="alice",
            tenant="default",
        )
        for rec in inputs:
            assert await records.apply_record(session, rec)
    task = await task_reads.read_task(reader, task_id)
    audit = await task_reads.list_audit(reader, task_id)
    verdicts = await task_reads.list_verdicts(reader, task_id)
    assert task is not None
    # The run id reaches the row with the workflow's first record; these records name none.
    row_header = dataclasses.replace(header_from_task_row(task), run_id="run-1")

    from_db = build_record(row_header, trail_from_audit(audit, verdicts), last_seq=7)
    header = header_from_task_input(
        TaskInput(task_id=task_id, spec=spec, submitted_by="alice"), f"task-{task_id}", "run-1"
    )
    from_history = build_record(header, [entry_from_record_input(r) for r in inputs], last_seq=7)
    assert from_db == from_history
    assert differences(from_history, from_db, "the database") == []

    # What the record says, derived from its trail.
    assert from_db["outcome"] == "rejected" and from_db["decision"] == "reject"
    assert from_db["error"] == "council rejected"
    assert from_db["base_commit"] == "b" * 40 and from_db["diff_sha256"] == "d" * 64
    assert from_db["rounds"] == [
        {
            "seq": 6,
            "stage": "result",
            "iteration": 1,
            "outcome": "reject",
            "score": 0.5,
            "verdicts": {"constitutional": "pass", "technical": "fail"},
            "violations": [
                {
                    "judge": "technical",
                    "rule": "gate_failed",
                    "severity": "high",
                    "detail": "tests failed",
                }
            ],
        }
    ]
    assert [i["action"] for i in from_db["interventions"]] == ["pause"]
    assert from_db["gates"] == [{"run_id": "r1", "results": [{"name": "tests", "passed": False}]}]
    # The refused signal after the end (seq 8) is past last_seq: not in the record.
    assert [e["seq"] for e in from_db["trail"]] == list(range(1, 8))
    assert from_db["timestamps"]["finished_at"] == (T0 + timedelta(seconds=7)).isoformat()


def test_differences_name_the_field_and_the_trail_entry() -> None:
    task_id = "t-1"
    spec = parse_task_spec(task_spec(Path("/tmp/repo")))
    header = header_from_task_input(TaskInput(task_id=task_id, spec=spec), "task-t-1", "run-1")
    inputs = trail_inputs(task_id)
    signed = build_record(header, [entry_from_record_input(r) for r in inputs], last_seq=7)
    changed = [entry_from_record_input(r) for r in inputs]
    changed[4]["actor"] = "mallory"
    rebuilt = build_record(header, changed, last_seq=7)
    found = differences(signed, rebuilt, "the database")
    assert any(d.startswith("interventions:") for d in found)
    assert any(
        "trail #5 (pause): actor: record 'bob' vs the database 'mallory'" in d for d in found
    )
    # The signing time is the signer's own; it is never a difference.
    signed["timestamps"]["signed_at"] = "2025-11-27T10:00:00+00:00"
    restored = [entry_from_record_input(r) for r in inputs]
    assert differences(signed, build_record(header, restored, last_seq=7), "x") == []
