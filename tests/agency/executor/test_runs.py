"""The run registry end to end over HTTP: lifecycle, idempotency, restarts, control, gates."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from agency.executor.client import ExecutorClient, ExecutorError
from agency.executor.runs import RESTARTED
from council.spec import GateSpec
from tests.agency.executor.conftest import (
    PY,
    RunningExecutor,
    StartExecutor,
    git,
    needs_bwrap,
    request,
    sh,
    sleepers,
    until,
    until_terminal,
)

pytestmark = needs_bwrap


async def test_agent_sees_its_environment_and_runs_in_the_worktree(
    client: ExecutorClient, repo: Path
) -> None:
    script = (
        "import os, json; print(json.dumps({k: os.environ.get(k) for k in "
        "['AGENCY_TASK_ID', 'AGENCY_ITERATION', 'AGENCY_FEEDBACK', 'AGENCY_RUN_ID', 'HOME', "
        "'EXTRA', 'AGENCY_ALLOW_UNSANDBOXED']})); print(open('README.md').read().strip())"
    )
    req = request(
        repo,
        [PY, "-c", script],
        task_id="FEAT-0042",
        iteration=2,
        feedback="add tests",
        env={"EXTRA": "yes"},
    )
    first = await client.execute(req)
    assert first.state == "preparing"
    status = await until_terminal(client, req.run_id)
    assert status.state == "finished", status.error
    assert status.sandbox == "bwrap"
    assert status.base_commit == git(repo, "rev-parse", "HEAD")
    assert status.agent is not None and status.agent.exit_code == 0
    assert status.agent.argv == [PY, "-c", script]
    seen, readme = status.agent.stdout_tail.splitlines()
    assert readme == "hello"
    assert '"AGENCY_TASK_ID": "FEAT-0042"' in seen
    assert '"AGENCY_ITERATION": "2"' in seen
    assert '"AGENCY_FEEDBACK": "add tests"' in seen
    assert f'"AGENCY_RUN_ID": "{req.run_id}"' in seen
    assert '"HOME": "/tmp"' in seen
    assert '"EXTRA": "yes"' in seen
    assert status.changed_files == []


async def test_retried_execute_runs_the_agent_once_even_across_restarts(
    start_executor: StartExecutor, repo: Path
) -> None:
    # Each invocation of the agent prints (and writes) a fresh random nonce; a second
    # invocation would show a different one.
    agent = sh("n=$(cat /proc/sys/kernel/random/uuid); echo $n; echo $n > nonce.txt")
    req = request(repo, agent)
    first_exec = start_executor()
    async with ExecutorClient(first_exec.url) as client:
        await client.execute(req)
        done = await until_terminal(client, req.run_id)
        again = await client.execute(req)
    assert done.state == "finished" and again == done
    nonce = done.agent.stdout_tail.strip() if done.agent else ""
    assert len(nonce) == 36
    first_exec.stop()

    second_exec = start_executor()
    async with ExecutorClient(second_exec.url) as client:
        after_restart = await client.execute(req)
        diff = await client.artifact(after_restart.diff_artifact or "")
    assert after_restart == done
    assert f"+{nonce}" in diff
    assert (second_exec.worktree(req.run_id) / "nonce.txt").read_text().strip() == nonce


async def test_a_run_interrupted_by_a_restart_is_failed(
    start_executor: StartExecutor, repo: Path
) -> None:
    marker = f"{uuid.uuid4().int % 10**6}.5"
    req = request(repo, ["sleep", marker])
    first_exec = start_executor()
    async with ExecutorClient(first_exec.url) as client:
        await client.execute(req)
        await until(lambda: bool(sleepers(marker)), what="agent start")
    first_exec.stop()  # graceful: kills the agent, leaves the record "running"
    assert sleepers(marker) == []

    async with ExecutorClient(start_executor().url) as client:
        status = await client.get(req.run_id)
        assert status.state == "failed"
        assert status.error == RESTARTED
        # Idempotent still: the same run_id does not start the agent again.
        assert (await client.execute(req)).state == "failed"
    assert sleepers(marker) == []


async def test_timeout_kills_the_whole_process_group(
    client: ExecutorClient, executor: RunningExecutor, repo: Path
) -> None:
    marker = f"{uuid.uuid4().int % 10**6}.25"
    # The grandchild is double-forked (reparented away from the agent) and another one
    # leaves the process group with setsid; neither may survive the timeout.
    agent = sh(
        f"(sleep {marker} & echo $! > grandchild.pid); setsid sleep {marker} & sleep {marker}"
    )
    req = request(repo, agent, timeout_s=2)
    await client.execute(req)
    pidfile = executor.worktree(req.run_id) / "grandchild.pid"
    await until(lambda: pidfile.exists() and len(sleepers(marker)) == 3, what="sleepers")
    status = await until_terminal(client, req.run_id)
    assert status.state == "finished"
    assert status.agent is not None and status.agent.timed_out
    assert not status.agent.killed
    assert 1.5 < status.agent.duration_s < 10
    assert sleepers(marker) == []


async def test_suspend_stops_the_group_and_resume_continues_it(
    client: ExecutorClient, executor: RunningExecutor, repo: Path
) -> None:
    # A grandchild does the counting, so stopping only the agent would not stop it.
    agent = sh("(i=0; while :; do i=$((i+1)); echo $i > counter; sleep 0.02; done) & wait")
    req = request(repo, agent, timeout_s=60)
    await client.execute(req)
    counter = executor.worktree(req.run_id) / "counter"

    def count() -> int:
        text = counter.read_text().strip() if counter.exists() else ""
        return int(text) if text else 0

    await until(lambda: count() > 3, what="counting")
    assert (await client.control(req.run_id, "suspend")).state == "suspended"
    await asyncio.sleep(0.2)  # let a write in flight land
    stopped_at = count()
    await asyncio.sleep(0.5)
    assert count() == stopped_at
    with pytest.raises(ExecutorError) as err:
        await client.control(req.run_id, "suspend")
    assert err.value.status == 409

    assert (await client.control(req.run_id, "resume")).state == "running"
    await until(lambda: count() > stopped_at + 3, what="counting again")
    with pytest.raises(ExecutorError) as err:
        await client.control(req.run_id, "resume")
    assert err.value.status == 409 and "not suspended" in err.value.detail
    await client.control(req.run_id, "cancel")


async def test_cancel_kills_the_group_marks_canceled_and_discards_the_worktree(
    client: ExecutorClient, executor: RunningExecutor, repo: Path
) -> None:
    marker = f"{uuid.uuid4().int % 10**6}.75"
    req = request(repo, sh(f"sleep {marker} & sleep {marker}"), timeout_s=120)
    await client.execute(req)
    await until(lambda: len(sleepers(marker)) == 2, what="sleepers")
    # Canceling a suspended run works too: SIGKILL reaches stopped processes.
    await client.control(req.run_id, "suspend")
    status = await client.control(req.run_id, "cancel")
    assert status.state == "canceled"
    assert status.agent is not None and status.agent.killed
    assert status.discarded
    assert sleepers(marker) == []
    assert not executor.worktree(req.run_id).exists()
    assert req.run_id not in git(repo, "worktree", "list")
    # Canceling again (or a finished run) is a no-op.
    assert (await client.control(req.run_id, "cancel")).state == "canceled"


async def test_gates_run_after_the_agent_and_their_byproducts_are_not_the_change(
    client: ExecutorClient, repo: Path
) -> None:
    gates = [
        GateSpec(name="has-file", argv=["test", "-f", "new.txt"], covers=["A1"]),
        GateSpec(
            name="cache",
            argv=sh(
                "mkdir -p .pytest_cache __pycache__ && touch "
                ".pytest_cache/x __pycache__/y.pyc && echo gate-out"
            ),
        ),
        GateSpec(name="fails", argv=sh("echo broken >&2; exit 3")),
    ]
    req = request(repo, sh("echo one > new.txt"), gates=gates)
    await client.execute(req)
    status = await until_terminal(client, req.run_id)
    assert status.state == "finished"
    assert [(g.name, g.passed, g.exit_code) for g in status.gates] == [
        ("has-file", True, 0),
        ("cache", True, 0),
        ("fails", False, 3),
    ]
    assert status.gates[0].covers == ["A1"]
    assert "gate-out" in status.gates[1].output_tail
    assert "broken" in status.gates[2].output_tail
    assert [f.path for f in status.changed_files] == ["new.txt"]
    # Gates already ran: asking again returns them instead of running anything.
    again = await client.run_gates(req.run_id, [GateSpec(name="other", argv=["false"])])
    assert [g.name for g in again.gates] == ["has-file", "cache", "fails"]


async def test_gates_requested_later_run_in_the_same_worktree(
    client: ExecutorClient, repo: Path
) -> None:
    req = request(repo, sh("echo x > made.txt"))
    await client.execute(req)
    await until_terminal(client, req.run_id)
    started = await client.run_gates(req.run_id, [GateSpec(name="made", argv=["cat", "made.txt"])])
    assert started.state in ("gating", "finished")
    status = await until_terminal(client, req.run_id)
    assert [(g.name, g.passed, g.output_tail.strip()) for g in status.gates] == [
        ("made", True, "x")
    ]
    second = await client.run_gates(req.run_id, [GateSpec(name="again", argv=["true"])])
    assert [g.name for g in second.gates] == ["made"]


async def test_control_that_does_not_apply_is_a_409(client: ExecutorClient, repo: Path) -> None:
    req = request(repo, ["true"])
    await client.execute(req)
    await until_terminal(client, req.run_id)
    for action in ("suspend", "resume"):
        with pytest.raises(ExecutorError) as err:
            await client.control(req.run_id, action)  # type: ignore[arg-type]
        assert err.value.status == 409 and not err.value.retryable
    assert (await client.control(req.run_id, "cancel")).state == "finished"


async def test_a_bad_repository_or_ref_fails_the_run_with_the_reason(
    client: ExecutorClient, repo: Path, tmp_path: Path
) -> None:
    missing = request(tmp_path / "nowhere", ["true"])
    bad_ref = request(repo, ["true"], base_ref="no-such-branch")
    for req in (missing, bad_ref):
        await client.execute(req)
    s1 = await until_terminal(client, missing.run_id)
    s2 = await until_terminal(client, bad_ref.run_id)
    assert s1.state == "failed" and "does not exist" in (s1.error or "")
    assert s2.state == "failed" and "no-such-branch" in (s2.error or "")
