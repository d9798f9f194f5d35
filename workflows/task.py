"""The task workflow: one governed agent task, from validation to a recorded outcome.

Deterministic code only: every side effect is an activity (called by name so that this
module imports nothing with I/O), time comes from `workflow.now()`, and the state that
the `state` query returns is rebuilt identically on replay.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    TimeoutType,
    is_cancelled_exception,
)
from temporalio.exceptions import TimeoutError as StepTimeout

with workflow.unsafe.imports_passed_through():
    from council.models import Decision, Judgment
    from workflows import activity_options as opts
    from workflows.feedback import feedback_for_next_iteration
    from workflows.models import (
        DEFAULT_ACTOR,
        TERMINAL_PHASES,
        ApplyInput,
        ApplyOutput,
        ClaimInput,
        ControlInput,
        DiscardInput,
        DraftInput,
        DraftOutput,
        ExecuteInput,
        ExecutionSummary,
        ExecutorClaim,
        GatesInput,
        GuidanceInput,
        Intervention,
        InterventionAck,
        JudgeInput,
        JudgeOutput,
        OverrideInput,
        ParametersInput,
        Phase,
        ProjectionPatch,
        ProvenanceInput,
        ProvenanceOutput,
        RecordInput,
        Round,
        TaskInput,
        TaskResult,
        TaskState,
        ValidateInput,
        ValidationOutcome,
    )

WORKFLOW_NAME = "AgencyTask"


class _HostLost(Exception):
    """The executor host running a step stopped answering (its heartbeats or its queue)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class _TaskEnded(Exception):
    """Ends the task early with a terminal phase and a reason (not a Temporal failure)."""

    def __init__(self, phase: Phase, error: str | None) -> None:
        super().__init__(error or phase)
        self.phase: Phase = phase
        self.error = error


