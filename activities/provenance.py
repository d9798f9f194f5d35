"""Signing each task's provenance record and committing it to the provenance repository.

The record is built from the workflow's own history (the task input and every record
activity input, up to this activity's scheduling), so what is signed is what Temporal
holds; `agency verify` later rebuilds it from the history and from the database.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.defn import implements
from agency.db.provenance import ProvenanceRecord, get_provenance, insert_provenance
from agency.provenance import history as hist
from agency.provenance.canonical import canonical_sha256
from agency.provenance.config import keystore_for, provenance_repo_for
from agency.provenance.gitrepo import ProvenanceRepo, RecordCommit, record_path
from agency.provenance.keystore import Keystore
from agency.provenance.record import build_record, entry_from_record_input, header_from_task_input
from agency.provenance.signing import sign_record
from agency.settings import Settings
from domain import errors
from domain.activities import RECORD_PROVENANCE, ProvenanceInput, ProvenanceOutput


class ProvenanceActivities:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        keystore: Keystore | None = None,
        repo: ProvenanceRepo | None = None,
    ) -> None:
        self._sessions = sessions
        self._keystore = keystore or keystore_for(settings)
        self._repo = repo or provenance_repo_for(settings)
        # First start: the worker makes its signing key before it takes any task.
        self._keystore.ensure_signing_key()

    @implements(RECORD_PROVENANCE)
    async def record_provenance(self, inp: ProvenanceInput) -> ProvenanceOutput:
        async with self._sessions() as session:
            existing = await get_provenance(session, inp.task_id)
        if existing is not None:
            # A retry after the row was stored: the task has its record already.
            return ProvenanceOutput(
                kid=existing.kid, record_sha256=existing.record_sha256, commit=existing.commit
            )
        info = activity.info()
        client = activity.client()
        handle = client.get_workflow_handle(info.workflow_id, run_id=info.workflow_run_id)
        history = await handle.fetch_history()
        end = hist.provenance_scheduled_event(history.events, info.activity_id)
        if end is None:
            raise ApplicationError("this activity's scheduling is not in the history yet")
        events = hist.prefix(history.events, end)
        try:
            # The client's converter: the worker's codec decrypts the history's payloads.
            facts = await hist.facts(history, events, client.data_converter)
        except hist.HistoryError as err:
            raise ApplicationError(str(err), type=errors.INVALID_INPUT) from err
        trail = [entry_from_record_input(r) for r in facts.records if r.seq <= inp.last_seq]
        if [e["seq"] for e in sorted(trail, key=lambda e: e["seq"])] != list(
            range(1, inp.last_seq + 1)
        ):
            raise ApplicationError(
                f"the history does not hold records 1..{inp.last_seq} of task {inp.task_id}",
                type=errors.INVALID_INPUT,
            )
        record = build_record(
            header_from_task_input(facts.task, facts.workflow_id, facts.run_id),
            trail,
            last_seq=inp.last_seq,
            history_events=end,
            history_sha256=hist.history_digest(events),
        )
        signed_at = datetime.now(UTC)
        record["timestamps"]["signed_at"] = signed_at.isoformat()
        key = await asyncio.to_thread(self._keystore.signing_key)
        token = sign_record(record, key)
        sha = canonical_sha256(record)
        public = self._keystore.public_key(key.kid)
        if public is None:
            raise ApplicationError(f"signing key {key.kid} has no public key in the keystore")
        commit = await asyncio.to_thread(
            self._repo.commit_record,
            RecordCommit(
                task_id=inp.task_id,
                outcome=str(record["outcome"]),
                kid=key.kid,
                record_sha256=sha,
                token=token,
                caws_id=record["caws_id"],
                title=record["title"],
                applied_commit=record["applied_commit"],
            ),
            public,
        )
        async with self._sessions() as session:
            stored = await insert_provenance(
                session,
                ProvenanceRecord(
                    task_id=inp.task_id,
                    kid=key.kid,
                    record_sha256=sha,
                    jws=token,
                    commit=commit,
                    path=record_path(inp.task_id),
                    outcome=record["outcome"],
                    last_seq=inp.last_seq,
                    history_events=end,
                    signed_at=signed_at,
                ),
            )
        activity.logger.info(
            "task %s: provenance signed by %s, commit %s", inp.task_id, stored.kid, stored.commit
        )
        return ProvenanceOutput(
            kid=stored.kid, record_sha256=stored.record_sha256, commit=stored.commit
        )
