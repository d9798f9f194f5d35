"""Activity references (domain/activities.py): each one defined once, under the name
running histories know, with the types the workflow sends and expects."""

from __future__ import annotations

import inspect

import pytest
from temporalio import activity

from activities.defn import check_signature, implements
from activities.executor import ExecutorActivities
from activities.governance import GovernanceActivities
from activities.inference import InferenceActivities
from activities.provenance import ProvenanceActivities
from activities.records import RecordActivities
from domain.activities import JUDGE, RECORD, REFERENCES, JudgeInput, JudgeOutput, ValidateInput
from domain.audit import RecordInput

# What Temporal sees: histories of running tasks name these, so they never change.
NAMES = {
    "validate_task",
    "judge",
    "record",
    "record_entry",
    "record_provenance",
    "draft_patch",
    "claim_executor",
    "apply_change",
    "run_agent",
    "run_gates",
    "control_agent",
    "discard_run",
}
CLASSES = (
    GovernanceActivities,
    RecordActivities,
    InferenceActivities,
    ProvenanceActivities,
    ExecutorActivities,
)


def definitions() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for cls in CLASSES:
        for _, method in inspect.getmembers(cls, inspect.iscoroutinefunction):
            defn = activity._Definition.from_callable(method)
            if defn is not None and defn.name:
                found.setdefault(defn.name, []).append(method.__qualname__)
    return found


def test_every_reference_is_defined_once_under_its_historic_name() -> None:
    assert {ref.name for ref in REFERENCES} == NAMES
    assert {name: len(where) for name, where in definitions().items()} == dict.fromkeys(NAMES, 1)


def test_every_definition_matches_its_reference() -> None:
    methods = {
        activity._Definition.must_from_callable(m).name: m
        for cls in CLASSES
        for _, m in inspect.getmembers(cls, inspect.iscoroutinefunction)
        if activity._Definition.from_callable(m) is not None
    }
    for ref in REFERENCES:
        check_signature(ref, methods[ref.name])  # raises on a mismatch


def test_a_definition_that_drifts_from_its_reference_fails_when_defined() -> None:
    with pytest.raises(TypeError, match=r"activity 'judge' .* takes .*ValidateInput"):

        class WrongInput:
            @implements(JUDGE)
            async def judge(self, inp: ValidateInput) -> JudgeOutput:  # type: ignore[arg-type]
                raise AssertionError

    with pytest.raises(TypeError, match=r"activity 'record' .* returns .*str"):

        class WrongOutput:
            @implements(RECORD)
            async def record(self, inp: RecordInput) -> str:  # type: ignore[arg-type]
                return ""

    class Right:
        @implements(JUDGE)
        async def judge(self, inp: JudgeInput) -> JudgeOutput:
            raise AssertionError

    assert activity._Definition.must_from_callable(Right.judge).name == "judge"