@workflow.defn(name=WORKFLOW_NAME)
class TaskWorkflow:
    @workflow.init
    def __init__(self, inp: TaskInput) -> None:
        self._inp = inp
        self._spec = inp.spec
        self._phase: Phase = "queued"
        self._iteration = 0
        self._max_iterations = inp.spec.max_iterations
        self._risk_tier = inp.spec.risk_tier
        self._paused = False
        self._pending_action: str | None = None
        self._human_decision: Intervention | None = None
        self._human_verdict: str | None = None
        self._override: OverrideInput | None = None
        self._guidance: list[str] = []
        self._rounds: list[Round] = []
        self._verdicts: list[Judgment] = []
        self._decision: Decision | None = None
        self._execution: ExecutionSummary | None = None
        # The executor host of the current run, and how many hosts this task lost.
        self._host: ExecutorClaim | None = None
        self._hosts_lost = 0
        self._lost_queues: set[str] = set()
        self._base_commit: str | None = None
        self._active_run_id: str | None = None
        self._executing = False
        self._applied_commit: str | None = None
        self._last_error: str | None = None
        self._cancel_by: Intervention | None = None
        self._seq = 0
        self._validation: ValidationOutcome | None = None

    # ------------------------------------------------------------------------ run
    @workflow.run
    async def run(self, inp: TaskInput) -> TaskResult:
        try:
            await self._govern()
        except _TaskEnded as ended:
            await self._finish(ended.phase, ended.error)
        except asyncio.CancelledError:
            await self._finish_canceled()
            await self._sign_provenance()
            raise
        await self._sign_provenance()
        return self._result()

    async def _govern(self) -> None:
        await self._enter("validating", actor=self._inp.submitted_by, action="submitted")
        self._validation = await workflow.execute_activity(
            "validate_task",
            ValidateInput(task_id=self._inp.task_id, spec=self._spec, tenant=self._inp.tenant),
            result_type=ValidationOutcome,
            start_to_close_timeout=opts.QUICK_TIMEOUT,
            retry_policy=opts.QUICK_RETRY,
        )
        if self._validation.problems:
            raise _TaskEnded("failed", "invalid task: " + "; ".join(self._validation.problems))
        self._base_commit = self._validation.base_commit

        await self._plan_review()
        approved = await self._execute_until_decided()
        if self._spec.execution_mode == "strict":
            await self._await_human_approval()
        elif not approved:
            # auto/dry_run: an escalation without strict mode still needs a human.
            await self._await_human_approval()
        await self._apply()
        await self._enter("recording", action="recording")
        await self._finish("completed", None)

    # --------------------------------------------------------------------- phases
    async def _plan_review(self) -> None:
        await self._safe_point()
        await self._enter("plan_review", action="plan_review")
        out = await self._judge("plan", execution=None, can_refine=False)
        outcome = self._apply_override(out.decision).outcome
        if outcome == "reject":
            raise _TaskEnded("rejected", "council rejected the plan: " + _reasons(out.decision))
        if outcome == "escalate":
            await self._await_human_approval(reason="the council is uncertain about the plan")

    async def _execute_until_decided(self) -> bool:
        """Execute, gate and review until the council approves. Returns False when the
        decision was escalated to a human (the caller waits for approval)."""
        while True:
            self._iteration += 1
            await self._safe_point()
            summary = await self._run_iteration()
            if self._spec.execution_mode == "strict" and any(not g.passed for g in summary.gates):
                failed = ", ".join(g.name for g in summary.gates if not g.passed)
                raise _TaskEnded("failed", f"strict mode: gate(s) failed: {failed}")
            await self._safe_point()
            await self._enter("result_review", action="result_review")
            can_refine = self._iteration < self._max_iterations
            out = await self._judge("result", execution=summary, can_refine=can_refine)
            decision = self._apply_override(out.decision)
            if decision.outcome == "approve":
                return True
            if decision.outcome == "reject":
                raise _TaskEnded("rejected", "council rejected the result: " + _reasons(decision))
            if decision.outcome == "escalate":
                return False
            # refine: discard this attempt and go again with the judges' feedback.
            await self._discard_quietly(summary.run_id, summary.host_queue)
            if self._iteration >= self._max_iterations:
                raise _TaskEnded(
                    "rejected",
                    f"no approval after {self._iteration} iteration(s): " + _reasons(decision),
                )

    async def _run_iteration(self) -> ExecutionSummary:
        """One iteration's host sequence: claim a host, run the agent, run the gates. A
        host lost on the way means the sequence starts again on another host, from the
        same base commit, in a fresh worktree (the agent runs at least once)."""
        feedback = feedback_for_next_iteration(self._rounds, self._guidance)
        self._guidance = []
        patch_artifact: str | None = None
        if self._spec.agent.model is not None:
            patch_artifact = await self._draft(self._base_commit, feedback)
        attempt = 0
        while True:
            attempt += 1
            host = await self._claim_host(attempt)
            run_id = f"{workflow.info().run_id}-{self._iteration}-{attempt}"
            try:
                summary = await self._execute(host, run_id, attempt, feedback, patch_artifact)
                await self._safe_point()
                return await self._run_gates(host, summary)
            except _HostLost as lost:
                await self._host_lost(host, run_id, attempt, lost.why)

    async def _claim_host(self, attempt: int) -> ExecutorClaim:
        """The host of this run: the last one while it lasts, else any executor with room."""
        if self._host is not None:
            return self._host
        options = self._inp.executors
        try:
            self._host = await workflow.execute_activity(
                "claim_executor",
                ClaimInput(task_id=self._inp.task_id, iteration=self._iteration, attempt=attempt),
                task_queue=options.task_queue,
                result_type=ExecutorClaim,
                start_to_close_timeout=opts.CLAIM_START_TO_CLOSE,
                schedule_to_close_timeout=timedelta(seconds=options.claim_timeout_s),
                retry_policy=opts.CLAIM_RETRY,
            )
        except ActivityError as err:
            _reraise_cancellation(err)
            why = f"no executor took the task within {options.claim_timeout_s:.0f} s"
            raise _TaskEnded("failed", f"{why}: {_cause(err)}") from err
        return self._host

    async def _host_lost(self, host: ExecutorClaim, run_id: str, attempt: int, why: str) -> None:
        self._host = None
        self._hosts_lost += 1
        self._lost_queues.add(host.host_queue)
        self._active_run_id = None
        await self._record(
            "execution",
            action="host_lost",
            detail={
                "run_id": run_id,
                "executor": host.executor,
                "host_queue": host.host_queue,
                "attempt": attempt,
                "why": why,
                "hosts_lost": self._hosts_lost,
            },
        )
        limit = self._inp.executors.max_host_losses
        if self._hosts_lost > limit:
            raise _TaskEnded(
                "failed", f"lost {self._hosts_lost} executor host(s) (limit {limit}); last: {why}"
            )

    def _host_step_options(self, host: ExecutorClaim) -> dict[str, Any]:
        options = self._inp.executors
        return {
            "task_queue": host.host_queue,
            "heartbeat_timeout": timedelta(seconds=options.heartbeat_timeout_s),
            "schedule_to_start_timeout": timedelta(seconds=options.lost_after_s),
            "retry_policy": opts.HOST_STEP_RETRY,
            "cancellation_type": workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        }

    async def _execute(
        self,
        host: ExecutorClaim,
        run_id: str,
        attempt: int,
        feedback: str,
        patch_artifact: str | None,
    ) -> ExecutionSummary:
        self._active_run_id = run_id
        await self._enter(
            "executing",
            action="execute",
            detail={
                "run_id": run_id,
                "executor": host.executor,
                "host_queue": host.host_queue,
                "attempt": attempt,
            },
            projection=ProjectionPatch(iteration=self._iteration),
        )
        self._executing = True
        try:
            summary = await workflow.execute_activity(
                "run_agent",
                ExecuteInput(
                    task_id=self._inp.task_id,
                    iteration=self._iteration,
                    attempt=attempt,
                    run_id=run_id,
                    spec=self._spec,
                    base_commit=self._base_commit,
                    feedback=feedback,
                    patch_artifact=patch_artifact,
                ),
                activity_id=f"execute-{self._iteration}-{attempt}",
                result_type=ExecutionSummary,
                start_to_close_timeout=timedelta(seconds=self._spec.agent.timeout_s)
                + opts.HOST_STEP_MARGIN,
                **self._host_step_options(host),
            )
        except ActivityError as err:
            _reraise_cancellation(err)
            _raise_if_host_lost(err)
            raise _TaskEnded("failed", f"execution failed: {_cause(err)}") from err
        finally:
            self._executing = False
        self._base_commit = self._base_commit or summary.base_commit
        self._execution = summary
        await self._record(
            "execution",
            action="executed",
            detail={
                "run_id": run_id,
                "executor": summary.executor,
                "attempt": attempt,
                "state": summary.state,
                "exit_code": summary.exit_code,
                "timed_out": summary.timed_out,
                "changed_files": [f.path for f in summary.changed_files],
                "lines_added": summary.lines_added,
                "lines_removed": summary.lines_removed,
                "diff_sha256": summary.diff_sha256,
                "base_commit": summary.base_commit,
                "redactions": summary.redactions,
            },
            projection=ProjectionPatch(
                changed_files=len(summary.changed_files),
                lines_added=summary.lines_added,
                lines_removed=summary.lines_removed,
            ),
        )
        if summary.state != "finished":
            raise _TaskEnded("failed", f"execution {summary.state}: {summary.error or 'no detail'}")
        return summary

    async def _draft(self, base_commit: str | None, feedback: str) -> str:
        """A model-driven agent's turn: the worker's model drafts a patch, which the
        executor applies in its sandbox. Only artifact ids enter history."""
        try:
            draft = await workflow.execute_activity(
                "draft_patch",
                DraftInput(
                    task_id=self._inp.task_id,
                    iteration=self._iteration,
                    spec=self._spec,
                    base_commit=base_commit,
                    feedback=feedback,
                ),
                activity_id=f"draft-{self._iteration}",
                result_type=DraftOutput,
                start_to_close_timeout=opts.INFERENCE_TIMEOUT,
                heartbeat_timeout=opts.INFERENCE_HEARTBEAT,
                retry_policy=opts.INFERENCE_RETRY,
            )
        except ActivityError as err:
            _reraise_cancellation(err)
            why = f"the model could not draft a change: {_cause(err)}"
            raise _TaskEnded("failed", why) from err
        await self._record("draft", action="drafted", detail=draft.model_dump(mode="json"))
        return draft.patch_artifact

    async def _run_gates(self, host: ExecutorClaim, summary: ExecutionSummary) -> ExecutionSummary:
        if not self._spec.gates:
            return summary
        await self._enter("gating", action="gates", detail={"run_id": summary.run_id})
        total_timeout = sum(g.timeout_s for g in self._spec.gates)
        self._executing = True
        try:
            gated = await workflow.execute_activity(
                "run_gates",
                GatesInput(run_id=summary.run_id, attempt=summary.attempt, spec=self._spec),
                activity_id=f"gates-{self._iteration}-{summary.attempt}",
                result_type=ExecutionSummary,
                start_to_close_timeout=timedelta(seconds=total_timeout) + opts.HOST_STEP_MARGIN,
                **self._host_step_options(host),
            )
        except ActivityError as err:
            _reraise_cancellation(err)
            _raise_if_host_lost(err)
            raise _TaskEnded("failed", f"gates could not run: {_cause(err)}") from err
        finally:
            self._executing = False
        self._execution = gated
        await self._record(
            "gates",
            action="gates_ran",
            detail={
                "run_id": gated.run_id,
                "gates": [{"name": g.name, "passed": g.passed} for g in gated.gates],
                "redactions": gated.redactions,
            },
        )
        return gated

    async def _await_human_approval(self, reason: str | None = None) -> None:
        self._human_decision = None
        self._human_verdict = None
        self._pending_action = "approve"
        await self._enter(
            "awaiting_approval",
            action="awaiting_approval",
            approval_status="pending",
            detail={"reason": reason or "strict mode requires a human approval"},
            projection=ProjectionPatch(pending_action="approve"),
        )
        timeout = timedelta(seconds=self._inp.approval_timeout_s)
        try:
            await workflow.wait_condition(lambda: self._human_verdict is not None, timeout=timeout)
        except TimeoutError:
            self._pending_action = None
            raise _TaskEnded(
                "failed",
                f"approval deadline passed: no decision within {self._inp.approval_timeout_s} s",
            ) from None
        self._pending_action = None
        if self._human_verdict == "reject":
            who = self._human_decision.actor if self._human_decision else DEFAULT_ACTOR
            why = self._human_decision.reason if self._human_decision else ""
            raise _TaskEnded("rejected", f"rejected by {who}" + (f": {why}" if why else ""))

    async def _apply(self) -> None:
        if self._spec.execution_mode == "dry_run" or self._execution is None:
            return
        await self._safe_point()
        execution = self._execution
        if not execution.changed_files:
            # Approved, and nothing to commit: the task is done, and says so.
            await self._record("applied", action="nothing_to_apply", detail={"changed_files": 0})
            return
        await self._enter("applying", action="apply")
        message = (
            f"{self._spec.title}\n\n"
            f"Applied by Agent Agency for {self._spec.id} (mode {self._spec.mode}, "
            f"risk tier {self._risk_tier}).\n\n"
            f"Agency-Task: {self._inp.task_id}\n"
            f"Agency-Spec: {self._spec.id}\n"
        )
        if execution.tree is None or execution.diff_artifact is None or not self._base_commit:
            raise _TaskEnded("failed", "apply impossible: the execution left no stored change")
        try:
            applied = await workflow.execute_activity(
                "apply_change",
                ApplyInput(
                    task_id=self._inp.task_id,
                    repo=self._spec.repo,
                    base_commit=self._base_commit,
                    tree=execution.tree,
                    diff_artifact=execution.diff_artifact,
                    target_branch=self._spec.target_branch or execution.default_target,
                    message=message,
                    at=workflow.now(),
                ),
                task_queue=self._inp.executors.task_queue,
                result_type=ApplyOutput,
                start_to_close_timeout=opts.APPLY_TIMEOUT,
                heartbeat_timeout=timedelta(seconds=self._inp.executors.heartbeat_timeout_s),
                schedule_to_close_timeout=timedelta(seconds=self._inp.executors.claim_timeout_s),
                retry_policy=opts.APPLY_RETRY,
            )
        except ActivityError as err:
            _reraise_cancellation(err)
            raise _TaskEnded("failed", f"apply failed: {_cause(err)}") from err
        self._applied_commit = applied.commit
        await self._record(
            "applied",
            action="applied",
            detail={
                "commit": applied.commit,
                "branch": applied.branch,
                "executor": applied.executor,
                "already_applied": applied.already_applied,
            },
            projection=ProjectionPatch(applied_commit=applied.commit),
        )

    # ---------------------------------------------------------------- judging
    async def _judge(
        self, stage: str, execution: ExecutionSummary | None, can_refine: bool
    ) -> JudgeOutput:
        assert self._validation is not None
        out = await workflow.execute_activity(
            "judge",
            JudgeInput(
                task_id=self._inp.task_id,
                stage=stage,  # type: ignore[arg-type]
                iteration=self._iteration,
                spec=self._spec.model_copy(update={"risk_tier": self._risk_tier}),
                policy=self._validation.policy,
                waivers=self._validation.waivers,
                execution=execution,
                now=workflow.now(),
                can_refine=can_refine,
            ),
            result_type=JudgeOutput,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=opts.QUICK_RETRY,
        )
        self._verdicts = out.judgments
        self._decision = out.decision
        self._rounds.append(
            Round(
                stage=stage,  # type: ignore[arg-type]
                iteration=self._iteration,
                judgments=out.judgments,
                decision=out.decision,
            )
        )
        await self._record(
            "judgment",
            action=f"{stage}_review",
            actor="council",
            verdict=out.decision.outcome,
            detail={"score": out.decision.score, "reasons": out.decision.reasons},
            projection=ProjectionPatch(verdicts=out.judgments),
            judgments=out.judgments,
            stage=stage,
        )
        return out

    def _apply_override(self, decision: Decision) -> Decision:
        """A human override replaces the council's verdict once, at the next decision."""
        if self._override is None:
            return decision
        override, self._override = self._override, None
        outcome = "approve" if override.verdict == "approve" else "reject"
        replaced = decision.model_copy(
            update={
                "outcome": outcome,
                "reasons": [
                    f"overridden by {override.actor} to {override.verdict}: {override.reason}",
                    *decision.reasons,
                ],
            }
        )
        self._decision = replaced
        return replaced

    # ------------------------------------------------------------ safe points
    async def _safe_point(self) -> None:
        """Where a pause takes effect between steps."""
        if self._paused:
            await workflow.wait_condition(lambda: not self._paused)

    async def _discard(self, run_id: str, host_queue: str) -> None:
        """Remove the run's worktree on its host; a host that is gone took it along."""
        if host_queue in self._lost_queues:
            return
        await workflow.execute_activity(
            "discard_run",
            DiscardInput(run_id=run_id),
            task_queue=host_queue,
            start_to_close_timeout=opts.CONTROL_TIMEOUT,
            schedule_to_start_timeout=timedelta(seconds=self._inp.executors.lost_after_s),
            retry_policy=opts.CONTROL_RETRY,
        )

    # ------------------------------------------------------------- ending
    async def _finish(self, phase: Phase, error: str | None) -> None:
        if self._phase in TERMINAL_PHASES:
            return
        self._last_error = error
        self._pending_action = None
        if self._execution is not None:
            await self._discard_quietly(self._execution.run_id, self._execution.host_queue)
        await self._enter(
            phase,
            action=phase,
            verdict=self._decision.outcome if self._decision else None,
            detail={"error": error} if error else {},
            projection=ProjectionPatch(error=error, clear_pending_action=True),
        )

    async def _finish_canceled(self) -> None:
        """Clean up after a Temporal cancellation. Each step is retried if the
        cancellation interrupts it, so the audit always ends with CANCELED."""
        actor = self._cancel_by.actor if self._cancel_by else DEFAULT_ACTOR
        reason = self._cancel_by.reason if self._cancel_by else ""
        self._pending_action = None
        self._last_error = f"canceled by {actor}" + (f": {reason}" if reason else "")
        if self._execution is not None:
            await self._discard_quietly(self._execution.run_id, self._execution.host_queue)
        elif self._active_run_id is not None and self._host is not None:
            # Canceled mid-step: the host discarded it already; this makes sure.
            await self._discard_quietly(self._active_run_id, self._host.host_queue)
        for _ in range(3):
            try:
                await self._enter(
                    "canceled",
                    actor=actor,
                    action="canceled",
                    detail={"reason": reason},
                    projection=ProjectionPatch(error=self._last_error, clear_pending_action=True),
                )
                return
            except asyncio.CancelledError:
                continue

    async def _sign_provenance(self) -> None:
        """The last step of every task, whatever its outcome: a signed record of the whole
        trail, committed to the provenance repository. Handlers still writing records
        finish first, so the record's trail (seq 1..last_seq) is complete. A failure here
        does not change the outcome; `agency verify` then reports the missing record."""
        for attempt in range(1, 4):
            try:
                await workflow.wait_condition(workflow.all_handlers_finished)
                await workflow.execute_activity(
                    "record_provenance",
                    ProvenanceInput(task_id=self._inp.task_id, last_seq=self._seq),
                    activity_id=f"provenance-{attempt}",
                    result_type=ProvenanceOutput,
                    start_to_close_timeout=opts.QUICK_TIMEOUT,
                    retry_policy=opts.QUICK_RETRY,
                )
                return
            except asyncio.CancelledError:
                # A cancellation that arrives while signing must not leave the task unsigned.
                continue
            except ActivityError as err:
                if is_cancelled_exception(err):
                    continue
                workflow.logger.warning("provenance of %s not recorded: %s", self._inp.task_id, err)
                return

    async def _discard_quietly(self, run_id: str, host_queue: str) -> None:
        try:
            await self._discard(run_id, host_queue)
        except (ActivityError, asyncio.CancelledError):
            # The worktree is the executor's to reap; the task outcome must not depend on it.
            workflow.logger.warning("could not discard workspace %s", run_id)

    def _result(self) -> TaskResult:
        return TaskResult(
            task_id=self._inp.task_id,
            phase=self._phase,
            applied_commit=self._applied_commit,
            error=self._last_error,
            iterations=self._iteration,
            verdicts=self._verdicts,
        )

    # ----------------------------------------------------------- recording
    async def _enter(
        self,
        phase: Phase,
        *,
        action: str,
        actor: str = "system",
        verdict: str | None = None,
        approval_status: str | None = None,
        detail: dict[str, Any] | None = None,
        projection: ProjectionPatch | None = None,
    ) -> None:
        self._phase = phase
        patch = (projection or ProjectionPatch()).model_copy(
            update={"phase": phase, "workflow_run_id": workflow.info().run_id}
        )
        await self._record(
            "phase",
            action=action,
            actor=actor,
            verdict=verdict,
            approval_status=approval_status,
            detail=detail,
            projection=patch,
        )

    async def _record(
        self,
        kind: str,
        *,
        action: str,
        actor: str = "system",
        verdict: str | None = None,
        approval_status: str | None = None,
        detail: dict[str, Any] | None = None,
        projection: ProjectionPatch | None = None,
        judgments: list[Judgment] | None = None,
        stage: str | None = None,
    ) -> None:
        # The sequence number is taken before the first await, so concurrent records
        # (a signal handler and the main flow) never share one.
        self._seq += 1
        await workflow.execute_activity(
            "record",
            RecordInput(
                task_id=self._inp.task_id,
                seq=self._seq,
                at=workflow.now(),
                kind=kind,
                phase=self._phase,
                actor=actor,
                action=action,
                verdict=verdict,
                approval_status=approval_status,
                detail=detail or {},
                projection=projection or ProjectionPatch(),
                judgments=judgments or [],
                stage=stage,  # type: ignore[arg-type]
                iteration=self._iteration,
            ),
            start_to_close_timeout=opts.QUICK_TIMEOUT,
            retry_policy=opts.QUICK_RETRY,
        )

    # ------------------------------------------------------------- interventions
    # Each intervention is a signal (works from `temporal workflow signal --name NAME`,
    # where a missing payload means actor "temporal-cli") and an update of the same name
    # whose validator refuses what does not apply, so API callers get an answer.

    def _refusal(self, name: str, inp: Intervention | None) -> str | None:
        if self._phase in TERMINAL_PHASES:
            return f"cannot {name}: the task is {self._phase}"
        if name == "pause" and self._paused:
            return "cannot pause: already paused"
        if name == "resume" and not self._paused:
            return "cannot resume: not paused"
        if name in ("approve", "reject") and self._pending_action != "approve":
            return f"cannot {name}: nothing awaits approval (phase {self._phase})"
        if name == "cancel" and self._cancel_by is not None:
            return "cannot cancel: cancellation already requested"
        if name == "parameters" and isinstance(inp, ParametersInput):
            if inp.risk_tier is not None and inp.risk_tier > self._risk_tier:
                return (
                    f"cannot lower the risk: tier {inp.risk_tier} is less critical than "
                    f"{self._risk_tier} (1 is the most critical)"
                )
            if inp.max_iterations is not None and inp.max_iterations < self._iteration:
                return (
                    f"cannot set max_iterations to {inp.max_iterations}: "
                    f"iteration {self._iteration} already ran"
                )
            if inp.max_iterations is None and inp.risk_tier is None:
                return "nothing to change: give max_iterations or risk_tier"
        return None

    async def _intervene(self, name: str, inp: Intervention) -> InterventionAck:
        refusal = self._refusal(name, inp)
        if refusal is not None:
            # A refused signal (updates are refused by their validator first) is audited.
            await self._record(
                "intervention",
                action=f"{name}_refused",
                actor=inp.actor,
                detail={"reason": refusal},
            )
            return InterventionAck(accepted=False, detail=refusal)
        detail: dict[str, Any] = {"reason": inp.reason} if inp.reason else {}
        projection = ProjectionPatch()
        approval_status: str | None = None
        if name == "pause":
            self._paused = True
            projection.paused = True
        elif name == "resume":
            self._paused = False
            projection.paused = False
        elif name in ("approve", "reject"):
            self._human_decision = inp
            self._human_verdict = name
            approval_status = "approved" if name == "approve" else "rejected"
            projection.clear_pending_action = True
        elif name == "override" and isinstance(inp, OverrideInput):
            detail["verdict"] = inp.verdict
            if self._pending_action == "approve":
                # Awaiting a human: the override is that human's decision.
                self._human_decision = inp
                self._human_verdict = inp.verdict
                approval_status = "approved" if inp.verdict == "approve" else "rejected"
                projection.clear_pending_action = True
            else:
                self._override = inp
        elif name == "guidance" and isinstance(inp, GuidanceInput):
            self._guidance.append(inp.text)
            detail["text"] = inp.text[:2000]
        elif name == "parameters" and isinstance(inp, ParametersInput):
            if inp.max_iterations is not None:
                self._max_iterations = inp.max_iterations
                projection.max_iterations = inp.max_iterations
                detail["max_iterations"] = inp.max_iterations
            if inp.risk_tier is not None:
                self._risk_tier = inp.risk_tier
                projection.risk_tier = inp.risk_tier
                detail["risk_tier"] = inp.risk_tier
        elif name == "cancel":
            self._cancel_by = inp
        await self._record(
            "intervention",
            action=name,
            actor=inp.actor,
            verdict=getattr(inp, "verdict", None),
            approval_status=approval_status,
            detail=detail,
            projection=projection,
        )
        if name in ("pause", "resume") and self._executing and self._active_run_id:
            await self._control_agent("suspend" if name == "pause" else "resume")
        return InterventionAck(accepted=True, detail=f"{name} accepted")

    async def _control_agent(self, action: str) -> None:
        """SIGSTOP/SIGCONT the running step's process group on its host."""
        host, run_id = self._host, self._active_run_id
        if host is None or run_id is None:
            return
        try:
            await workflow.execute_activity(
                "control_agent",
                ControlInput(run_id=run_id, action=action),  # type: ignore[arg-type]
                task_queue=host.host_queue,
                start_to_close_timeout=opts.CONTROL_TIMEOUT,
                schedule_to_start_timeout=timedelta(seconds=self._inp.executors.lost_after_s),
                retry_policy=opts.CONTROL_RETRY,
            )
        except ActivityError as err:
            # The run may have finished or its host gone; the pause flag still holds at the
            # next safe point.
            workflow.logger.info("could not %s run %s: %s", action, run_id, err)

    def _validate(self, name: str, inp: Intervention | None) -> None:
        refusal = self._refusal(name, inp or Intervention())
        if refusal is not None:
            raise ApplicationError(refusal, type="InterventionRefused", non_retryable=True)

    @workflow.signal(name="pause")
    async def pause_signal(self, inp: Intervention | None = None) -> None:
        await self._intervene("pause", inp or Intervention())

    @workflow.update(name="pause")
    async def pause_update(self, inp: Intervention | None = None) -> InterventionAck:
        return await self._intervene("pause", inp or Intervention())

    @pause_update.validator
    def _validate_pause(self, inp: Intervention | None = None) -> None:
        self._validate("pause", inp)

    @workflow.signal(name="resume")
    async def resume_signal(self, inp: Intervention | None = None) -> None:
        await self._intervene("resume", inp or Intervention())

    @workflow.update(name="resume")
    async def resume_update(self, inp: Intervention | None = None) -> InterventionAck:
        return await self._intervene("resume", inp or Intervention())

    @resume_update.validator
    def _validate_resume(self, inp: Intervention | None = None) -> None:
        self._validate("resume", inp)

    @workflow.signal(name="approve")
    async def approve_signal(self, inp: Intervention | None = None) -> None:
        await self._intervene("approve", inp or Intervention())

    @workflow.update(name="approve")
    async def approve_update(self, inp: Intervention | None = None) -> InterventionAck:
        return await self._intervene("approve", inp or Intervention())

    @approve_update.validator
    def _validate_approve(self, inp: Intervention | None = None) -> None:
        self._validate("approve", inp)

    @workflow.signal(name="reject")
    async def reject_signal(self, inp: Intervention | None = None) -> None:
        await self._intervene("reject", inp or Intervention())

    @workflow.update(name="reject")
    async def reject_update(self, inp: Intervention | None = None) -> InterventionAck:
        return await self._intervene("reject", inp or Intervention())

    @reject_update.validator
    def _validate_reject(self, inp: Intervention | None = None) -> None:
        self._validate("reject", inp)

    @workflow.signal(name="override")
    async def override_signal(self, inp: OverrideInput) -> None:
        await self._intervene("override", inp)

    @workflow.update(name="override")
    async def override_update(self, inp: OverrideInput) -> InterventionAck:
        return await self._intervene("override", inp)

    @override_update.validator
    def _validate_override(self, inp: OverrideInput) -> None:
        self._validate("override", inp)

    @workflow.signal(name="guidance")
    async def guidance_signal(self, inp: GuidanceInput) -> None:
        await self._intervene("guidance", inp)

    @workflow.update(name="guidance")
    async def guidance_update(self, inp: GuidanceInput) -> InterventionAck:
        return await self._intervene("guidance", inp)

    @guidance_update.validator
    def _validate_guidance(self, inp: GuidanceInput) -> None:
        self._validate("guidance", inp)

    @workflow.signal(name="parameters")
    async def parameters_signal(self, inp: ParametersInput) -> None:
        await self._intervene("parameters", inp)

    @workflow.update(name="parameters")
    async def parameters_update(self, inp: ParametersInput) -> InterventionAck:
        return await self._intervene("parameters", inp)

    @parameters_update.validator
    def _validate_parameters(self, inp: ParametersInput) -> None:
        self._validate("parameters", inp)

    @workflow.signal(name="cancel")
    async def cancel_signal(self, inp: Intervention | None = None) -> None:
        """Names who cancels. The cancellation itself is Temporal's (`temporal workflow
        cancel`, or the API, which sends this signal and then cancels)."""
        await self._intervene("cancel", inp or Intervention())

    # ----------------------------------------------------------------- query
    @workflow.query(name="state")
    def state(self) -> TaskState:
        return TaskState(
            task_id=self._inp.task_id,
            caws_id=self._spec.id,
            phase=self._phase,
            execution_mode=self._spec.execution_mode,
            risk_tier=self._risk_tier,
            iteration=self._iteration,
            max_iterations=self._max_iterations,
            paused=self._paused,
            pending_action=self._pending_action,
            verdicts=self._verdicts,
            decision=self._decision,
            rounds=self._rounds,
            execution=self._execution,
            override=self._override,
            applied_commit=self._applied_commit,
            last_error=self._last_error,
            guidance_pending=len(self._guidance),
        )


