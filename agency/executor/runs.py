"""The run registry: one run per run_id, driven from request to finished, persisted throughout.

A run's background task owns its state transitions; control requests (suspend, resume,
cancel) act on the live process group and leave a flag the task honours. Every change
is saved before it is visible, so a restart never forgets a run or runs an agent twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from agency.executor import workspace
from agency.executor.apply import ApplyConflict, ApplyPlan, ApplyRefused, apply_change
from agency.executor.environment import agent_env, gate_env
from agency.executor.errors import ApplyConflictProblem, Conflict, Invalid, NotFound, Unavailable
from agency.executor.layout import Layout
from agency.executor.patching import APPLY_ARGV, APPLY_DISPLAY, write_patch
from agency.executor.paths import run_id_problem
from agency.executor.process import GroupProcess
from agency.executor.sandbox import Sandbox, SandboxUnavailable
from agency.executor.schemas import (
    TERMINAL_STATES,
    ApplyRequest,
    ApplyResult,
    ExecuteRequest,
    ProcessResult,
    RunState,
    RunStatus,
)
from agency.executor.source import SourceCache
from agency.executor.store import RunRecord, RunStore
from agency.settings import Settings
from council.models import GateResult
from council.spec import GateSpec

log = logging.getLogger(__name__)

RESTARTED = "executor restarted during the run"
# GateResult.output_tail's bound.
_GATE_TAIL_CHARS = 20_000
# How long a cancel request waits for the run to settle before answering.
_CANCEL_SETTLE_S = 30.0


class _CancelRequested(Exception):
    """Raised inside a run's task at a checkpoint after a cancel request."""


