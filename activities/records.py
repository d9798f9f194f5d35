"""Writing every transition: the task projection, its event and its audit entry."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.defn import implements
from agency.db.records import apply_record, stored_record_at
from agency.metrics.task_records import observe_record
from domain.activities import RECORD, RECORD_ENTRY
from domain.audit import RecordInput


class RecordActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @implements(RECORD)
    async def record(self, inp: RecordInput) -> None:
        await self._write(inp)

    @implements(RECORD_ENTRY)
    async def record_entry(self, inp: RecordInput) -> RecordInput:
        """Write the record; its result (what the history keeps) is the record as stored.

        A local activity runs again when the workflow task that ran it did not complete
        (its worker died or froze): the workflow code runs again from the history, in a
        new workflow task, and the record it makes again carries that task's time. The
        first write is the one stored, so the history gets the stored time, and the trail
        provenance reads from the history is the database's."""
        kept = for_history(inp)
        if await self._write(inp):
            return kept
        async with self._sessions() as session:
            at = await stored_record_at(session, inp.task_id, inp.seq)
        return kept if at is None else kept.model_copy(update={"at": at})

    async def _write(self, inp: RecordInput) -> bool:
        """Store the record; False when (task, seq) was stored already."""
        async with self._sessions() as session:
            stored = await apply_record(session, inp)
            if not stored:
                # A retry of a write that already landed: (task, seq) is stored once.
                activity.logger.info("record %s#%d already stored", inp.task_id, inp.seq)
                return False
            # Metrics count the attempt that stored the record, so never twice
            # (agency.metrics.task_records), reading on the session that wrote it (a
            # session of their own cost a third of a record). They must not fail the
            # write that already landed.
            try:
                await observe_record(session, inp)
            except Exception as err:  # a metric lost is better than a record retried
                activity.logger.warning("metrics of record %s#%d: %s", inp.task_id, inp.seq, err)
        return True


def for_history(rec: RecordInput) -> RecordInput:
    """What the history keeps of a record: all of it but the projection's copy of the
    workflow's own state (decision, execution, rounds; recording.live_changes). The
    workflow has that state, the database stores it, and the trail provenance reads from
    the history does not include it: kept, it made a history a sixth larger."""
    patch = rec.projection
    if patch.decision is None and patch.execution is None and not patch.new_rounds:
        return rec
    trimmed = patch.model_copy(update={"decision": None, "execution": None, "new_rounds": []})
    return rec.model_copy(update={"projection": trimmed})
