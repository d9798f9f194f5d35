from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agency.db.provenance import ProvenanceRecord, get_provenance, insert_provenance


def row(task_id: str, commit: str) -> ProvenanceRecord:
    return ProvenanceRecord(
        task_id=task_id,
        kid="kid-1",
        record_sha256="a" * 64,
        jws="h.p.s",
        commit=commit,
        path=f"tasks/{task_id}.jws",
        outcome="completed",
        last_seq=12,
        history_events=120,
        signed_at=datetime(2030, 1, 1, tzinfo=UTC),
    )


async def test_a_task_has_exactly_one_record(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        assert await get_provenance(session, "t-1") is None
        first = await insert_provenance(session, row("t-1", "c" * 40))
        # A retried activity stores nothing new: the first record stands.
        again = await insert_provenance(session, row("t-1", "d" * 40))
    assert first.commit == again.commit == "c" * 40
    assert again.signed_at == datetime(2030, 1, 1, tzinfo=UTC)
