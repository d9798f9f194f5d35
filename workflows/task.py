"""The task workflow: one governed agent task, from validation to a recorded outcome.

`_govern` is the story, one line per phase; each phase is a module of workflows/phases/.
Deterministic code only: every side effect is an activity, called through its typed
reference (domain/activities.py) so that no module of the workflow imports anything with
I/O; time comes from `workflow.now()`; and the state that the `state` query returns
(workflows/state.py) is rebuilt identically on replay. Interventions (signals, updates,
their validators) are in workflows/interventions.py.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow

from workflows.failures import TaskEnded
from workflows.interventions import InterventionHandlers
from workflows.phases.apply import apply
from workflows.phases.approval import await_approval
from workflows.phases.finish import complete, finish, finish_canceled, sign_provenance
from workflows.phases.iterations import iterate_until_decided
from workflows.phases.plan_review import plan_review
from workflows.phases.validate import validate
from workflows.state import TaskRun

with workflow.unsafe.imports_passed_through():
    from domain.task import WORKFLOW_NAME, TaskInput, TaskResult, TaskState


@workflow.defn(name=WORKFLOW_NAME)
class TaskWorkflow(InterventionHandlers):
    @workflow.init
    def __init__(self, inp: TaskInput) -> None:
        self._run = TaskRun(inp)

    @workflow.run
    async def run(self, inp: TaskInput) -> TaskResult:
        try:
            await self._govern()
        except TaskEnded as ended:
            await finish(self._run, ended.phase, ended.error)
        except asyncio.CancelledError:
            await finish_canceled(self._run)
            await sign_provenance(self._run)
            raise
        await sign_provenance(self._run)
        await self._run.discarded()
        return self._run.result()

    async def _govern(self) -> None:
        run = self._run
        await validate(run)
        await plan_review(run)
        approved = await iterate_until_decided(run)
        if run.spec.execution_mode == "strict" or not approved:
            # Strict mode always asks a human; in auto and dry_run, an escalation does.
            await await_approval(run)
        await apply(run)
        await complete(run)

    @workflow.query(name="state")
    def state(self) -> TaskState:
        return self._run.snapshot()
