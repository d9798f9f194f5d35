"""The task workflow on a real Temporal dev server, with a real executor, git and SQLite."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import CancelledError
from temporalio.testing import WorkflowEnvironment

from domain.interventions import (
    GuidanceInput,
    Intervention,
    InterventionAck,
    OverrideInput,
    ParametersInput,
)
from tests.support.harness import Harness, harness, live_state_json, state_of
from tests.support.repos import git


async def wait_for(predicate, within: float = 30.0, interval: float = 0.1) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(interval)
    raise AssertionError("condition not reached in time")


async def wait_phase(handle: WorkflowHandle, phase: str, within: float = 30.0) -> None:
    async def reached() -> bool:
        return (await state_of(handle)).phase == phase

    await wait_for(reached, within)


def scripted_agent(scenario: str, timeout_s: int = 60, **env: str) -> dict[str, object]:
    """The repository's scripted agent (tests/support/repos.py) playing `scenario`."""
    return {
        "argv": ["python3", "tools/agent.py"],
        "timeout_s": timeout_s,
        "env": {"AGENT_SCENARIO": scenario, **env},
    }


def first_run_id(handle: WorkflowHandle) -> str:
    """The run of the first iteration's first attempt (`<workflow run>-<iteration>-<attempt>`)."""
    return f"{handle.result_run_id}-1-1"


def agent_stdout(h: Harness, handle: WorkflowHandle) -> Path:
    """The executor's log of the first iteration's agent output (it prints progress)."""
    return h.settings.executor_data_dir / "logs" / first_run_id(handle) / "agent.stdout"


def run_process_states(run_id: str) -> list[str]:
    """The states (R, S, T, ...) of the live processes of a run: those whose environment
    names it (the sandbox and everything inside it get AGENCY_RUN_ID)."""
    marker = f"AGENCY_RUN_ID={run_id}".encode()
    states: list[str] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry.name}/environ").read_bytes().split(b"\0")
            stat = Path(f"/proc/{entry.name}/stat").read_bytes()
        except OSError:
            continue
        state = stat[stat.rfind(b")") + 2 :].split()[0].decode()
        if marker in environ and state not in ("Z", "X"):
            states.append(state)
    return states


def lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