class RunManager:
    def __init__(self, settings: Settings, sandbox: Sandbox, layout: Layout) -> None:
        self._settings = settings
        self._sandbox = sandbox
        self._layout = layout
        self._store = RunStore(layout.runs)
        self._sources = SourceCache(layout.mirrors)
        self._records: dict[str, RunRecord] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._procs: dict[str, GroupProcess] = {}
        self._changed: dict[str, asyncio.Event] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._cancel_requested: set[str] = set()
        self._create_lock = asyncio.Lock()
        self._closing = False

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self._layout.ensure()
        for record in self._store.load_all():
            if record.status.state not in TERMINAL_STATES:
                # Its processes died with the previous executor (bwrap --die-with-parent).
                record.status.state = "failed"
                record.status.error = RESTARTED
                self._store.save(record)
            self._records[record.status.run_id] = record

    async def close(self) -> None:
        """Stop every run's processes; their records stay non-terminal (see start())."""
        self._closing = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ------------------------------------------------------------------ queries
    def status(self, run_id: str) -> RunStatus:
        return self._get(run_id).status.model_copy(deep=True)

    def active_runs(self) -> int:
        return sum(1 for r in self._records.values() if r.status.state not in TERMINAL_STATES)

    async def wait(self, run_id: str, wait_s: float, since: RunState | None = None) -> RunStatus:
        """The status once its state differs from `since` (default: the state now), or after
        `wait_s` seconds. A terminal run answers at once: there is nothing left to wait for.

        Passing the state last seen closes the gap between two polls: a change that happened
        in between is answered immediately instead of waiting for the next one.
        """
        record = self._get(run_id)
        initial = since or record.status.state
        deadline = time.monotonic() + wait_s
        while record.status.state == initial and record.status.state not in TERMINAL_STATES:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            event = self._changed.setdefault(run_id, asyncio.Event())
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                break
        return self.status(run_id)

    def artifact_path(self, artifact_id: str) -> Path:
        if run_id_problem(artifact_id):
            raise NotFound(f"no artifact {artifact_id!r}")
        path = self._layout.artifact(artifact_id)
        if not path.is_file():
            raise NotFound(f"no artifact {artifact_id!r}")
        return path

    # ------------------------------------------------------------------ execute
    async def execute(self, req: ExecuteRequest) -> tuple[RunStatus, bool]:
        """Start a run, or return the existing one with that id (created=False)."""
        async with self._create_lock:
            if req.run_id in self._records:
                return self.status(req.run_id), False
            try:
                self._sandbox.check()
            except SandboxUnavailable as exc:
                raise Unavailable(str(exc)) from exc
            record = RunRecord(
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
            self._records[req.run_id] = record
            self._save(record)
            self._spawn(req.run_id, self._run(record))
            return self.status(req.run_id), True

    def _spawn(self, run_id: str, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro, name=f"run-{run_id}")
        self._tasks[run_id] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._tasks.get(run_id) is done:
                del self._tasks[run_id]

        task.add_done_callback(forget)

    async def _run(self, record: RunRecord) -> None:
        req = record.request
        rid = req.run_id
        try:
            info = await workspace.create(
                self._sources, self._layout, rid, req.repo, req.base_ref, req.base_commit
            )
            record.workspace = info
            record.status.base_commit = info.base_commit
            self._checkpoint(rid)
            self._set_state(record, "running")
            logs = self._layout.run_logs(rid)
            argv, display, stdin = req.agent.argv, None, None
            if req.patch is not None:
                # A model-driven agent: its change is a drafted diff, applied in the sandbox.
                argv, display = list(APPLY_ARGV), list(APPLY_DISPLAY)
                stdin = write_patch(self._layout, rid, req.patch)
            record.status.agent = await self._process(
                record,
                argv,
                timeout_s=req.agent.timeout_s,
                env=agent_env(req),
                stdout=logs / "agent.stdout",
                stderr=logs / "agent.stderr",
                display_argv=display,
                stdin=stdin,
            )
            self._save(record)
            self._checkpoint(rid)
            # The change is read before gates run, so what gates leave behind is not in it.
            collected = await workspace.collect(info, self._layout, rid)
            record.workspace.tree = collected.tree
            status = record.status
            status.changed_files = collected.changes.files
            status.lines_added = collected.changes.lines_added
            status.lines_removed = collected.changes.lines_removed
            status.diff_artifact = rid
            status.diff_sha256 = collected.diff_sha256
            if collected.unsafe:
                self._fail(record, "unsafe change: " + "; ".join(collected.unsafe))
                return
            self._checkpoint(rid)
            if req.gates:
                record.gates_ran = True
                await self._gates(record, req.gates)
            self._set_state(record, "finished")
        except (asyncio.CancelledError, _CancelRequested):
            if self._closing:
                raise
            await self._mark_canceled(record)
        except workspace.WorkspaceError as exc:
            self._fail(record, str(exc))
        except Exception as exc:
            log.exception("run %s failed inside the executor", rid)
            self._fail(record, f"internal executor error: {type(exc).__name__}: {exc}")

    # ------------------------------------------------------------------ gates
    async def run_gates(self, run_id: str, gates: list[GateSpec]) -> tuple[RunStatus, bool]:
        """Run gates in the finished run's worktree; if gates ran already, return that."""
        record = self._get(run_id)
        async with self._lock(run_id):
            state = record.status.state
            if record.gates_ran or state == "gating":
                return self.status(run_id), False
            if state != "finished":
                raise Conflict(f"cannot run gates: run is {state}")
            if record.status.discarded or record.workspace is None:
                raise Conflict("cannot run gates: the worktree was discarded")
            record.gates_ran = True
            # The one transition out of a terminal state: finished -> gating -> finished.
            record.status.state = "gating"
            self._save(record)
            self._spawn(run_id, self._gates_task(record, gates))
            return self.status(run_id), True

    async def _gates_task(self, record: RunRecord, gates: list[GateSpec]) -> None:
        try:
            await self._gates(record, gates)
            self._set_state(record, "finished")
        except (asyncio.CancelledError, _CancelRequested):
            if self._closing:
                raise
            await self._mark_canceled(record)
        except Exception as exc:
            log.exception("gates of run %s failed inside the executor", record.status.run_id)
            self._fail(record, f"internal executor error: {type(exc).__name__}: {exc}")

    async def _gates(self, record: RunRecord, gates: list[GateSpec]) -> None:
        rid = record.status.run_id
        self._set_state(record, "gating")
        logs = self._layout.run_logs(rid)
        for i, gate in enumerate(gates):
            result = await self._process(
                record,
                gate.argv,
                timeout_s=gate.timeout_s,
                env=gate_env(record.request),
                stdout=logs / f"gate-{i}.out",
                stderr=None,
                cap_bytes=min(self._settings.output_cap_bytes, _GATE_TAIL_CHARS),
            )
            self._checkpoint(rid)
            record.status.gates.append(
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
            self._save(record)

    async def _process(
        self,
        record: RunRecord,
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
        rid = record.status.run_id
        assert record.workspace is not None
        worktree = Path(record.workspace.worktree)
        proc = GroupProcess(
            self._sandbox.wrap(
                argv,
                worktree,
                network=record.network,
                readable=[Path(record.workspace.source), Path(record.workspace.git_dir)],
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
        self._procs[rid] = proc
        try:
            return await proc.run()
        finally:
            self._procs.pop(rid, None)

    # ------------------------------------------------------------------ control
    async def suspend(self, run_id: str) -> RunStatus:
        record = self._get(run_id)
        state = record.status.state
        proc = self._procs.get(run_id)
        if state not in ("running", "gating") or proc is None:
            raise Conflict(f"cannot suspend: run is {state}, no process is running")
        proc.suspend()
        record.resume_state = state
        self._set_state(record, "suspended")
        return self.status(run_id)

    async def resume(self, run_id: str) -> RunStatus:
        record = self._get(run_id)
        state = record.status.state
        proc = self._procs.get(run_id)
        if state != "suspended" or proc is None:
            raise Conflict(f"cannot resume: run is {state}, not suspended")
        proc.resume()
        self._set_state(record, record.resume_state or "running")
        record.resume_state = None
        self._save(record)
        return self.status(run_id)

    async def cancel(self, run_id: str) -> RunStatus:
        """Kill the run's process group and mark it canceled; a finished run is left as is."""
        record = self._get(run_id)
        if record.status.state in TERMINAL_STATES:
            return self.status(run_id)
        self._cancel_requested.add(run_id)
        task = self._tasks.get(run_id)
        proc = self._procs.get(run_id)
        if proc is not None:
            proc.kill()  # the task sees the flag when the process returns
        elif task is not None:
            task.cancel()  # preparing or between steps: interrupt git
        if task is not None:
            await asyncio.wait({task}, timeout=_CANCEL_SETTLE_S)
        if record.status.state not in TERMINAL_STATES:
            await self._mark_canceled(record)
        return self.status(run_id)

    async def _mark_canceled(self, record: RunRecord) -> None:
        self._set_state(record, "canceled")
        # A canceled run's worktree has no further use (DESIGN §4: cancel discards it).
        await self._discard_worktree(record)

    # ------------------------------------------------------------------ apply / discard
    async def apply(self, run_id: str, req: ApplyRequest) -> ApplyResult:
        record = self._get(run_id)
        async with self._lock(run_id):
            if record.apply_result is not None:
                return record.apply_result
            state = record.status.state
            if state != "finished":
                raise Conflict(f"cannot apply: run is {state}")
            info = record.workspace
            if info is None or info.tree is None or not record.status.changed_files:
                raise Conflict("cannot apply: the run changed no files")
            if record.apply_date is None:
                record.apply_date = f"{int(time.time())} +0000"
                self._save(record)

            async def remember(commit: str) -> None:
                if commit not in record.apply_known:
                    record.apply_known.append(commit)
                    self._save(record)

            plan = ApplyPlan(
                info=info,
                request=req,
                date=record.apply_date,
                scratch=self._layout.scratch(run_id),
                known=tuple(record.apply_known),
            )
            try:
                result = await apply_change(plan, remember)
            except ApplyRefused as exc:
                raise Invalid(str(exc)) from exc
            except ApplyConflict as exc:
                raise ApplyConflictProblem(str(exc)) from exc
            record.apply_result = result
            record.status.applied_commit = result.commit
            self._save(record)
            return result

    async def discard(self, run_id: str) -> RunStatus:
        record = self._get(run_id)
        if record.status.state not in TERMINAL_STATES:
            await self.cancel(run_id)  # canceling discards the worktree too
        async with self._lock(run_id):
            await self._discard_worktree(record)
        return self.status(run_id)

    async def _discard_worktree(self, record: RunRecord) -> None:
        if record.status.discarded:
            return
        if record.workspace is not None:
            await workspace.discard(record.workspace)
        else:
            # Canceled while the worktree was being made: remove whatever got that far (git
            # forgets its metadata at the repository's next `worktree prune`).
            await asyncio.to_thread(
                workspace.remove_tree, self._layout.worktree(record.status.run_id)
            )
        record.status.discarded = True
        self._save(record)

    # ------------------------------------------------------------------ helpers
    def _get(self, run_id: str) -> RunRecord:
        record = self._records.get(run_id)
        if record is None:
            raise NotFound(f"no run {run_id!r}")
        return record

    def _lock(self, run_id: str) -> asyncio.Lock:
        return self._locks.setdefault(run_id, asyncio.Lock())

    def _checkpoint(self, run_id: str) -> None:
        if run_id in self._cancel_requested:
            raise _CancelRequested

    def _set_state(self, record: RunRecord, state: RunState) -> None:
        if record.status.state in TERMINAL_STATES:
            return  # terminal states are final (a late transition must not revive a run)
        record.status.state = state
        self._save(record)

    def _fail(self, record: RunRecord, error: str) -> None:
        record.status.error = error
        self._set_state(record, "failed")

    def _save(self, record: RunRecord) -> None:
        self._store.save(record)
        # Wake long-polls; they pick a fresh event for the next change.
        event = self._changed.pop(record.status.run_id, None)
        if event is not None:
            event.set()
