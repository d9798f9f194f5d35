"""The executor's activities (activities/executor.py), run in a real activity context.

Each test drives ExecutorActivities through temporalio's ActivityEnvironment (heartbeats
and cancellation as Temporal delivers them) on a real executor host (bubblewrap, git)
and a real migrated SQLite database. Proves: a claim answers this host's queue and is
refused (ExecutorBusy, retryable) at capacity; run_agent stores the diff as a database
artifact and returns a bounded summary, reads a model agent's patch from an artifact,
heartbeats its progress, and on cancellation kills the process group and removes the
worktree; apply_change reads the diff artifact only when the tree is missing and maps
the apply's errors to the workflow's error types; the host-queue steps map unknown runs
and conflicts.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.executor import TAIL_CHARS, ExecutorActivities
from agency.db.artifacts import Artifact, get_artifact, put_artifact
from agency.db.engine import make_engine, session_maker
from agency.db.migrate import upgrade_database_async
from agency.executor.host import HostRuns
from agency.settings import Settings
from council.spec import TaskSpec
from council.validation import parse_task_spec
from domain import errors
from domain.activities import (
    ApplyInput,
    ApplyOutput,
    ClaimInput,
    ControlInput,
    DiscardInput,
    ExecuteInput,
    GatesInput,
)
from domain.execution import ExecutionSummary, ExecutorClaim
from tests.agency.executor.conftest import (
    PY,
    all_stopped,
    clone,
    git,
    has_object,
    host_for,
    host_settings,
    make_repo,
    marker,
    needs_bwrap,
    none_stopped,
    sleepers,
    until,
)
from tests.support.repos import task_spec
from workflows import activity_options as opts

pytestmark = needs_bwrap

CLAIM = ExecutorClaim(
    host_queue="ex-test/test-host/0123abcd", executor="test-host/0123abcd", sandbox="bwrap"
)
CLAIM_INPUT = ClaimInput(task_id="task-1", iteration=1, attempt=1)
AT = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
NO_SUCH_DIFF = "diff-" + "0" * 64

PATCH = """\
--- a/README.md
+++ b/README.md
@@ -1 +1,2 @@
 hello
