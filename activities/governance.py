"""Validation and judging: the council's pure rules fed with files, diffs and evidence."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.defn import implements
from activities.inference import assess, model_agent_problems
from agency.caws_repo import read_policy, read_waiver_dir, read_waivers
from agency.db.artifacts import ArtifactNotFound, get_artifact
from agency.db.waivers import waivers_for_judging
from agency.diffs import added_lines_by_file
from agency.governance_files import (
    GitFiles,
    GovernanceFileError,
    load_policy_data,
    local_repo,
)
from agency.settings import Settings
from council.aggregate import decide
from council.judges import JudgeContext, run_all
from council.models import Evidence
from council.policy import DEFAULT_POLICY, parse_policy
from council.spec import TaskSpec
from council.validation import SpecInvalid
from council.waiver_files import (
    WaiverReading,
    broken_warnings,
    cited_waiver_problems,
    usable_files,
)
from council.waivers import parse_waiver
from domain import errors
from domain.activities import (
    JUDGE,
    VALIDATE_TASK,
    JudgeInput,
    JudgeOutput,
    ValidateInput,
    ValidationOutcome,
)


class GovernanceActivities:
    def __init__(
        self, settings: Settings, sessions: async_sessionmaker[AsyncSession] | None = None
    ) -> None:
        self._settings = settings
        # The database's waivers (agency waiver create/approve); None: files only.
        self._sessions = sessions

    @implements(VALIDATE_TASK)
    async def validate_task(self, inp: ValidateInput) -> ValidationOutcome:
        """Checks what the API could not: the repository, the policy and the waivers as
        they are now. Problems are returned (not raised): they end the task, not retry.

        A waiver file that is broken (or claimed by two files) is set aside: a problem
        only when this task names it, since it is that waiver's problem, not everyone's."""
        spec = inp.spec
        # Files and git (the policy, waiver files, the repository): blocking reads, on a
        # worker thread so that the worker's event loop keeps serving other tasks.
        files = await asyncio.to_thread(_read_governance_files, self._settings, spec)
        problems, policy_data, readings, base_commit = (
            files.problems,
            files.policy,
            files.readings,
            files.base_commit,
        )
        problems += [str(p) for p in cited_waiver_problems(spec.waiver_ids, readings)]
        for warning in broken_warnings(readings):
            activity.logger.info("task %s: %s", inp.task_id, warning)
        waivers = usable_files(readings)
        claimed = {r.waiver_id for r in readings if r.waiver_id}
        waivers += await self._database_waivers(inp, claimed, problems)
        if spec.agent.model is not None:
            problems += model_agent_problems(self._settings, spec.agent.model)
        try:
            parse_policy(policy_data)
        except SpecInvalid as err:
            problems.extend(f"policy {p.path}: {p.message}" for p in err.problems)
        known = {w.get("id") for w in waivers}
        for waiver_id in spec.waiver_ids:
            if waiver_id not in known:
                # Not fatal here: the constitutional judge names it as a violation.
                activity.logger.info("task %s names unknown waiver %s", inp.task_id, waiver_id)
        return ValidationOutcome(
            problems=problems,
            policy=policy_data,
            waivers=waivers,
            base_commit=base_commit,
        )

    async def _database_waivers(
        self, inp: ValidateInput, in_files: set[str], problems: list[str]
    ) -> list[dict[str, Any]]:
        """The waivers the spec names that live in the database, in CAWS form. An id
        that a waiver file also defines is ambiguous: a problem, never a silent pick."""
        if self._sessions is None or not inp.spec.waiver_ids:
            return []
        async with self._sessions() as session:
            found = await waivers_for_judging(
                session, inp.spec.waiver_ids, tenant=inp.tenant, now=datetime.now(UTC)
            )
        clashes = sorted(w["id"] for w in found if w["id"] in in_files)
        for waiver_id in clashes:
            problems.append(
                f"waiver {waiver_id} is defined both in the database and in a waiver file; "
                "rename one of them"
            )
        return [w for w in found if w["id"] not in in_files]

    @implements(JUDGE)
    async def judge(self, inp: JudgeInput) -> JudgeOutput:
        try:
            policy = parse_policy(inp.policy)
        except SpecInvalid as err:
            raise ApplicationError(str(err), type=errors.INVALID_INPUT) from err
        waivers = {}
        for data in inp.waivers:
            try:
                waiver = parse_waiver(data)
            except (SpecInvalid, ValueError):
                continue
            waivers[waiver.id] = waiver
        evidence = await self._evidence(inp)
        ctx = JudgeContext(
            spec=inp.spec, policy=policy, waivers=waivers, evidence=evidence, now=inp.now
        )
        # The rules are pure but not free on a large diff: off the event loop.
        judgments = await asyncio.to_thread(run_all, ctx)
        if self._settings.assessments and inp.stage == "result":
            # The model's written assessments (advisory unless the policy makes them a vote).
            judgments = await assess(self._settings, judgments, ctx)
        decision = decide(
            judgments,
            risk_tier=inp.spec.risk_tier,
            policy=policy,
            stage=inp.stage,
            execution_mode=inp.spec.execution_mode,
            can_refine=inp.can_refine,
        )
        return JudgeOutput(judgments=judgments, decision=decision)

    async def _evidence(self, inp: JudgeInput) -> Evidence:
        execution = inp.execution
        if inp.stage == "plan" or execution is None:
            return Evidence(stage="plan")
        added: dict[str, list[str]] = {}
        if execution.diff_artifact:
            if self._sessions is None:
                raise ApplicationError("this worker has no database for artifacts")
            try:
                async with self._sessions() as session:
                    diff = await get_artifact(session, execution.diff_artifact)
            except ArtifactNotFound as err:
                raise ApplicationError(str(err), type=errors.NOT_FOUND) from err
            added = await asyncio.to_thread(
                added_lines_by_file, diff.decode("utf-8", errors="replace")
            )
        return Evidence(
            stage="result",
            agent_exit_code=execution.exit_code,
            agent_timed_out=execution.timed_out,
            changed_files=execution.changed_files,
            lines_added=execution.lines_added,
            lines_removed=execution.lines_removed,
            gates=execution.gates,
            added_lines=added,
        )


def _has_ref(repo: Any, ref: str) -> bool:
    try:
        repo.commit(ref)
    except Exception:
        return False
    return True


@dataclass
class _GovernanceFiles:
    problems: list[str] = field(default_factory=list)
    policy: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_POLICY))
    readings: list[WaiverReading] = field(default_factory=list)
    base_commit: str | None = None


def _read_governance_files(settings: Settings, spec: TaskSpec) -> _GovernanceFiles:
    """The policy and waiver files that apply to `spec`, and its pinned base commit."""
    out = _GovernanceFiles()
    try:
        configured = load_policy_data(settings)
        if configured is not None:
            out.policy = configured
        out.readings += read_waiver_dir(settings.effective_waivers_dir)
        repo = local_repo(spec.repo)
        if repo is None:
            return out
        if not _has_ref(repo, spec.base_ref):
            out.problems.append(f"base_ref: {spec.base_ref!r} does not exist in {spec.repo}")
            return out
        # Pinned now: every attempt, on any executor host, starts from it.
        out.base_commit = repo.commit(spec.base_ref).hexsha
        if spec.caws_spec:
            # A CAWS repo governs itself: its policy and waivers apply.
            files = GitFiles(repo, out.base_commit)
            policy = read_policy(files)
            out.problems += [f"policy {policy.file} {p}" for p in policy.problems]
            if policy.data is not None and not policy.problems:
                out.policy = policy.data
            out.readings += read_waivers(files)
    except GovernanceFileError as err:
        out.problems.append(str(err))
    return out
