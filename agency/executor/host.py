"""The runs of this executor host: worktrees, agent and gate processes, their control.

A run lives as long as this process: its worktree and its processes are here, and the
workflow reaches them through this host's own task queue. Nothing is persisted for a
restart, on purpose. A restarted executor is a new host with a new queue; the workflow
notices the old one is gone (heartbeat or schedule-to-start timeout) and starts the run
again elsewhere from the same base commit. What the old process left on disk is removed
by the next one (`reap`).

Every method is called from activities on the executor's event loop. A run's steps
(agent, gates) run inside the activity that asked for them, so canceling that activity
(Temporal cancellation, delivered with a heartbeat) kills the process group and discards
the worktree before the cancellation is reported.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path

from agency.executor import workspace
from agency.executor.environment import agent_env, gate_env
from agency.executor.layout import Layout
from agency.executor.patching import APPLY_ARGV, APPLY_DISPLAY, write_patch
from agency.executor.process import GroupProcess
from agency.executor.run import Run, RunConflict, RunNotFound, redacted
from agency.executor.sandbox import Sandbox
from agency.executor.schemas import (
    TERMINAL_STATES,
    ExecuteRequest,
    ProcessResult,
    RunState,
    RunStatus,
)
from agency.executor.secrets import MissingSecrets
from agency.executor.secrets import resolve as resolve_secrets
from agency.executor.source import SourceCache
from agency.executor.worktrees import remove_tree
from agency.redaction import Redactor
from agency.settings import Settings
from council.models import GateResult
from council.spec import GateSpec

log = logging.getLogger(__name__)

__all__ = ["HostRuns", "RunConflict", "RunNotFound"]


# GateResult.output_tail's bound.
_GATE_TAIL_CHARS = 20_000


class HostRuns:
    def __init__(self, settings: Settings, sandbox: Sandbox, layout: Layout) -> None:
        self._settings = settings
        self._sandbox = sandbox
        self._layout = layout
        self._sources = SourceCache(layout.mirrors)
        self._runs: dict[str, Run] = {}

    @property
    def sources(self) -> SourceCache:
        return self._sources

    @property
    def layout(self) -> Layout:
        return self._layout

    @property
    def sandbox(self) -> Sandbox:
        return self._sandbox

    # ------------------------------------------------------------------ lifecycle
    async def reap(self) -> list[str]:
        """Remove the worktrees and logs an earlier process left; returns their names.

        Their runs were lost with that process and have been (or will be) started again
        on some host; git forgets the worktrees at the repository's next `worktree prune`.
        """
        self._layout.ensure()
        removed: list[str] = []
        for directory in self._layout.ephemeral:
            for entry in sorted(directory.iterdir()):
                await asyncio.to_thread(remove_tree, entry)
                if directory == self._layout.workspaces:
                    removed.append(entry.name)
        return removed

    async def close(self) -> None:
        """Kill what still runs (the process is stopping); worktrees go at the next start."""
        for run in self._runs.values():
            if run.proc is not None:
                run.proc.kill()

    # ------------------------------------------------------------------ queries
    def active(self) -> int:
        return sum(1 for r in self._runs.values() if r.status.state not in TERMINAL_STATES)

    def status(self, run_id: str) -> RunStatus:
        return self._get(run_id).status.model_copy(deep=True)

    def output_bytes(self, run_id: str) -> int:
        """Bytes of output the run's current process has written (heartbeat detail)."""
        run = self._runs.get(run_id)
        if run is None or run.status.state not in ("running", "gating", "suspended"):
            return 0
        logs = self._layout.run_logs(run_id)
        return sum(p.stat().st_size for p in logs.glob("*") if p.is_file())

    # ------------------------------------------------------------------ execute
    async def execute(self, req: ExecuteRequest) -> RunStatus:
        """Make the worktree, run the agent, read the change. A second call for the same
        run id (a duplicate delivery) waits for the first and answers the same."""
        existing = self._runs.get(req.run_id)
        if existing is not None:
            await existing.agent_done.wait()
            return self.status(req.run_id)
        self._sandbox.check()
        run = Run(
            status=RunStatus(
                run_id=req.run_id,
                task_id=req.task_id,
                iteration=req.iteration,
                state="preparing",
                sandbox=self._sandbox.kind,
            ),
            request=req,
            network=self._settings.sandbox_network or req.network,
        )
        self._runs[req.run_id] = run
        try:
            await self._agent_step(run)
        except asyncio.CancelledError:
            await asyncio.shield(self._cancel(run))
            raise
        finally:
            run.agent_done.set()
        return self.status(req.run_id)

    async def _agent_step(self, run: Run) -> None:
        req, rid = run.request, run.request.run_id
        try:
            secrets = resolve_secrets(
                req.agent.secrets,
                secrets_dir=self._settings.secrets_dir,
                secrets_file=self._settings.secrets_file,
            )
        except MissingSecrets as exc:
            self._fail(run, str(exc))
            return
        run.redactor = Redactor(secrets)
        try:
            info = await workspace.create(
                self._sources, self._layout, rid, req.repo, req.base_ref, req.base_commit
            )
            run.info = info
            run.status.base_commit = info.base_commit
            run.status.default_target = info.default_target
            self._set_state(run, "running")
            logs = self._layout.run_logs(rid)
            argv, display, stdin = req.agent.argv, None, None
            if req.patch is not None:
                # A model-driven agent: its change is a drafted diff, applied in the sandbox.
                argv, display = list(APPLY_ARGV), list(APPLY_DISPLAY)
                stdin = write_patch(self._layout, rid, req.patch)
            run.status.agent = await self._process(
                run,
                argv,
                timeout_s=req.agent.timeout_s,
                env=agent_env(req, secrets),
                stdout=logs / "agent.stdout",
                stderr=logs / "agent.stderr",
                display_argv=display,
                stdin=stdin,
            )
            # The change is read before gates run, so what gates leave behind is not in it.
            collected = await workspace.collect(info, self._layout, rid)
        except workspace.WorkspaceError as exc:
            self._fail(run, str(exc))
            return
        except Exception as exc:
            # Whatever went wrong, the run ends (a run left "running" would hold a slot
            # of this host forever) and says why.
            log.exception("run %s failed inside the executor", rid)
            self._fail(run, f"internal executor error: {type(exc).__name__}: {exc}")
            return
        info.tree = collected.tree
        status = run.status
        status.tree = collected.tree
        status.changed_files = collected.changes.files
        status.lines_added = collected.changes.lines_added
        status.lines_removed = collected.changes.lines_removed
        # What leaves the host is redacted: a diff that wrote a secret into a file keeps a
        # marker where the value was (the technical judge refuses such a change).
        status.diff = run.redactor.data(collected.diff)
        status.diff_sha256 = hashlib.sha256(status.diff).hexdigest()
        status.redactions = dict(run.redactor.counts)
        if collected.unsafe:
            self._fail(run, "unsafe change: " + "; ".join(collected.unsafe))
            return
        self._set_state(run, "finished")

    # ------------------------------------------------------------------ gates
    async def run_gates(self, run_id: str, gates: list[GateSpec]) -> RunStatus:
        """Run the gates in the finished run's worktree, once; a repeat answers the same."""
        run = self._get(run_id)
        if run.gates_ran:
            return self.status(run_id)
        if run.status.state != "finished":
            raise RunConflict(f"cannot run gates: run {run_id} is {run.status.state}")
        if run.info is None:
            raise RunConflict(f"cannot run gates: run {run_id} has no worktree")
        run.gates_ran = True
        # The one transition out of a terminal state: finished -> gating -> finished.
        self._set_state(run, "gating")
        try:
            await self._gates(run, gates)
        except asyncio.CancelledError:
            await asyncio.shield(self._cancel(run))
            raise
        self._set_state(run, "finished")
        return self.status(run_id)

    async def _gates(self, run: Run, gates: list[GateSpec]) -> None:
        logs = self._layout.run_logs(run.status.run_id)
        for i, gate in enumerate(gates):
            result = await self._process(
                run,
                gate.argv,
                timeout_s=gate.timeout_s,
                env=gate_env(run.request),
                stdout=logs / f"gate-{i}.out",
                stderr=None,
                cap_bytes=min(self._settings.output_cap_bytes, _GATE_TAIL_CHARS),
            )
            run.status.gates.append(
                GateResult(
                    name=gate.name,
                    argv=gate.argv,
                    exit_code=result.exit_code,
                    passed=result.exit_code == 0 and not result.timed_out,
                    timed_out=result.timed_out,
                    duration_s=result.duration_s,
                    output_tail=result.stdout_tail[-_GATE_TAIL_CHARS:],
                    covers=gate.covers,
                )
            )

    async def _process(
        self,
        run: Run,
        argv: list[str],
        *,
        timeout_s: int,
        env: dict[str, str],
        stdout: Path,
        stderr: Path | None,
        cap_bytes: int | None = None,
        display_argv: list[str] | None = None,
        stdin: Path | None = None,
    ) -> ProcessResult:
        assert run.info is not None
        worktree = Path(run.info.worktree)
        proc = GroupProcess(
            self._sandbox.wrap(
                argv,
                worktree,
                network=run.network,
                readable=[Path(run.info.source), Path(run.info.git_dir)],
            ),
            cwd=worktree,
            env=env,
            timeout_s=timeout_s,
            stdout_path=stdout,
            stderr_path=stderr,
            cap_bytes=cap_bytes or self._settings.output_cap_bytes,
            display_argv=display_argv or argv,
            stdin_path=stdin,
        )
        if run.suspend_requested:
            proc.suspend()
        run.proc = proc
        try:
            result = await proc.run()
        finally:
            run.proc = None
        return await redacted(run, result, [stdout, *([stderr] if stderr else [])])

    # ------------------------------------------------------------------ control
    def suspend(self, run_id: str) -> RunStatus:
        """SIGSTOP the run's process group (or stop it as soon as it starts)."""
        run = self._get(run_id)
        state = run.status.state
        if state == "suspended" or run.suspend_requested:
            return self.status(run_id)
        if state not in ("preparing", "running", "gating"):
            raise RunConflict(f"cannot suspend: run {run_id} is {state}")
        run.suspend_requested = True
        if run.proc is not None:
            run.proc.suspend()
        run.resume_state = state
        self._set_state(run, "suspended")
        return self.status(run_id)

    def resume(self, run_id: str) -> RunStatus:
        """SIGCONT the run's process group."""
        run = self._get(run_id)
        if run.status.state != "suspended":
            raise RunConflict(f"cannot resume: run {run_id} is {run.status.state}")
        run.suspend_requested = False
        if run.proc is not None:
            run.proc.resume()
        self._set_state(run, run.resume_state or "running")
        run.resume_state = None
        return self.status(run_id)

    async def _cancel(self, run: Run) -> None:
        """After a cancellation reached the step: the process group is already killed
        (GroupProcess does it on the way out); mark the run and drop its worktree."""
        self._set_state(run, "canceled")
        await self._discard_worktree(run)

    async def discard(self, run_id: str) -> None:
        """Kill whatever still runs and remove the worktree and logs. Unknown runs are
        fine: discarding is idempotent."""
        run = self._runs.pop(run_id, None)
        if run is None:
            return
        if run.proc is not None:
            run.proc.kill()
        await self._discard_worktree(run)
        for leftover in (self._layout.run_logs(run_id), self._layout.run_objects(run_id)):
            await asyncio.to_thread(remove_tree, leftover)

    async def _discard_worktree(self, run: Run) -> None:
        if run.info is not None:
            await workspace.discard(run.info)
            run.info = None
        else:
            # Canceled while the worktree was being made: remove whatever got that far.
            await asyncio.to_thread(remove_tree, self._layout.worktree(run.status.run_id))

    # ------------------------------------------------------------------ helpers
    def _get(self, run_id: str) -> Run:
        run = self._runs.get(run_id)
        if run is None:
            raise RunNotFound(f"no run {run_id!r} on this executor")
        return run

    def _set_state(self, run: Run, state: RunState) -> None:
        if run.status.state in ("failed", "canceled"):
            return  # final: a late transition must not revive a run
        if run.suspend_requested and state in ("running", "gating"):
            # Paused before this step began: its process starts stopped.
            run.resume_state = state
            state = "suspended"
        run.status.state = state

    def _fail(self, run: Run, error: str) -> None:
        run.status.error = error
        self._set_state(run, "failed")
