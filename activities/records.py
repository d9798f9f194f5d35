"""Writing every transition: the task projection, its event and its audit entry."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.defn import implements
from agency.db.records import apply_record
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
        await self._write(inp)
        return inp

    async def _write(self, inp: RecordInput) -> None:
        async with self._sessions() as session:
            stored = await apply_record(session, inp)
        if not stored:
            # A retry of a write that already landed: (task, seq) is stored once.
            activity.logger.info("record %s#%d already stored", inp.task_id, inp.seq)
            return
        # Metrics count the attempt that stored the record, so never twice
        # (agency.metrics.task_records). They must not fail the write that already landed.
        try:
            async with self._sessions() as session:
                await observe_record(session, inp)
        except Exception as err:  # a metric lost is better than a record retried
            activity.logger.warning("metrics of record %s#%d: %s", inp.task_id, inp.seq, err)