+from the model
"""


@dataclass
class Executor:
    acts: ExecutorActivities
    runs: HostRuns
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    repo: Path


@pytest.fixture
async def executor(tmp_path: Path) -> AsyncIterator[Executor]:
    """An executor host with room for one run, its activities and a migrated database."""
    data = tmp_path / "agency"
    data.mkdir()
    url = f"sqlite+aiosqlite:///{data / 'agency.db'}"
    await upgrade_database_async(url)
    engine = make_engine(url)
    settings = host_settings(data, database_url=url, executor_max_runs=1)
    runs = host_for(settings)
    await runs.reap()
    sessions = session_maker(engine)
    acts = ExecutorActivities(settings, runs, sessions, CLAIM)
    try:
        yield Executor(acts, runs, sessions, settings, make_repo(tmp_path / "repo"))
    finally:
        await runs.close()
        await engine.dispose()


def spec(repo: Path, gates: list[dict[str, Any]] | None = None, **agent: Any) -> TaskSpec:
    agent.setdefault("timeout_s", 60)
    return parse_task_spec(task_spec(repo, agent=agent, gates=gates or []))


def execute_input(
    repo: Path, run_id: str, *, patch_artifact: str | None = None, **agent: Any
) -> ExecuteInput:
    return ExecuteInput(
        task_id="task-1",
        iteration=1,
        attempt=2,
        run_id=run_id,
        spec=spec(repo, **agent),
        patch_artifact=patch_artifact,
    )


async def run_agent(ex: Executor, inp: ExecuteInput) -> ExecutionSummary:
    return await ActivityEnvironment().run(ex.acts.run_agent, inp)


async def changed(ex: Executor, run_id: str, script: str) -> ExecutionSummary:
    summary = await run_agent(ex, execute_input(ex.repo, run_id, argv=["sh", "-c", script]))
    assert summary.state == "finished" and summary.diff_artifact, summary.error
    return summary


def apply_input(ex: Executor, summary: ExecutionSummary, **fields: Any) -> ApplyInput:
    assert summary.base_commit and summary.tree and summary.diff_artifact
    values: dict[str, Any] = {
        "task_id": "task-1",
        "repo": str(ex.repo),
        "base_commit": summary.base_commit,
        "tree": summary.tree,
        "diff_artifact": summary.diff_artifact,
        "target_branch": "main",
        "message": "Add a greeting\n\nAgency-Task: task-1\n",
        "at": AT,
    }
    return ApplyInput(**(values | fields))


async def apply(ex: Executor, inp: ApplyInput) -> ApplyOutput:
    return await ActivityEnvironment().run(ex.acts.apply_change, inp)


async def artifact_count(ex: Executor) -> int:
    async with ex.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Artifact)) or 0)


async def application_error(work: Coroutine[Any, Any, Any]) -> ApplicationError:
    with pytest.raises(ApplicationError) as err:
        await work
    return err.value


# ---------------------------------------------------------------------------- claims
async def test_a_claim_answers_the_host_queue_and_is_refused_at_capacity(
    executor: Executor,
) -> None:
    env = ActivityEnvironment()
    assert await env.run(executor.acts.claim_executor, CLAIM_INPUT) == CLAIM
    mark = marker()
    busy_env = ActivityEnvironment()
    busy = asyncio.create_task(
        busy_env.run(
            executor.acts.run_agent, execute_input(executor.repo, "run-busy", argv=["sleep", mark])
        )
    )
    await until(lambda: len(sleepers(mark)) == 1, what="the run filling the host")
    err = await application_error(env.run(executor.acts.claim_executor, CLAIM_INPUT))
    # Retryable (the workflow's claim policy retries it, letting another executor answer).
    assert err.type == errors.EXECUTOR_BUSY and not err.non_retryable
    assert errors.EXECUTOR_BUSY not in opts.NON_RETRYABLE
    assert "capacity" in err.message and CLAIM.executor in err.message
    busy_env.cancel()
    with pytest.raises(asyncio.CancelledError):
        await busy
    assert await env.run(executor.acts.claim_executor, CLAIM_INPUT) == CLAIM


# ------------------------------------------------------------------------- run_agent
async def test_run_agent_stores_the_diff_artifact_and_returns_a_bounded_summary(
    executor: Executor,
) -> None:
    loud = (
        "import sys, pathlib\n"
        "print('o' * 100_000); print('end of stdout')\n"
        "print('e' * 100_000, file=sys.stderr); print('end of stderr', file=sys.stderr)\n"
        "pathlib.Path('README.md').write_text('hello\\nagain\\n')\n"
        "pathlib.Path('blob.bin').write_bytes(bytes(range(256)))\n"
    )
    inp = execute_input(executor.repo, "run-loud", argv=[PY, "-c", loud])
    summary = await run_agent(executor, inp)
    base = git(executor.repo, "rev-parse", "HEAD")
    assert (summary.host_queue, summary.executor, summary.attempt, summary.run_id) == (
        CLAIM.host_queue,
        CLAIM.executor,
        2,
        "run-loud",
    )
    assert (summary.state, summary.exit_code, summary.timed_out, summary.error) == (
        "finished",
        0,
        False,
        None,
    )
    assert (summary.base_commit, summary.default_target) == (base, "main")
    assert len(summary.stdout_tail) <= TAIL_CHARS and summary.stdout_tail.endswith(
        "end of stdout\n"
    )
    assert len(summary.stderr_tail) <= TAIL_CHARS and summary.stderr_tail.endswith(
        "end of stderr\n"
    )
    assert [(f.path, f.added, f.binary) for f in summary.changed_files] == [
        ("README.md", 1, False),
        ("blob.bin", 0, True),
    ]
    # The diff is in the database, by content address; the summary carries only its id.
    assert summary.diff_sha256
    assert summary.diff_artifact == f"diff-{summary.diff_sha256}"
    async with executor.sessions() as session:
        diff = await get_artifact(session, summary.diff_artifact)
    assert hashlib.sha256(diff).hexdigest() == summary.diff_sha256
    assert b"+again" in diff and b"GIT binary patch" in diff
    assert len(summary.model_dump_json()) < 3 * TAIL_CHARS + 2000
    # A duplicate delivery of the step: the same summary, no second run, no new artifact.
    assert await run_agent(executor, inp) == summary
    assert await artifact_count(executor) == 1


async def test_a_run_without_a_change_stores_no_artifact(executor: Executor) -> None:
    summary = await run_agent(executor, execute_input(executor.repo, "run-noop", argv=["true"]))
    assert summary.state == "finished" and summary.changed_files == []
    assert summary.diff_artifact is None
    assert await artifact_count(executor) == 0


async def test_a_model_agents_patch_is_read_from_a_database_artifact(executor: Executor) -> None:
    async with executor.sessions() as session:
        patch_id = await put_artifact(session, "patch", PATCH.encode())
        bad_id = await put_artifact(session, "patch", b"\xff\xfe not text")
    model = {"model": "some-model", "prompt": "add a line"}
    summary = await run_agent(
        executor, execute_input(executor.repo, "run-model", patch_artifact=patch_id, **model)
    )
    assert summary.state == "finished" and summary.exit_code == 0, summary.stderr_tail
    assert [(f.path, f.added) for f in summary.changed_files] == [("README.md", 1)]
    status = executor.runs.status("run-model")
    assert status.agent is not None and status.agent.argv[:2] == ["git", "apply"]

    for run_id, artifact in [
        ("run-no-patch", None),
        ("run-unknown-patch", "patch-" + "1" * 64),
        ("run-not-an-id", "../../etc/passwd"),
        ("run-binary-patch", bad_id),
    ]:
        inp = execute_input(executor.repo, run_id, patch_artifact=artifact, **model)
        err = await application_error(run_agent(executor, inp))
        assert err.type == errors.INVALID_INPUT, run_id
    assert executor.runs.active() == 0


async def test_run_agent_without_a_sandbox_is_refused(executor: Executor, tmp_path: Path) -> None:
    settings = host_settings(tmp_path / "unsandboxed")
    runs = host_for(settings, bwrap_path=str(tmp_path / "no-bwrap"))
    acts = ExecutorActivities(settings, runs, executor.sessions, CLAIM)
    inp = execute_input(executor.repo, "run-refused", argv=["true"])
    err = await application_error(ActivityEnvironment().run(acts.run_agent, inp))
    assert err.type == errors.EXECUTOR_REFUSED and "bubblewrap" in err.message


async def test_run_agent_heartbeats_and_cancellation_kills_the_process_group(
    executor: Executor,
) -> None:
    env = ActivityEnvironment()
    beats: list[Any] = []
    env.on_heartbeat = lambda *details: beats.extend(details)
    mark = marker()
    agent = ["sh", "-c", f"echo started; sleep {mark} & sleep {mark}"]
    task = asyncio.create_task(
        env.run(executor.acts.run_agent, execute_input(executor.repo, "run-cancel", argv=agent))
    )
    # Progress: the state and the bytes written so far ("started\n"), every second.
    await until(
        lambda: {"state": "running", "output_bytes": 8} in beats and len(sleepers(mark)) == 2,
        what="a heartbeat of the running agent",
    )
    worktree = executor.runs.layout.worktree("run-cancel")
    assert worktree.is_dir()
    env.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sleepers(mark) == []
    assert not worktree.exists()
    assert executor.runs.status("run-cancel").state == "canceled"
    assert executor.runs.active() == 0


# ---------------------------------------------------------------------- apply_change
async def test_apply_change_commits_once_from_the_stored_diff(executor: Executor) -> None:
    summary = await changed(executor, "run-apply", "echo greeting >> README.md")
    # What the agent wrote is not in the repository until the change is applied: the
    # apply rebuilds the judged tree from the stored diff.
    assert summary.tree is not None
    assert not has_object(executor.repo, summary.tree)
    inp = apply_input(executor, summary)
    first = await apply(executor, inp)
    assert first == ApplyOutput(
        commit=first.commit, branch="main", already_applied=False, executor=CLAIM.executor
    )
    assert git(executor.repo, "rev-parse", "main") == first.commit
    assert git(executor.repo, "log", "-1", "--format=%at %ct", first.commit) == (
        f"{int(AT.timestamp())} {int(AT.timestamp())}"
    )
    assert (executor.repo / "README.md").read_text() == "hello\ngreeting\n"
    again = await apply(executor, inp)
    assert again == first.model_copy(update={"already_applied": True})


async def test_apply_change_rebuilds_a_missing_tree_from_the_database_artifact(
    executor: Executor, tmp_path: Path
) -> None:
    elsewhere = clone(executor.repo, tmp_path / "elsewhere")
    summary = await changed(executor, "run-rebuild", "printf '\\000\\377' > blob.bin")
    # Without the tree, the diff is needed: a missing artifact is an invalid request.
    missing = apply_input(executor, summary, repo=str(elsewhere), diff_artifact=NO_SUCH_DIFF)
    err = await application_error(apply(executor, missing))
    assert err.type == errors.INVALID_INPUT and NO_SUCH_DIFF in err.message
    assert git(elsewhere, "rev-parse", "main") == summary.base_commit

    there = await apply(executor, apply_input(executor, summary, repo=str(elsewhere)))
    here = await apply(executor, apply_input(executor, summary))
    assert there.commit == here.commit  # the same commit, wherever it is made
    assert git(elsewhere, "rev-parse", f"{there.commit}^{{tree}}") == summary.tree
    assert (elsewhere / "blob.bin").read_bytes() == b"\0\xff"


async def test_apply_change_maps_errors_to_the_workflow_error_types(executor: Executor) -> None:
    summary = await changed(executor, "run-errors", "echo mine > README.md")
    main = git(executor.repo, "rev-parse", "main")

    bad = await application_error(
        apply(executor, apply_input(executor, summary, target_branch="no..dots"))
    )
    assert bad.type == errors.INVALID_INPUT and "no..dots" in bad.message

    # A branch locked by another writer: retryable, without a type the policy stops on.
    git(executor.repo, "branch", "locked")
    lock = executor.repo / ".git" / "refs" / "heads" / "locked.lock"
    lock.write_text("another writer\n")
    busy = await application_error(
        apply(executor, apply_input(executor, summary, target_branch="locked"))
    )
    assert busy.type is None and not busy.non_retryable and "locked" in busy.message
    lock.unlink()

    # The repository is gone (for now): retryable too.
    gone = await application_error(
        apply(executor, apply_input(executor, summary, repo="/nonexistent/repo"))
    )
    assert gone.type is None and not gone.non_retryable

    (executor.repo / "README.md").write_text("theirs\n")
    git(executor.repo, "commit", "--quiet", "-am", "conflicting")
    conflict = await application_error(apply(executor, apply_input(executor, summary)))
    assert conflict.type == errors.APPLY_CONFLICT and "README.md" in conflict.message
    assert (
        errors.APPLY_CONFLICT in opts.NON_RETRYABLE and errors.INVALID_INPUT in opts.NON_RETRYABLE
    )
    assert git(executor.repo, "rev-parse", "main^") == main  # only the user's commit


# ------------------------------------------------------------------ host-queue steps
async def test_gates_control_and_discard_on_the_host_queue(executor: Executor) -> None:
    env = ActivityEnvironment()
    acts = executor.acts
    gates = [{"name": "tests", "argv": ["cat", "made.txt"], "covers": ["A1"]}]
    run_spec = spec(executor.repo, gates=gates, argv=["sh", "-c", "echo made > made.txt"])
    await run_agent(executor, ExecuteInput(task_id="t", iteration=1, run_id="run-g", spec=run_spec))
    summary = await env.run(acts.run_gates, GatesInput(run_id="run-g", attempt=3, spec=run_spec))
    assert summary.attempt == 3 and summary.state == "finished"
    assert [(g.name, g.passed, g.output_tail, g.covers) for g in summary.gates] == [
        ("tests", True, "made\n", ["A1"])
    ]

    unknown = await application_error(
        env.run(acts.run_gates, GatesInput(run_id="nope", spec=run_spec))
    )
    assert unknown.type == errors.NOT_FOUND
    actions: tuple[Literal["suspend", "resume"], ...] = ("suspend", "resume")
    for action in actions:
        err = await application_error(
            env.run(acts.control_agent, ControlInput(run_id="nope", action=action))
        )
        assert err.type == errors.NOT_FOUND
        err = await application_error(
            env.run(acts.control_agent, ControlInput(run_id="run-g", action=action))
        )
        assert err.type == errors.EXECUTOR_REFUSED and "finished" in err.message

    worktree = executor.runs.layout.worktree("run-g")
    assert worktree.is_dir()
    await env.run(acts.discard_run, DiscardInput(run_id="run-g"))
    assert not worktree.exists()
    await env.run(acts.discard_run, DiscardInput(run_id="run-g"))  # idempotent
    gone = await application_error(
        env.run(acts.run_gates, GatesInput(run_id="run-g", spec=run_spec))
    )
    assert gone.type == errors.NOT_FOUND


async def test_control_agent_suspends_and_resumes_a_running_agent(executor: Executor) -> None:
    env = ActivityEnvironment()
    mark = marker()
    inp = execute_input(executor.repo, "run-ctl", argv=["sleep", mark])
    run_env = ActivityEnvironment()
    task = asyncio.create_task(run_env.run(executor.acts.run_agent, inp))
    await until(lambda: len(sleepers(mark)) == 1, what="the agent")
    suspend = ControlInput(run_id="run-ctl", action="suspend")
    resume = ControlInput(run_id="run-ctl", action="resume")
    assert await env.run(executor.acts.control_agent, suspend) == "suspended"
    await until(lambda: all_stopped(mark), what="the group stopped")
    assert await env.run(executor.acts.control_agent, resume) == "running"
    await until(lambda: none_stopped(mark), what="the group running")
    err = await application_error(env.run(executor.acts.control_agent, resume))
    assert err.type == errors.EXECUTOR_REFUSED
    run_env.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sleepers(mark) == []
