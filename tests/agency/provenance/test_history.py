"""agency.provenance.history reads a task's records from its history, whichever way the
workflow wrote them: as `record` activities (histories from before local effects) or as
`record_entry` local activities (one marker event each)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter

from agency.provenance.history import LOCAL_ACTIVITY_MARKER, facts

HISTORIES = Path(__file__).parents[2] / "histories"
NAMES = ("auto_completed", "strict_approved", "host_lost")


def load(name: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())


def local_activity_markers(history: WorkflowHistory) -> int:
    return sum(
        e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER
        for e in history.events
    )


@pytest.mark.parametrize("name", [*NAMES, *(f"before_local_effects_{n}" for n in NAMES)])
async def test_every_record_is_read_once_in_sequence(name: str) -> None:
    history = load(name)
    got = await facts(history, history.events, pydantic_data_converter)
    seqs = [r.seq for r in got.records]
    assert sorted(seqs) == list(range(1, len(seqs) + 1))
    assert got.records[0].action == "submitted"
    assert got.records[-1].phase in ("completed", "rejected", "failed")
    assert got.task.task_id == got.records[0].task_id


@pytest.mark.parametrize("name", NAMES)
async def test_records_now_come_from_local_activity_markers(name: str) -> None:
    # Validation and judging are local activities too: more markers than records.
    history = load(name)
    got = await facts(history, history.events, pydantic_data_converter)
    assert local_activity_markers(history) > len(got.records)
    old = load(f"before_local_effects_{name}")
    assert local_activity_markers(old) == 0
    assert len(history.events) < len(old.events)


async def test_a_cut_history_holds_only_the_records_before_the_cut() -> None:
    history = load("auto_completed")
    whole = await facts(history, history.events, pydantic_data_converter)
    half = len(history.events) // 2
    cut = await facts(history, history.events[:half], pydantic_data_converter)
    assert 0 < len(cut.records) < len(whole.records)
    assert [r.seq for r in cut.records] == [r.seq for r in whole.records[: len(cut.records)]]
