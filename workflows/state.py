"""What the task workflow knows about its task while it runs.

One object, passed to every phase: the phases change it, the interventions change it,
and the `state` query reads it. Rebuilt identically on replay, since only the workflow's
deterministic code touches it.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from council.models import Decision, Judgment
    from domain.activities import ValidationOutcome
    from domain.execution import ExecutionSummary, ExecutorClaim
    from domain.interventions import Intervention, OverrideInput
    from domain.phases import Phase
    from domain.task import Round, TaskInput, TaskResult, TaskState


class TaskRun:
    def __init__(self, inp: TaskInput) -> None:
        self.inp = inp
        self.spec = inp.spec
        self.phase: Phase = "queued"
        self.iteration = 0
        # Both may be changed by a human (the `parameters` intervention).
        self.max_iterations = inp.spec.max_iterations
        self.risk_tier = inp.spec.risk_tier
        self.validation: ValidationOutcome | None = None
        self.base_commit: str | None = None
        # The council's latest word and every round of it.
        self.rounds: list[Round] = []
        self.verdicts: list[Judgment] = []
        self.decision: Decision | None = None
        # Human interventions waiting to be taken into account.
        self.paused = False
        self.pending_action: str | None = None
        # When an approval still awaited stops being awaited (shown in the Temporal UI).
        self.approval_deadline: datetime | None = None
        self.human_decision: Intervention | None = None
        self.human_verdict: str | None = None
        self.override: OverrideInput | None = None
        self.guidance: list[str] = []
        self.cancel_by: Intervention | None = None
        # Interventions taken that hold or steer the task (bounded: interventions.py).
        self.holding_interventions = 0
        # The executor host of the current run, and how many hosts this task lost.
        self.host: ExecutorClaim | None = None
        self.hosts_lost = 0
        self.lost_queues: set[str] = set()
        # The run whose agent or gates are running now (a pause suspends it).
        self.active_run_id: str | None = None
        self.executing = False
        self.execution: ExecutionSummary | None = None
        self.applied_commit: str | None = None
        self.last_error: str | None = None
        # The last worktree's discard, when it runs beside the end of the task
        # (phases/finish.py); awaited before the workflow returns.
        self.discarding: asyncio.Task[None] | None = None
        # When the last record happened, as stored: the first attempt's time even when a
        # retried workflow task made the record again (judging.py judges at it).
        self.recorded_at: datetime | None = None
        # The sequence number of the last record written (recording.py).
        self.seq = 0
        # What the records have put in the projection of the state above that no patch
        # names (recording.py, live_changes): the decision and execution last projected,
        # and how many rounds.
        self.projected_decision: Decision | None = None
        self.projected_execution: ExecutionSummary | None = None
        self.projected_rounds = 0

    @property
    def task_id(self) -> str:
        return self.inp.task_id

    async def discarded(self) -> None:
        """Wait for a discard still running beside the end of the task. The task's
        outcome is settled by then: a cancellation arriving now does not change it."""
        while self.discarding is not None and not self.discarding.done():
            try:
                await asyncio.shield(self.discarding)
            except asyncio.CancelledError:
                continue

    async def safe_point(self) -> None:
        """Where a pause takes effect between steps."""
        if self.paused:
            await workflow.wait_condition(lambda: not self.paused)

    def snapshot(self) -> TaskState:
        return TaskState(
            task_id=self.inp.task_id,
            caws_id=self.spec.id,
            phase=self.phase,
            execution_mode=self.spec.execution_mode,
            risk_tier=self.risk_tier,
            iteration=self.iteration,
            max_iterations=self.max_iterations,
            paused=self.paused,
            pending_action=self.pending_action,
            verdicts=self.verdicts,
            decision=self.decision,
            rounds=self.rounds,
            execution=self.execution,
            override=self.override,
            applied_commit=self.applied_commit,
            last_error=self.last_error,
            guidance_pending=len(self.guidance),
        )

    def result(self) -> TaskResult:
        return TaskResult(
            task_id=self.inp.task_id,
            phase=self.phase,
            applied_commit=self.applied_commit,
            error=self.last_error,
            iterations=self.iteration,
            verdicts=self.verdicts,
        )