def _reraise_cancellation(err: ActivityError) -> None:
    """An activity that ended because the workflow was canceled is a cancellation,
    not a failure of the task."""
    if is_cancelled_exception(err):
        raise asyncio.CancelledError() from err


_TIMEOUT_MEANING = {
    TimeoutType.HEARTBEAT: "the host sent no heartbeat within the heartbeat timeout",
    TimeoutType.SCHEDULE_TO_START: "no process polled the host queue within the lost-host timeout",
    TimeoutType.START_TO_CLOSE: "the step outlived its start-to-close timeout",
}


def _raise_if_host_lost(err: ActivityError) -> None:
    """A step that timed out (no heartbeat, or its queue unpolled) lost its host."""
    cause = err.cause
    if isinstance(cause, StepTimeout):
        why = _TIMEOUT_MEANING.get(cause.type, "the step timed out") if cause.type else ""
        raise _HostLost(why or "the step timed out") from err
    if isinstance(cause, ApplicationError) and cause.type in (opts.NOT_FOUND, opts.HOST_SHUTDOWN):
        # The host does not know the run (it is not the process that started it), or it
        # is going away.
        raise _HostLost(str(cause)) from err


def _reasons(decision: Decision) -> str:
    return "; ".join(decision.reasons) or decision.outcome


def _cause(err: BaseException) -> str:
    """The innermost message of an activity failure, for humans."""
    while err.__cause__ is not None:
        err = err.__cause__
    return str(err)