async def test_auto_task_is_judged_and_applied(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with harness(dev_env.client, tmp_path) as h:
        before = git(h.repo, "rev-parse", "main")
        handle = await h.start()
        result = await handle.result()

        assert result.phase == "completed", result.error
        assert {j.judge: j.verdict for j in result.verdicts} == {
            "constitutional": "pass",
            "technical": "pass",
            "quality": "pass",
            "integration": "pass",
        }
        assert result.applied_commit == git(h.repo, "rev-parse", "main")
        assert git(h.repo, "rev-parse", "main^") == before
        message = git(h.repo, "log", "-1", "--format=%B", "main")
        assert f"Agency-Task: {handle.id.removeprefix('task-')}" in message
        # The work tree of the checked-out branch moved with it.
        assert "def triple" in (h.repo / "src" / "calc.py").read_text()
        audit = await h.audit(handle)
        actions = [a.action for a in audit]  # type: ignore[attr-defined]
        assert actions[0] == "submitted" and actions[-1] == "completed"
        assert [a.seq for a in audit] == list(range(1, len(audit) + 1))  # type: ignore[attr-defined]


async def test_pause_suspends_the_agent_and_resume_continues(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with harness(dev_env.client, tmp_path) as h:
        handle = await h.start(
            agent=scripted_agent("slow", timeout_s=120, AGENT_SECONDS="4"),
        )
        progress = agent_stdout(h, handle)
        await wait_for(lambda: _async(lines(progress) >= 3))
        ack = await handle.execute_update(
            "pause", Intervention(actor="alice", reason="look first"), result_type=InterventionAck
        )
        assert ack.accepted
        # The update answers once the host sent SIGSTOP to the process group: every process
        # of the run (the sandbox and the agent inside it) stops as the kernel delivers it.
        run_id = first_run_id(handle)
        await wait_for(lambda: _async(set(run_process_states(run_id)) == {"T"}), within=5)
        frozen = lines(progress)
        state = await state_of(handle)
        assert state.paused and state.phase == "executing"

        await handle.execute_update(
            "resume", Intervention(actor="alice"), result_type=InterventionAck
        )
        await wait_for(lambda: _async("T" not in run_process_states(run_id)), within=5)
        await wait_for(lambda: _async(lines(progress) > frozen))
        result = await handle.result()
        assert result.phase == "completed", result.error
        audit = await h.audit(handle)
        assert [(a.action, a.actor) for a in audit if a.action in ("pause", "resume")] == [  # type: ignore[attr-defined]
            ("pause", "alice"),
            ("resume", "alice"),
        ]


async def test_resume_when_not_paused_is_refused_with_the_reason(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with harness(dev_env.client, tmp_path) as h:
        handle = await h.start(
            agent=scripted_agent("slow", timeout_s=120, AGENT_SECONDS="2"),
        )
        from temporalio.client import WorkflowUpdateFailedError

        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await handle.execute_update(
                "resume", Intervention(actor="bob"), result_type=InterventionAck
            )
        assert "not paused" in str(caught.value.cause)
        assert (await handle.result()).phase == "completed"


async def test_interventions_that_hold_a_task_are_bounded_and_the_way_out_stays_open(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    from temporalio.client import WorkflowUpdateFailedError

    async with harness(dev_env.client, tmp_path) as h:
        handle = await h.start(max_holding_interventions=3, execution_mode="strict")
        await wait_phase(handle, "awaiting_approval")

        async def update(name: str, inp: Intervention) -> InterventionAck:
            ack: InterventionAck = await handle.execute_update(
                name, inp, result_type=InterventionAck
            )
            return ack

        await update("pause", Intervention(actor="ann"))
        await update("resume", Intervention(actor="ann"))
        await update("guidance", GuidanceInput(actor="ann", text="keep it small"))
        await update("parameters", ParametersInput(actor="ann", max_iterations=3))
        for name, inp in (
            ("pause", Intervention(actor="ann")),
            ("guidance", GuidanceInput(actor="ann", text="once more")),
        ):
            with pytest.raises(WorkflowUpdateFailedError) as caught:
                await update(name, inp)
            assert "has taken 3" in str(caught.value.cause), name
        # The way out is never refused for the number: the approval is decided and the
        # task completes.
        assert (await update("approve", Intervention(actor="ann"))).accepted
        result = await handle.result()
        assert result.phase == "completed", result.error
        audit = [a.action for a in await h.audit(handle)]  # type: ignore[attr-defined]
        # Refused updates leave nothing behind: four interventions taken, one approval.
        assert [a for a in audit if a in ("pause", "resume", "guidance", "parameters")] == [
            "pause",
            "resume",
            "guidance",
            "parameters",
        ]
        assert "approve" in audit


async def test_cancel_kills_the_agent_and_audits_canceled(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with harness(dev_env.client, tmp_path) as h:
        head = git(h.repo, "rev-parse", "main")
        handle = await h.start(
            agent=scripted_agent("slow", timeout_s=120, AGENT_SECONDS="60"),
        )
        progress = agent_stdout(h, handle)
        await wait_for(lambda: _async(lines(progress) >= 3))
        await handle.signal("cancel", Intervention(actor="carol", reason="wrong repo"))
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
        assert isinstance(caught.value.cause, CancelledError)
        # The cancellation completed after the host killed the run's process group:
        # nothing of the run is alive any more (the sandbox and the agent inside it).
        run_id = first_run_id(handle)
        await wait_for(lambda: _async(run_process_states(run_id) == []), within=5)
        audit = await h.audit(handle)
        last = audit[-1]
        assert (last.action, last.actor, last.phase) == ("canceled", "carol", "canceled")  # type: ignore[attr-defined]
        assert git(h.repo, "rev-parse", "main") == head


async def test_override_replaces_a_council_veto(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with harness(dev_env.client, tmp_path) as h:
        handle = await h.start(
            agent=scripted_agent("slow", timeout_s=120, AGENT_SECONDS="2", AGENT_ALSO_DOCS="1"),
        )
        progress = agent_stdout(h, handle)
        await wait_for(lambda: _async(lines(progress) >= 1))
        await handle.execute_update(
            "override",
            OverrideInput(actor="dana", verdict="approve", reason="docs change agreed in review"),
            result_type=InterventionAck,
        )
        result = await handle.result()
        assert result.phase == "completed", result.error
        constitutional = next(j for j in result.verdicts if j.judge == "constitutional")
        assert constitutional.verdict == "fail"  # the rules still say what they saw
        assert "docs/ops.md" in git(h.repo, "show", "--name-only", "--format=", "main")
        audit = await h.audit(handle)
        override = next(a for a in audit if a.action == "override")  # type: ignore[attr-defined]
        assert override.actor == "dana" and override.detail["reason"]  # type: ignore[attr-defined]
        # The decision the override replaced reached the projection, as the state has it.
        state = await state_of(handle)
        assert state.decision is not None and state.decision.outcome == "approve"
        assert state.decision.reasons[0].startswith("overridden by dana")
        assert await h.projected_state(handle) == live_state_json(state)


async def test_out_of_scope_change_is_vetoed_and_not_applied(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with harness(dev_env.client, tmp_path) as h:
        head = git(h.repo, "rev-parse", "main")
        handle = await h.start(
            agent=scripted_agent("out_of_scope", timeout_s=60),
        )
        result = await handle.result()
        assert result.phase == "rejected"
        constitutional = next(j for j in result.verdicts if j.judge == "constitutional")
        assert any(
            v.severity == "critical" and "docs/ops.md" in v.detail
            for v in constitutional.violations
        )
        assert git(h.repo, "rev-parse", "main") == head


async def test_refine_loop_feeds_back_and_succeeds(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with harness(dev_env.client, tmp_path) as h:
        handle = await h.start(
            agent=scripted_agent("refine", timeout_s=60),
            max_iterations=3,
        )
        result = await handle.result()
        assert result.phase == "completed", result.error
        assert result.iterations == 2
        state = await state_of(handle)
        outcomes = [(r.stage, r.iteration, r.decision.outcome) for r in state.rounds]
        assert outcomes == [
            ("plan", 0, "approve"),
            ("result", 1, "refine"),
            ("result", 2, "approve"),
        ]
        # Every round, the last decision and execution are in the projection too (a read
        # of the task answers from it alone), each round once.
        projected = await h.projected_state(handle)
        assert projected == live_state_json(state)
        assert projected["execution"]["gates"], "the gates' results are kept"


async def test_the_history_holds_the_spec_s_governance_text_once(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    marker = "INVARIANT-" + "x" * 2000
    async with harness(dev_env.client, tmp_path) as h:
        handle = await h.start(
            agent=scripted_agent("refine", timeout_s=60),
            max_iterations=3,
            invariants=[marker],
        )
        result = await handle.result()
        assert result.phase == "completed" and result.iterations == 2, result.error
        history = await handle.fetch_history()
    stored = b"".join(event.SerializeToString() for event in history.events)
    # In the task's input only: two iterations' runs and gates carry the spec without it.
    assert stored.count(marker.encode()) == 1


async def test_dry_run_applies_nothing(dev_env: WorkflowEnvironment, tmp_path: Path) -> None:
    async with harness(dev_env.client, tmp_path) as h:
        head = git(h.repo, "rev-parse", "main")
        handle = await h.start(execution_mode="dry_run")
        result = await handle.result()
        assert result.phase == "completed" and result.applied_commit is None
        assert git(h.repo, "rev-parse", "main") == head
        assert git(h.repo, "worktree", "list").count("\n") == 0  # only the main work tree


async def _async(value: bool) -> bool:
    return value


async def test_the_temporal_cli_pauses_and_resumes_like_the_api(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    from tests.support.harness import TEMPORAL_BIN

    async with harness(dev_env.client, tmp_path) as h:
        handle = await h.start(
            agent=scripted_agent("slow", timeout_s=120, AGENT_SECONDS="3"),
        )
        progress = agent_stdout(h, handle)
        await wait_for(lambda: _async(lines(progress) >= 2))
        address = dev_env.client.service_client.config.target_host

        async def temporal(*args: str) -> None:
            proc = await asyncio.create_subprocess_exec(
                str(TEMPORAL_BIN),
                "workflow",
                *args,
                "--address",
                address,
                "--workflow-id",
                handle.id,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await proc.communicate()
            assert proc.returncode == 0, (out + err).decode()

        await temporal("signal", "--name", "pause")  # no input: the actor is "temporal-cli"
        await wait_for(lambda: _paused(handle))
        # A signal is not answered: the control activity follows it. Every process of the
        # run stops once it has run.
        run_id = first_run_id(handle)
        await wait_for(lambda: _async(set(run_process_states(run_id)) == {"T"}), within=10)
        await temporal("signal", "--name", "resume", "--input", '{"actor": "ops", "reason": "ok"}')
        result = await handle.result()
        assert result.phase == "completed", result.error
        audit = await h.audit(handle)
        assert [(a.action, a.actor) for a in audit if a.action in ("pause", "resume")] == [  # type: ignore[attr-defined]
            ("pause", "temporal-cli"),
            ("resume", "ops"),
        ]


async def _paused(handle: WorkflowHandle) -> bool:
    return (await state_of(handle)).paused


async def test_an_approved_change_of_nothing_completes_without_a_commit(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with harness(dev_env.client, tmp_path) as h:
        head = git(h.repo, "rev-parse", "main")
        handle = await h.start(
            mode="chore",
            agent=scripted_agent("noop"),
        )
        result = await handle.result()
        assert result.phase == "completed", result.error
        assert result.applied_commit is None
        assert git(h.repo, "rev-parse", "main") == head
        actions = [a.action for a in await h.audit(handle)]  # type: ignore[attr-defined]
        assert "nothing_to_apply" in actions and "apply" not in actions
