"""Signed records of real tasks (Temporal dev server, executor, git, SQLite), verified
against every source; and every kind of tampering caught by the check it concerns."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import git
import pytest
from jwcrypto import jwk, jws
from jwt.api_jws import PyJWS
from sqlalchemy import update
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from agency.db import records, task_reads
from agency.db.engine import make_engine, session_maker
from agency.db.provenance import ProvenanceRecord, get_provenance
from agency.db.reads import make_reader
from agency.provenance.canonical import canonical_json, canonical_sha256, sha256_hex
from agency.provenance.config import keystore_for, provenance_repo_for
from agency.provenance.file_keystore import FileKeystore
from agency.provenance.gitrepo import ProvenanceRepo, RecordCommit, trailers
from agency.provenance.keystore import Keystore, SigningKey
from agency.provenance.record import build_record, header_from_task_row, trail_from_audit
from agency.provenance.signing import CONTENT_TYPE, sign_record, unverified_payload
from agency.provenance.verify import Report, Verifier
from domain.audit import RecordInput
from domain.interventions import Intervention
from tests.support.harness import Harness, harness, state_of
from tests.support.repos import git as run_git

IDENTITY = {
    "GIT_AUTHOR_NAME": "Mallory",
    "GIT_AUTHOR_EMAIL": "mallory@example.com",
    "GIT_COMMITTER_NAME": "Mallory",
    "GIT_COMMITTER_EMAIL": "mallory@example.com",
}


@dataclass
class Finished:
    h: Harness
    task_id: str
    handle: WorkflowHandle


async def verify(h: Harness, task_id: str, keystore: Keystore | None = None) -> Report:
    reader = make_reader(h.settings.effective_database_url)
    try:
        task = await task_reads.read_task(reader, task_id)
        assert task is not None
        verifier = Verifier(keystore or keystore_for(h.settings), provenance_repo_for(h.settings))
        return await verifier.verify(reader, task, h.client)
    finally:
        await reader.close()


def by_name(report: Report) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}


def detail(report: Report, name: str) -> str:
    return next(c.detail for c in report.checks if c.name == name)


async def stored_row(h: Harness, task_id: str) -> ProvenanceRecord:
    engine = make_engine(h.settings.effective_database_url)
    try:
        async with session_maker(engine)() as session:
            row = await get_provenance(session, task_id)
    finally:
        await engine.dispose()
    assert row is not None
    return row


@pytest.fixture(scope="module")
async def completed(
    dev_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Finished]:
    """One auto task, applied; tests that tamper with it put things back."""
    async with harness(dev_env.client, tmp_path_factory.mktemp("completed")) as h:
        handle = await h.start()
        result = await handle.result()
        assert result.phase == "completed", result.error
        yield Finished(h=h, task_id=handle.id.removeprefix("task-"), handle=handle)


async def test_a_completed_task_verifies_on_every_check(completed: Finished) -> None:
    report = await verify(completed.h, completed.task_id)
    assert by_name(report) == {
        "record": "pass",
        "key": "pass",
        "signature": "pass",
        "database": "pass",
        "history": "pass",
        "git": "pass",
        "applied_commit": "pass",
    }, report.checks
    assert report.verified
    record = report.record
    assert record is not None
    assert record["outcome"] == "completed" and record["decision"] == "approve"
    assert record["applied_commit"] == run_git(completed.h.repo, "rev-parse", "main")
    assert record["workflow"]["run_id"] == completed.handle.result_run_id
    assert [r["stage"] for r in record["rounds"]] == ["plan", "result"]
    assert record["gates"][0]["results"] == [{"name": "tests", "passed": True}]
    assert record["base_commit"] == run_git(completed.h.repo, "rev-parse", "main^")
    assert sorted(record["executions"][0]["changed_files"]) == [
        "src/calc.py",
        "tests/test_triple.py",
    ]


async def test_an_independent_jose_library_verifies_the_committed_record(
    completed: Finished,
) -> None:
    report = await verify(completed.h, completed.task_id)
    keystore = keystore_for(completed.h.settings)
    info = keystore.public_key(str(report.kid))
    assert info is not None
    token = (completed.h.settings.effective_provenance_repo / str(report.path)).read_text()
    checked = jws.JWS()
    checked.deserialize(token.strip())
    checked.verify(jwk.JWK(**info.jwk()), alg="EdDSA")
    assert json.loads(checked.payload) == report.record


async def test_both_commits_carry_trailers_that_lead_to_each_other(completed: Finished) -> None:
    report = await verify(completed.h, completed.task_id)
    assert report.record is not None
    applied = git.Repo(completed.h.repo).commit(report.record["applied_commit"])
    assert trailers(applied)["Agency-Task"] == [completed.task_id]

    prov = git.Repo(completed.h.settings.effective_provenance_repo)
    found = prov.git.log("--format=%H", "--grep", f"Agency-Task: {completed.task_id}")
    assert found == report.commit
    assert trailers(prov.commit(found)) == {
        "Agency-Task": [completed.task_id],
        "Agency-Verdict": ["completed"],
        "Agency-Signature-Kid": [report.kid],
        "Agency-Record-Sha256": [report.record_sha256],
        "Agency-Applied-Commit": [applied.hexsha],
    }


async def test_rewriting_the_provenance_file_fails_verification(completed: Finished) -> None:
    repo_dir = completed.h.settings.effective_provenance_repo
    prov = git.Repo(repo_dir)
    row = await stored_row(completed.h, completed.task_id)
    path = repo_dir / row.path
    original = path.read_text()
    header, body, signature = original.strip().split(".")
    # One character of the payload changed, committed over the record.
    flipped = body[:10] + ("A" if body[10] != "A" else "B") + body[11:]
    path.write_text(f"{header}.{flipped}.{signature}\n")
    prov.index.add([row.path])
    prov.index.commit("tidy up", skip_hooks=True)
    try:
        report = await verify(completed.h, completed.task_id)
        status = by_name(report)
        assert status["git"] == "fail" and "was rewritten after" in detail(report, "git")
        # The signature is checked on the record as committed, which is still intact.
        assert status["signature"] == "pass"
        assert not report.verified
    finally:
        path.write_text(original)
        prov.index.add([row.path])
        prov.index.commit("put it back", skip_hooks=True)
    assert (await verify(completed.h, completed.task_id)).verified


async def test_rewritten_git_history_fails_the_git_check(completed: Finished) -> None:
    prov = git.Repo(completed.h.settings.effective_provenance_repo)
    row = await stored_row(completed.h, completed.task_id)
    # History rewritten: the same files, committed afresh on a new root.
    prov.git.checkout("-q", "--orphan", "rewritten")
    with prov.git.custom_environment(**IDENTITY):
        prov.git.commit("-q", "-m", "history rewritten")
    try:
        report = await verify(completed.h, completed.task_id)
        assert by_name(report)["git"] == "fail"
        assert f"commit {row.commit[:12]} is not on the current branch" in detail(report, "git")
    finally:
        prov.git.checkout("-q", "-f", "main")
        prov.git.branch("-D", "rewritten")
    assert (await verify(completed.h, completed.task_id)).verified


async def test_an_uncommitted_edit_of_the_file_fails_the_git_check(completed: Finished) -> None:
    row = await stored_row(completed.h, completed.task_id)
    path = completed.h.settings.effective_provenance_repo / row.path
    original = path.read_text()
    path.write_text(original.replace(".", ". ", 1))
    try:
        report = await verify(completed.h, completed.task_id)
        assert by_name(report)["git"] == "fail"
        assert "working tree differs" in detail(report, "git")
    finally:
        path.write_text(original)


async def test_a_record_re_signed_with_a_lie_fails_the_database_and_history_checks(
    completed: Finished,
) -> None:
    """Even with the signing key, a record that disagrees with the sources is caught."""
    h = completed.h
    row = await stored_row(h, completed.task_id)
    original = unverified_payload(row.jws)
    assert original is not None
    lie = {**original, "outcome": "rejected"}
    keystore = keystore_for(h.settings)
    token = sign_record(lie, keystore.signing_key())
    info = keystore.public_key(row.kid)
    assert info is not None
    repo = ProvenanceRepo(h.settings.effective_provenance_repo)
    commit = repo.commit_record(
        RecordCommit(
            task_id=completed.task_id,
            outcome=row.outcome or "",
            kid=row.kid,
            record_sha256=canonical_sha256(lie),
            token=token,
        ),
        info,
    )
    engine = make_engine(h.settings.effective_database_url)

    async def point_at(jws: str, sha: str, commit: str) -> None:
        async with session_maker(engine)() as session:
            await session.execute(
                update(ProvenanceRecord)
                .where(ProvenanceRecord.task_id == completed.task_id)
                .values(jws=jws, record_sha256=sha, commit=commit)
            )
            await session.commit()

    try:
        await point_at(token, canonical_sha256(lie), commit)
        report = await verify(h, completed.task_id)
        status = by_name(report)
        assert status["signature"] == "pass" and status["git"] == "pass"
        assert status["database"] == "fail" and status["history"] == "fail"
        assert "outcome: the record says 'rejected', the database says 'completed'" in detail(
            report, "database"
        )
        assert "the history says 'completed'" in detail(report, "history")
    finally:
        repo.commit_record(
            RecordCommit(
                task_id=completed.task_id,
                outcome=row.outcome or "",
                kid=row.kid,
                record_sha256=row.record_sha256,
                token=row.jws,
            ),
            info,
        )
        new_head = git.Repo(repo.path).head.commit.hexsha
        await point_at(row.jws, row.record_sha256, new_head)
        await engine.dispose()
    assert (await verify(h, completed.task_id)).verified


async def test_retired_keys_verify_and_revoked_keys_do_not(
    completed: Finished, tmp_path: Path
) -> None:
    # A copy of the keystore: the module's own keys stay as they are.
    copy = tmp_path / "keys"
    shutil.copytree(completed.h.settings.effective_signing_keys_dir, copy)
    keystore = FileKeystore(copy)
    signer = (await stored_row(completed.h, completed.task_id)).kid

    keystore.rotate()
    report = await verify(completed.h, completed.task_id, keystore)
    assert report.verified and f"kid {signer} is known (retired)" == detail(report, "key")

    keystore.revoke(signer, "found in a public paste")
    report = await verify(completed.h, completed.task_id, keystore)
    assert not report.verified
    assert by_name(report)["key"] == "fail"
    assert "revoked" in detail(report, "key") and "found in a public paste" in detail(report, "key")


async def test_an_audit_entry_after_signing_fails_the_database_check(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with harness(dev_env.client, tmp_path) as h:
        # A task that fails at validation: quick, and signed all the same.
        handle = await h.start(base_ref="no-such-branch")
        result = await handle.result()
        assert result.phase == "failed"
        task_id = handle.id.removeprefix("task-")
        report = await verify(h, task_id)
        assert report.verified, report.checks
        assert report.record is not None and report.record["outcome"] == "failed"

        engine = make_engine(h.settings.effective_database_url)
        try:
            async with session_maker(engine)() as session:
                last = report.record["last_seq"]
                extra = RecordInput(
                    task_id=task_id,
                    seq=last + 1,
                    at=result_time(report),
                    kind="phase",
                    phase="completed",
                    actor="mallory",
                    action="completed",
                )
                await records.apply_record(session, extra)
        finally:
            await engine.dispose()
        report = await verify(h, task_id)
        assert by_name(report)["database"] == "fail"
        assert f"audit #{last + 1} (completed) was written after the record" in detail(
            report, "database"
        )


def result_time(report: Report) -> datetime:
    assert report.record is not None
    return datetime.fromisoformat(report.record["timestamps"]["finished_at"])


async def test_rejected_and_canceled_tasks_are_signed_too(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with harness(dev_env.client, tmp_path) as h:
        rejected = await h.start(
            agent={
                "argv": ["python3", "tools/agent.py"],
                "timeout_s": 60,
                "env": {"AGENT_SCENARIO": "out_of_scope"},
            },
            max_iterations=1,
        )
        slow = await h.start(
            agent={
                "argv": ["python3", "tools/agent.py"],
                "timeout_s": 60,
                "env": {"AGENT_SCENARIO": "slow", "AGENT_SECONDS": "30"},
            },
        )
        assert (await rejected.result()).phase == "rejected"
        await _until_executing(slow)
        await slow.signal("cancel", Intervention(actor="carol", reason="not needed"))
        await slow.cancel()
        with pytest.raises(WorkflowFailureError):
            await slow.result()

        for handle, outcome in ((rejected, "rejected"), (slow, "canceled")):
            task_id = handle.id.removeprefix("task-")
            report = await verify(h, task_id)
            assert report.verified, report.checks
            assert report.record is not None and report.record["outcome"] == outcome
            assert by_name(report)["applied_commit"] == "skip"
            prov = git.Repo(h.settings.effective_provenance_repo)
            sha = prov.git.log("--format=%H", "--grep", f"Agency-Task: {task_id}")
            assert trailers(prov.commit(sha))["Agency-Verdict"] == [outcome]
        canceled = (await verify(h, slow.id.removeprefix("task-"))).record
        assert canceled is not None
        assert [(i["action"], i["actor"]) for i in canceled["interventions"]] == [
            ("cancel", "carol")
        ]


def sign_legacy(record: dict[str, object], key: SigningKey) -> str:
    """A record signed as before RFC 8785: sorted-keys `json.dumps`, no `canon` header."""
    return PyJWS().encode(
        canonical_json(record, "legacy"),
        key.private_key,
        algorithm="EdDSA",
        headers={"kid": key.kid, "typ": "JOSE", "cty": CONTENT_TYPE},
    )


async def test_a_record_signed_before_rfc_8785_still_verifies(completed: Finished) -> None:
    """Records in a provenance repository from before JCS keep verifying in their form."""
    h = completed.h
    row = await stored_row(h, completed.task_id)
    signed = unverified_payload(row.jws)
    assert signed is not None
    reader = make_reader(h.settings.effective_database_url)
    # The record as the old activity built it: floats stay floats (1.0, not 1).
    try:
        task = await task_reads.read_task(reader, completed.task_id)
        assert task is not None
        old = build_record(
            header_from_task_row(task),
            trail_from_audit(
                await task_reads.list_audit(reader, task.id),
                await task_reads.list_verdicts(reader, task.id),
            ),
            last_seq=signed["last_seq"],
            history_events=signed["workflow"]["history_events"],
            history_sha256=signed["workflow"]["history_sha256"],
            form="legacy",
        )
    finally:
        await reader.close()
    old["timestamps"]["signed_at"] = signed["timestamps"]["signed_at"]
    assert old == signed
    legacy = canonical_json(old, "legacy")
    assert legacy != canonical_json(old)  # the forms differ for this record (its floats)
    keystore = keystore_for(h.settings)
    token = sign_legacy(old, keystore.signing_key())
    info = keystore.public_key(row.kid)
    assert info is not None
    repo = ProvenanceRepo(h.settings.effective_provenance_repo)
    engine = make_engine(h.settings.effective_database_url)

    async def point_at(jws: str, sha: str) -> None:
        commit = repo.commit_record(
            RecordCommit(
                task_id=completed.task_id,
                outcome=row.outcome or "",
                kid=row.kid,
                record_sha256=sha,
                token=jws,
            ),
            info,
        )
        async with session_maker(engine)() as session:
            await session.execute(
                update(ProvenanceRecord)
                .where(ProvenanceRecord.task_id == completed.task_id)
                .values(jws=jws, record_sha256=sha, commit=commit)
            )
            await session.commit()

    try:
        await point_at(token, sha256_hex(legacy))
        report = await verify(h, completed.task_id)
        assert report.verified, report.checks
        assert "(legacy JSON)" in detail(report, "signature")
        # The form is in the signed header: the same bytes under a JCS header are refused.
        jcs_header = sign_record(old, keystore.signing_key()).split(".")[0]
        forged = f"{jcs_header}.{token.split('.', 1)[1]}"
        await point_at(forged, sha256_hex(legacy))
        assert by_name(await verify(h, completed.task_id))["signature"] == "fail"
    finally:
        await point_at(row.jws, row.record_sha256)
        await engine.dispose()
    assert (await verify(h, completed.task_id)).verified


async def _until_executing(handle: WorkflowHandle, within: float = 30) -> None:
    """Until the task's agent is running (canceled there, the record has a run to show)."""
    deadline = time.monotonic() + within
    while (await state_of(handle)).phase != "executing":
        assert time.monotonic() < deadline, "the task never reached executing"
        await asyncio.sleep(0.1)
