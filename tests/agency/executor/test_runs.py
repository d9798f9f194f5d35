"""Runs on one executor host (HostRuns), with real bubblewrap and real processes.

Proves: the agent's environment and starting point; a duplicate execute never runs the
agent twice; timeouts, suspend/resume (also requested before the process exists) and
cancellation act on the whole process group; gates run once, in the worktree, and what
they leave is not part of the change; a bad repository or ref fails the run; control
that does not apply is refused; `reap` removes what a previous process left.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from agency.executor.host import HostRuns, RunConflict, RunNotFound
from agency.executor.schemas import TERMINAL_STATES
from council.spec import GateSpec
from tests.agency.executor.conftest import (
    PY,
    MakeHost,
    all_stopped,
    finished,
    git,
    group_states,
    marker,
    needs_bwrap,
    new_host,
    none_stopped,
    request,
    sh,
    sleepers,
    until,
)

pytestmark = needs_bwrap

SEEN = [
    "AGENCY_TASK_ID",
    "AGENCY_ITERATION",
    "AGENCY_FEEDBACK",
    "AGENCY_RUN_ID",
    "HOME",
    "EXTRA",
    "EXECUTOR_SECRET_PROBE",
]


async def test_agent_sees_its_environment_and_runs_in_the_worktree_at_the_base(
    host: HostRuns, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A variable of the executor's own environment (where credentials live) must not leak.
    monkeypatch.setenv("EXECUTOR_SECRET_PROBE", "sk-executor-only")
    base = git(repo, "rev-parse", "HEAD")
    script = (
        "import os, json; print(json.dumps({k: os.environ.get(k) for k in "
        f"{SEEN!r}}})); print(os.getcwd()); print(open('README.md').read().strip())"
    )
    req = request(
        repo,
        [PY, "-c", script],
        task_id="FEAT-0042",
        iteration=2,
        feedback="add tests",
        env={"EXTRA": "yes"},
    )
    status = await finished(host, req)
    assert status.sandbox == "bwrap"
    assert status.base_commit == base
    assert status.default_target == "main"
    assert status.agent is not None and status.agent.exit_code == 0
    assert status.agent.argv == [PY, "-c", script]
    seen, cwd, readme = status.agent.stdout_tail.splitlines()
    assert json.loads(seen) == {
        "AGENCY_TASK_ID": "FEAT-0042",
        "AGENCY_ITERATION": "2",
        "AGENCY_FEEDBACK": "add tests",
        "AGENCY_RUN_ID": req.run_id,
        "HOME": "/tmp",
        "EXTRA": "yes",
        "EXECUTOR_SECRET_PROBE": None,
    }
    assert cwd == str(host.layout.worktree(req.run_id))
    assert readme == "hello"
    assert status.changed_files == [] and status.tree == git(repo, "rev-parse", "HEAD^{tree}")
    assert status.diff == b""


async def test_a_duplicate_execute_waits_for_the_first_and_never_runs_the_agent_twice(
    host: HostRuns, repo: Path
) -> None:
    # Each invocation appends a fresh nonce; a second invocation would add another line.
    # The agent waits for `go`, so the duplicate arrives while the first is still running.
    agent = sh(
        "n=$(cat /proc/sys/kernel/random/uuid); echo $n >> nonce.txt; "
        "while [ ! -f go ]; do sleep 0.02; done; rm go; echo $n"
    )
    req = request(repo, agent)
    first = asyncio.create_task(host.execute(req))
    nonce_file = host.layout.worktree(req.run_id) / "nonce.txt"
    await until(nonce_file.exists, what="the agent")
    duplicate = asyncio.create_task(host.execute(req))
    await asyncio.sleep(0)  # let the duplicate reach its wait
    assert not duplicate.done()
    (host.layout.worktree(req.run_id) / "go").touch()
    done, again = await asyncio.gather(first, duplicate)
    later = await host.execute(req)
    assert done.state == "finished" and again == done and later == done
    assert done.agent is not None
    nonce = done.agent.stdout_tail.strip()
    assert len(nonce) == 36
    assert nonce_file.read_text() == f"{nonce}\n"
    assert [f.path for f in done.changed_files] == ["nonce.txt"]


async def test_timeout_kills_the_whole_process_group(host: HostRuns, repo: Path) -> None:
    mark = marker()
    # The grandchild is double-forked (reparented away from the agent) and another one
    # leaves the process group with setsid; neither may survive the timeout.
    agent = sh(f"(sleep {mark} & echo $! > grandchild.pid); setsid sleep {mark} & sleep {mark}")
    req = request(repo, agent, timeout_s=2)
    task = asyncio.create_task(host.execute(req))
    pidfile = host.layout.worktree(req.run_id) / "grandchild.pid"
    await until(lambda: pidfile.exists() and len(sleepers(mark)) == 3, what="sleepers")
    status = await task
    assert status.state == "finished"
    assert status.agent is not None and status.agent.timed_out and not status.agent.killed
    assert 1.5 < status.agent.duration_s < 10
    assert sleepers(mark) == []
    assert host.active() == 0


async def test_suspend_stops_the_whole_group_and_resume_continues_it(
    host: HostRuns, repo: Path
) -> None:
    mark = marker()
    # A double-forked grandchild and a child both live in the group; the agent itself
    # waits for `go`, which the test writes only after resuming.
    agent = sh(
        f"(sleep {mark} &); sleep {mark} & "
        "while [ ! -f go ]; do sleep 0.02; done; echo resumed > done.txt"
    )
    req = request(repo, agent, timeout_s=60)
    task = asyncio.create_task(host.execute(req))
    await until(lambda: len(sleepers(mark)) == 2, what="sleepers")
    assert host.status(req.run_id).state == "running"

    assert host.suspend(req.run_id).state == "suspended"
    await until(lambda: all_stopped(mark), what="every process of the group stopped")
    # Bubblewrap, its init in the PID namespace, the shell and both sleepers.
    assert len(group_states(mark)) >= 5
    assert host.suspend(req.run_id).state == "suspended"  # repeating it changes nothing
    assert host.active() == 1

    assert host.resume(req.run_id).state == "running"
    await until(lambda: none_stopped(mark), what="the group running again")
    with pytest.raises(RunConflict, match="cannot resume"):
        host.resume(req.run_id)
    (host.layout.worktree(req.run_id) / "go").touch()
    status = await task
    assert status.state == "finished"
    assert status.agent is not None and status.agent.exit_code == 0
    assert (host.layout.worktree(req.run_id) / "done.txt").read_text() == "resumed\n"
    assert sleepers(mark) == []  # stragglers of a finished agent are killed too


async def test_a_suspend_before_the_process_starts_leaves_it_stopped(
    host: HostRuns, repo: Path
) -> None:
    mark = marker()
    # The mark is only an argument (of the shell, inside the sandbox's command line).
    req = request(repo, sh(f"echo started > started.txt; : {mark}"))
    task = asyncio.create_task(host.execute(req))
    await asyncio.sleep(0)  # the run is registered; its worktree is being made
    assert host.status(req.run_id).state == "preparing"
    assert host.suspend(req.run_id).state == "suspended"
    # The process is started stopped (every process of its group in state T) before the
    # agent could do anything.
    await until(lambda: all_stopped(mark), what="the stopped process")
    assert host.status(req.run_id).state == "suspended"
    assert not (host.layout.worktree(req.run_id) / "started.txt").exists()
    assert not task.done()
    assert host.resume(req.run_id).state == "running"
    status = await task
    assert status.state == "finished"
    assert status.agent is not None and status.agent.exit_code == 0
    assert (host.layout.worktree(req.run_id) / "started.txt").read_text() == "started\n"
    assert [f.path for f in status.changed_files] == ["started.txt"]


async def test_cancelling_the_awaiting_task_kills_the_group_and_removes_the_worktree(
    host: HostRuns, repo: Path
) -> None:
    mark = marker()
    req = request(repo, sh(f"sleep {mark} & sleep {mark}"), timeout_s=120)
    task = asyncio.create_task(host.execute(req))
    await until(lambda: len(sleepers(mark)) == 2, what="sleepers")
    worktree = host.layout.worktree(req.run_id)
    assert worktree.is_dir()
    # Cancelling a suspended run works too: SIGKILL reaches stopped processes.
    host.suspend(req.run_id)
    await until(lambda: all_stopped(mark), what="stopped")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sleepers(mark) == []
    assert group_states(mark) == {}
    assert not worktree.exists()
    assert str(worktree) not in git(repo, "worktree", "list")
    assert host.status(req.run_id).state == "canceled"
    assert host.active() == 0
    # Nothing to control any more; discarding is idempotent and forgets the run.
    with pytest.raises(RunConflict, match="canceled"):
        host.resume(req.run_id)
    await host.discard(req.run_id)
    await host.discard(req.run_id)
    with pytest.raises(RunNotFound):
        host.status(req.run_id)


async def test_gates_run_once_in_the_worktree_and_their_byproducts_are_not_the_change(
    host: HostRuns, repo: Path
) -> None:
    req = request(repo, sh("echo one > new.txt"), env={"AGENT_TOKEN": "agent-only"})
    done = await finished(host, req)
    gates = [
        GateSpec(name="has-file", argv=["cat", "new.txt"], covers=["A1"]),
        GateSpec(
            name="leaves-things",
            argv=sh(
                "mkdir -p .pytest_cache __pycache__ && touch .pytest_cache/x "
                "__pycache__/y.pyc && echo made > gate-made.txt && echo gate-out && "
                'echo "token=${AGENT_TOKEN:-none} run=$AGENCY_RUN_ID"'
            ),
        ),
        GateSpec(name="fails", argv=sh("echo broken >&2; exit 3")),
        GateSpec(name="slow", argv=["sleep", "30"], timeout_s=1),
    ]
    status = await host.run_gates(req.run_id, gates)
    assert status.state == "finished"
    assert [(g.name, g.passed, g.exit_code, g.timed_out) for g in status.gates] == [
        ("has-file", True, 0, False),
        ("leaves-things", True, 0, False),
        ("fails", False, 3, False),
        ("slow", False, -9, True),
    ]
    assert status.gates[0].covers == ["A1"]
    assert status.gates[0].output_tail == "one\n"
    # Gates get the base environment only, not the agent's variables.
    assert status.gates[1].output_tail == f"gate-out\ntoken=none run={req.run_id}\n"
    assert "broken" in status.gates[2].output_tail  # stderr is in the tail
    # The change is what the agent left: the gate's files are not in it.
    assert [f.path for f in status.changed_files] == ["new.txt"]
    assert (status.tree, status.diff, status.diff_sha256) == (
        done.tree,
        done.diff,
        done.diff_sha256,
    )
    assert (host.layout.worktree(req.run_id) / "gate-made.txt").exists()
    # Gates already ran: asking again returns them instead of running anything.
    again = await host.run_gates(req.run_id, [GateSpec(name="other", argv=["false"])])
    assert [g.name for g in again.gates] == ["has-file", "leaves-things", "fails", "slow"]


async def test_gate_output_tails_are_bounded(host: HostRuns, repo: Path) -> None:
    req = request(repo, ["true"])
    await finished(host, req)
    loud = GateSpec(name="loud", argv=[PY, "-c", "print('x' * 100_000); print('end')"])
    status = await host.run_gates(req.run_id, [loud])
    tail = status.gates[0].output_tail
    assert status.gates[0].passed and tail.endswith("end\n")
    assert len(tail) <= 20_000


async def test_gates_need_a_finished_run(host: HostRuns, repo: Path, tmp_path: Path) -> None:
    with pytest.raises(RunNotFound):
        await host.run_gates("never-started", [GateSpec(name="g", argv=["true"])])
    failed = await host.execute(request(tmp_path / "nowhere", ["true"]))
    assert failed.state == "failed"
    with pytest.raises(RunConflict, match="failed"):
        await host.run_gates(failed.run_id, [GateSpec(name="g", argv=["true"])])


async def test_control_that_does_not_apply_is_refused(host: HostRuns, repo: Path) -> None:
    req = request(repo, ["true"])
    await finished(host, req)
    with pytest.raises(RunConflict, match="finished"):
        host.suspend(req.run_id)
    with pytest.raises(RunConflict, match="finished"):
        host.resume(req.run_id)
    for control in (host.suspend, host.resume, host.status):
        with pytest.raises(RunNotFound):
            control("no-such-run")


async def test_a_bad_repository_or_ref_fails_the_run_with_the_reason(
    host: HostRuns, repo: Path, tmp_path: Path
) -> None:
    not_git = tmp_path / "not-git"
    not_git.mkdir()
    missing = await host.execute(request(tmp_path / "nowhere", ["true"]))
    plain = await host.execute(request(not_git, ["true"]))
    bad_ref = await host.execute(request(repo, ["true"], base_ref="no-such-branch"))
    bad_commit = await host.execute(request(repo, ["true"], base_commit="1" * 40))
    assert missing.state == "failed" and "does not exist" in (missing.error or "")
    assert plain.state == "failed" and "not a git repository" in (plain.error or "")
    assert bad_ref.state == "failed" and "no-such-branch" in (bad_ref.error or "")
    assert bad_commit.state == "failed" and "1" * 40 in (bad_commit.error or "")
    assert all(s.agent is None for s in (missing, plain, bad_ref, bad_commit))
    assert host.active() == 0


async def test_reap_removes_what_a_previous_process_left(
    make_host: MakeHost, repo: Path, tmp_path: Path
) -> None:
    earlier = await make_host()
    runs = [request(repo, sh("echo x > x.txt; echo said"), run_id=f"run-{n}") for n in "ab"]
    for req in runs:
        await finished(earlier, req)
    worktree = earlier.layout.worktree("run-a")
    logs = earlier.layout.run_logs("run-a")
    assert worktree.is_dir() and (logs / "agent.stdout").read_text() == "said\n"
    (earlier.layout.mirrors / "kept.git").mkdir()
    # The next process on the same directory: a new host that knows nothing of the runs.
    later = new_host(tmp_path / "data")
    assert await later.reap() == ["run-a", "run-b"]
    assert not worktree.exists() and not logs.exists()
    assert list(later.layout.workspaces.iterdir()) == []
    assert list(later.layout.logs.iterdir()) == []
    assert (later.layout.mirrors / "kept.git").is_dir()  # mirrors outlive the process
    git(repo, "worktree", "prune")
    assert str(worktree) not in git(repo, "worktree", "list")
    with pytest.raises(RunNotFound):
        later.status("run-a")
    assert await later.reap() == []


@pytest.mark.parametrize(
    ("argv", "env"),
    [(["tr\0ue"], {}), (["true"], {"BAD=NAME": "x"}), (["true"], {"X": "a\0b"})],
    ids=["nul-in-argv", "bad-env-name", "nul-in-env"],
)
async def test_a_command_that_cannot_be_started_ends_the_run(
    host: HostRuns, repo: Path, argv: list[str], env: dict[str, str]
) -> None:
    req = request(repo, argv, env=env)
    status = await host.execute(req)
    # Like a shell that cannot start a command: exit 127 and the reason, and the run ends.
    assert status.state in TERMINAL_STATES
    assert status.agent is not None and status.agent.exit_code == 127
    assert "cannot start" in status.agent.stderr_tail
    assert host.active() == 0
