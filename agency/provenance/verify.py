"""`agency verify`: does a task's signed record hold, against every source there is?

Checks, each named in the report with what it found:

- record          the database has a provenance record for the task
- key             the JWS names a kid the keystore knows, current or retired, not revoked
- signature       the JWS verifies (EdDSA only, with that kid's key) over canonical JSON
- database        the record equals what the task row, audit log and verdicts say (and
                  nothing but refused signals was audited after it was signed)
- history         the record equals what the Temporal history says, and the history's
                  prefix up to the signing has the signed digest
- git             the record's commit is in the provenance repository with its trailers,
                  holds this JWS, and the file has not changed since (committed or not)
- applied_commit  the commit applied to the target repository exists and carries the
                  task's trailer (skipped when nothing was applied or the repo is remote)

A task verifies when no check fails.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Literal

import git
from sqlalchemy import Row
from temporalio.client import Client

from agency.db import task_reads
from agency.db.provenance import read_provenance
from agency.db.reads import Reader
from agency.governance_files import GovernanceFileError, local_repo
from agency.provenance import history as hist
from agency.provenance.canonical import CanonicalForm, canonical_sha256
from agency.provenance.gitrepo import (
    KID_TRAILER,
    TASK_TRAILER,
    VERDICT_TRAILER,
    ProvenanceRepo,
    ProvenanceRepoError,
    trailers,
)
from agency.provenance.keystore import Keystore
from agency.provenance.record import (
    HISTORY_ONLY,
    build_record,
    differences,
    entry_from_record_input,
    header_from_task_input,
    header_from_task_row,
    is_refusal,
    trail_from_audit,
)
from agency.provenance.signing import (
    SignatureRejected,
    canonical_form,
    unverified_header,
    unverified_payload,
    verify_token,
)
from domain.phases import TERMINAL_PHASES

Status = Literal["pass", "fail", "skip"]
CHECKS = ("record", "key", "signature", "database", "history", "git", "applied_commit")
HISTORY_TIMEOUT_S = 20.0


@dataclass
class Check:
    name: str
    status: Status
    detail: str

    @classmethod
    def ok(cls, name: str, detail: str) -> Check:
        return cls(name, "pass", detail)

    @classmethod
    def failed(cls, name: str, detail: str) -> Check:
        return cls(name, "fail", detail)


@dataclass
class Report:
    task_id: str
    checks: list[Check] = field(default_factory=list)
    kid: str | None = None
    commit: str | None = None
    path: str | None = None
    record_sha256: str | None = None
    jws: str | None = None
    record: dict[str, Any] | None = None
    # No record yet, but the task's workflow is still running: ask again shortly.
    pending: bool = False

    @property
    def verified(self) -> bool:
        return bool(self.checks) and all(c.status != "fail" for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]


class Verifier:
    def __init__(self, keystore: Keystore, repo: ProvenanceRepo) -> None:
        self.keystore = keystore
        self.repo = repo

    async def verify(self, reader: Reader, task: Row[Any], client: Client | None) -> Report:
        """Check the record of `task` (an agency.db.task_reads.TASK_ROW row)."""
        report = Report(task_id=task.id)
        row = await read_provenance(reader, task.id)
        if row is None:
            report.pending = await _still_running(client, task)
            why = (
                "the task's workflow is still running; its record is signed as its last step"
                if report.pending
                else "no provenance record was stored for this task"
            )
            report.checks.append(Check.failed("record", why))
            return report
        report.kid, report.commit, report.path = row.kid, row.commit, row.path
        report.record_sha256, report.jws = row.record_sha256, row.jws
        report.checks.append(Check.ok("record", f"signed at {row.signed_at.isoformat()}"))

        git_check, token = await asyncio.to_thread(self._git, row, task.id)
        token = token or row.jws
        payload, form = self._signature(report, token)
        report.record = payload
        report.checks.append(await self._database(reader, task, row, payload, token, form))
        report.checks.append(await self._history(client, payload, form))
        report.checks.append(git_check)
        report.checks.append(await asyncio.to_thread(_applied_commit, payload, task.id))
        return report

    # ---------------------------------------------------------- key and signature
    def _signature(self, report: Report, token: str) -> tuple[dict[str, Any] | None, CanonicalForm]:
        """The signed payload and the canonical form it was signed in (JCS, or legacy for
        records signed before JCS: their digests are taken in their own form)."""
        try:
            verified = verify_token(token, self.keystore)
        except SignatureRejected as err:
            if err.check == "key":
                report.checks.append(Check.failed("key", str(err)))
                report.checks.append(Check.failed("signature", f"not checked: {err}"))
            else:
                report.checks.append(self._key_only(token))
                report.checks.append(Check.failed("signature", str(err)))
            # What the token claims, unverified: it still shows what was tampered with.
            return unverified_payload(token), _claimed_form(token)
        key = verified.key
        report.checks.append(Check.ok("key", f"kid {key.kid} is known ({key.status})"))
        report.checks.append(
            Check.ok("signature", f"EdDSA signature valid for kid {key.kid} ({verified.form} JSON)")
        )
        return verified.payload, verified.form

    def _key_only(self, token: str) -> Check:
        try:
            kid = unverified_header(token).get("kid")
        except SignatureRejected as err:
            return Check.failed("key", f"not checked: {err}")
        info = self.keystore.public_key(str(kid)) if kid else None
        if info is None:
            return Check.failed("key", f"unknown kid {kid}")
        return Check.ok("key", f"kid {info.kid} is known ({info.status})")

    # ------------------------------------------------------------------ database
    async def _database(
        self,
        reader: Reader,
        task: Row[Any],
        row: Row[Any],
        payload: dict[str, Any] | None,
        token: str,
        form: CanonicalForm,
    ) -> Check:
        if payload is None:
            return Check.failed("database", "not checked: the record cannot be read")
        problems: list[str] = []
        if row.jws.strip() != token.strip():
            problems.append("the JWS stored in the database differs from the one in git")
        if _sha256(payload, form) != row.record_sha256:
            problems.append("the record's SHA-256 differs from the one stored when it was signed")
        last_seq = int(payload.get("last_seq") or 0)
        audit = await task_reads.list_audit(reader, task.id)
        verdicts = await task_reads.list_verdicts(reader, task.id)
        trail = trail_from_audit(audit, verdicts)
        rebuilt = build_record(header_from_task_row(task), trail, last_seq=last_seq, form=form)
        problems += differences(payload, rebuilt, "the database", ignore=HISTORY_ONLY)
        late = [e for e in trail if e["seq"] > last_seq and not is_refusal(e)]
        problems += [
            f"audit #{e['seq']} ({e['action']}) was written after the record was signed"
            for e in late
        ]
        if problems:
            return Check.failed("database", "; ".join(problems))
        return Check.ok(
            "database", f"equals the task row, {last_seq} audit entries and their verdicts"
        )

    # ------------------------------------------------------------------- history
    async def _history(
        self, client: Client | None, payload: dict[str, Any] | None, form: CanonicalForm
    ) -> Check:
        if payload is None:
            return Check.failed("history", "not checked: the record cannot be read")
        if client is None:
            return Check.failed("history", "not checked: Temporal is unreachable")
        workflow = payload.get("workflow") or {}
        count = workflow.get("history_events")
        if not isinstance(count, int) or count < 1:
            return Check.failed("history", "the record names no history prefix")
        try:
            handle = client.get_workflow_handle(workflow.get("id"), run_id=workflow.get("run_id"))
            history = await asyncio.wait_for(handle.fetch_history(), HISTORY_TIMEOUT_S)
        except Exception as err:  # any failure to read the history is this check's failure
            return Check.failed("history", f"cannot fetch the history: {type(err).__name__}: {err}")
        events = hist.prefix(history.events, count)
        if len(events) != count:
            return Check.failed(
                "history",
                f"the history has {len(history.events)} events; the record covers {count}",
            )
        if hist.provenance_scheduled_event(events) != count:
            return Check.failed(
                "history", f"event {count} is not the scheduling of the provenance activity"
            )
        problems: list[str] = []
        digest = hist.history_digest(events)
        if digest != workflow.get("history_sha256"):
            problems.append(f"the digest of events 1..{count} is {digest}, not the signed one")
        try:
            facts = await hist.facts(history, events, client.data_converter)
        except hist.HistoryError as err:
            return Check.failed("history", str(err))
        last_seq = int(payload.get("last_seq") or 0)
        trail = [entry_from_record_input(r) for r in facts.records if r.seq <= last_seq]
        rebuilt = build_record(
            header_from_task_input(facts.task, facts.workflow_id, facts.run_id),
            trail,
            last_seq=last_seq,
            history_events=count,
            history_sha256=digest,
            form=form,
        )
        problems += differences(payload, rebuilt, "the history")
        if problems:
            return Check.failed("history", "; ".join(problems))
        return Check.ok("history", f"equals events 1..{count} of run {facts.run_id}")

    # ----------------------------------------------------------------------- git
    def _git(self, row: Row[Any], task_id: str) -> tuple[Check, str | None]:
        try:
            repo = self.repo.open()
        except ProvenanceRepoError as err:
            return Check.failed("git", str(err)), None
        try:
            commit = repo.commit(row.commit)
            commit.message  # noqa: B018  (reads the object: a missing one raises here)
        except (ValueError, git.BadName, git.BadObject):
            return Check.failed(
                "git", f"commit {row.commit} is not in {self.repo.path} (was history rewritten?)"
            ), None
        committed = self.repo.blob_at(repo, row.commit, row.path)
        if committed is None:
            return Check.failed("git", f"commit {row.commit[:12]} has no {row.path}"), None
        token = committed.strip()
        problems: list[str] = []
        found = trailers(commit)
        outcome = row.outcome or ""
        for key, want in (
            (TASK_TRAILER, task_id),
            (VERDICT_TRAILER, outcome),
            (KID_TRAILER, row.kid),
        ):
            if found.get(key) != [want]:
                problems.append(f"trailer {key} is {found.get(key)}, expected {want!r}")
        try:
            on_branch = repo.is_ancestor(row.commit, repo.head.commit.hexsha)
        except (ValueError, git.GitCommandError):
            on_branch = False
        if not on_branch:
            problems.append(f"commit {row.commit[:12]} is not on the current branch")
        at_head = self.repo.blob_at(repo, "HEAD", row.path)
        if at_head != committed:
            last = self.repo.last_commit_touching(repo, row.path)
            problems.append(
                f"{row.path} was rewritten after {row.commit[:12]}"
                + (f" (by commit {last[:12]})" if last and last != row.commit else "")
            )
        worktree = self.repo.path / row.path
        try:
            on_disk = worktree.read_text(encoding="utf-8", errors="replace")
        except OSError:
            on_disk = None
        if on_disk != committed:
            problems.append(f"{row.path} in the working tree differs from the commit")
        if problems:
            return Check.failed("git", "; ".join(problems)), token
        return Check.ok("git", f"commit {row.commit[:12]} holds {row.path}, unchanged"), token


def _claimed_form(token: str) -> CanonicalForm:
    """The form an unverified token's header claims (JCS when it cannot be read)."""
    try:
        return canonical_form(unverified_header(token))
    except SignatureRejected:
        return "jcs"


