"""What a task's Temporal history says, read without running any workflow code.

A provenance record is signed by an activity while its workflow still runs, so it
covers a prefix of the history: every event up to and including the scheduling of the
provenance activity itself. Events are immutable once written, so anyone can fetch the
history later, cut it at the same event and get the same digest.

The digest is over the events as stored: with the payload codec on (agency/codec) that
is their encrypted payloads. Reading what they say (`facts`) decodes them with the data
converter of the client that fetched them, so it needs the codec's keys.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter

from agency.codec import CodecError
from domain.activities import RECORD, RECORD_ENTRY, RECORD_PROVENANCE
from domain.audit import RecordInput
from domain.task import TaskInput

PROVENANCE_ACTIVITY = RECORD_PROVENANCE.name
RECORD_ACTIVITY = RECORD.name
_SCHEDULED = EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
_MARKER = EventType.EVENT_TYPE_MARKER_RECORDED
# The marker the SDK writes for a local activity's outcome: `data` (its type, id and
# attempt, JSON written by the SDK itself) and `result` (the activity's result, through
# the data converter and so the codec).
LOCAL_ACTIVITY_MARKER = "core_local_activity"
_STARTED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED


class HistoryError(ValueError):
    """The history is not what a task workflow writes (or not the one a record names)."""


def history_digest(events: Sequence[HistoryEvent]) -> str:
    """SHA-256 over the events' deterministic protobuf encodings, each preceded by its
    length (8 bytes, big-endian) so that no two event sequences hash alike."""
    digest = hashlib.sha256()
    for event in events:
        data = event.SerializeToString(deterministic=True)
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def provenance_scheduled_event(
    events: Sequence[HistoryEvent], activity_id: str | None = None
) -> int | None:
    """The event id at which the provenance activity (with this activity id, or the last
    one) was scheduled; None when there is none yet."""
    found: int | None = None
    for event in events:
        if event.event_type != _SCHEDULED:
            continue
        attrs = event.activity_task_scheduled_event_attributes
        if attrs.activity_type.name != PROVENANCE_ACTIVITY:
            continue
        if activity_id is None or attrs.activity_id == activity_id:
            found = event.event_id
    return found


def prefix(events: Sequence[HistoryEvent], last_event_id: int) -> list[HistoryEvent]:
    return [e for e in events if e.event_id <= last_event_id]


@dataclass(frozen=True)
class HistoryFacts:
    workflow_id: str
    run_id: str
    task: TaskInput
    # Every record the workflow wrote, in history order: a `record` activity's input
    # (histories from before records were local activities) or a `record_entry` local
    # activity's result.
    records: list[RecordInput]


async def facts(
    history: WorkflowHistory, events: Sequence[HistoryEvent], converter: DataConverter
) -> HistoryFacts:
    """The task input and every record written, decoded from `events` (a prefix) by
    `converter` (agency.temporal_client.data_converter: the codec, then pydantic)."""
    if not events or events[0].event_type != _STARTED:
        raise HistoryError("the history does not begin with WorkflowExecutionStarted")
    started = events[0].workflow_execution_started_event_attributes
    try:
        (task,) = await converter.decode(list(started.input.payloads), [TaskInput])
    except CodecError as err:
        raise HistoryError(f"the workflow input cannot be decrypted: {err}") from None
    except Exception as err:
        raise HistoryError(f"the workflow input is not a task input: {err}") from None
    records: list[RecordInput] = []
    for event in events:
        payloads = _record_payloads(event)
        if payloads is None:
            continue
        try:
            (rec,) = await converter.decode(payloads, [RecordInput])
        except CodecError as err:
            raise HistoryError(f"event {event.event_id}: cannot be decrypted: {err}") from None
        except Exception as err:
            raise HistoryError(f"event {event.event_id}: unreadable record: {err}") from None
        records.append(rec)
    run_id = started.original_execution_run_id or history.run_id
    return HistoryFacts(workflow_id=history.workflow_id, run_id=run_id, task=task, records=records)


def _record_payloads(event: HistoryEvent) -> list[Payload] | None:
    """The encoded record an event holds, if it is one: a scheduled `record` activity's
    input, or a completed `record_entry` local activity's result."""
    if event.event_type == _SCHEDULED:
        scheduled = event.activity_task_scheduled_event_attributes
        if scheduled.activity_type.name == RECORD_ACTIVITY:
            return list(scheduled.input.payloads)
        return None
    if event.event_type != _MARKER:
        return None
    marker = event.marker_recorded_event_attributes
    if marker.marker_name != LOCAL_ACTIVITY_MARKER or "result" not in marker.details:
        return None  # another marker (a patch), or a local activity that failed
    try:
        data = json.loads(marker.details["data"].payloads[0].data)
    except (IndexError, ValueError) as err:
        raise HistoryError(f"event {event.event_id}: unreadable local activity marker") from err
    if not isinstance(data, dict) or data.get("activity_type") != RECORD_ENTRY.name:
        return None
    return list(marker.details["result"].payloads)
