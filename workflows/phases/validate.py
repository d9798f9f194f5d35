"""Validating: what the API could not check (the repository, the policy and waivers as
they are now), snapshotted for the judges."""

from __future__ import annotations

from temporalio import workflow

from workflows.calls import call, call_local
from workflows.failures import TaskEnded
from workflows.recording import enter
from workflows.state import TaskRun
from workflows.versions import local_effects

with workflow.unsafe.imports_passed_through():
    from domain.activities import VALIDATE_TASK, ValidateInput
    from workflows import activity_options as opts


async def validate(run: TaskRun) -> None:
    await enter(run, "validating", actor=run.inp.submitted_by, action="submitted")
    inp = ValidateInput(task_id=run.task_id, spec=run.spec, tenant=run.inp.tenant)
    summary = f"validate {run.spec.id} against {run.spec.repo}"[:200]
    if local_effects():
        run.validation = await call_local(VALIDATE_TASK, inp, opts.VALIDATING, summary=summary)
    else:
        run.validation = await call(VALIDATE_TASK, inp, opts.QUICK, summary=summary)
    if run.validation.problems:
        raise TaskEnded("failed", "invalid task: " + "; ".join(run.validation.problems))
    run.base_commit = run.validation.base_commit