def _sha256(payload: dict[str, Any], form: CanonicalForm) -> str | None:
    try:
        return canonical_sha256(payload, form)
    except ValueError:  # not representable in that form: it cannot match any digest
        return None


def _applied_commit(payload: dict[str, Any] | None, task_id: str) -> Check:
    if payload is None:
        return Check.failed("applied_commit", "not checked: the record cannot be read")
    sha = payload.get("applied_commit")
    if not sha:
        return Check("applied_commit", "skip", "nothing was applied")
    try:
        repo = local_repo(str(payload.get("repo") or ""))
    except GovernanceFileError as err:
        return Check.failed("applied_commit", str(err))
    if repo is None:
        return Check("applied_commit", "skip", "the target repository is not local")
    try:
        commit = repo.commit(sha)
        found = trailers(commit)
    except (ValueError, git.BadName, git.BadObject, git.GitCommandError):
        return Check.failed("applied_commit", f"commit {sha} is not in {payload.get('repo')}")
    if found.get(TASK_TRAILER) != [task_id]:
        return Check.failed(
            "applied_commit", f"commit {sha[:12]} has {TASK_TRAILER} {found.get(TASK_TRAILER)}"
        )
    return Check.ok("applied_commit", f"commit {sha[:12]} carries {TASK_TRAILER}: {task_id}")


async def _still_running(client: Client | None, task: Row[Any]) -> bool:
    if task.phase not in TERMINAL_PHASES:
        return True
    if client is None:
        return False
    try:
        description = await asyncio.wait_for(
            client.get_workflow_handle(task.workflow_id).describe(), timeout=5
        )
    except Exception:  # unknown workflow or Temporal down: nothing is pending
        return False
    return description.status is not None and description.status.name == "RUNNING"
