"""A model-driven agent and the judges' assessments, through the whole workflow: the real
default model drafts, the executor applies (or refuses) in the sandbox, the council
judges with the model's written assessments, and everything is recorded."""

from __future__ import annotations

from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from agency.db import task_reads
from agency.db.artifacts import get_artifact
from agency.db.engine import make_engine, session_maker
from agency.db.reads import make_reader
from agency.inference import Engine
from agency.inference.artifacts import ArtifactStore
from domain.task import TaskResult
from tests.support.harness import harness, state_of
from tests.support.inference import engine

__all__ = ["engine"]


async def test_a_model_agents_unusable_draft_is_an_agent_failure_with_assessments(
    dev_env: WorkflowEnvironment, tmp_path: Path, engine: Engine
) -> None:
    async with harness(
        dev_env.client,
        tmp_path,
        agent_max_tokens=16,
        assessments=True,
        assessment_max_tokens=8,
    ) as h:
        handle = await h.start(
            agent={"model": "smollm2-135m", "prompt": "Add triple(x) to src/calc.py."},
            max_iterations=1,
        )
        result: TaskResult = await handle.result()
        state = await state_of(handle)
        audit = await h.audit(handle)
        [drafted] = [e for e in audit if e.action == "drafted"]
        db = make_engine(h.settings.effective_database_url)
        try:
            async with session_maker(db)() as session:
                patch = await get_artifact(session, drafted.detail["patch_artifact"])
        finally:
            await db.dispose()
        reader = make_reader(h.settings.effective_database_url)
        try:
            verdicts = await task_reads.list_verdicts(reader, result.task_id)
        finally:
            await reader.close()

    # Not a crash: the task ran, the agent's change did not apply, the council rejected it.
    assert result.phase == "rejected", result.error
    execution = state.execution
    assert execution is not None and execution.state == "finished"
    assert execution.exit_code not in (0, None)
    assert "patch" in execution.stderr_tail  # git apply's reason, kept as evidence
    assert execution.changed_files == []
    technical = next(j for j in result.verdicts if j.judge == "technical")
    assert any(v.rule == "agent_failed" for v in technical.violations)

    # The draft is in the audit by artifact id (stored in the database, where the executor
    # read it); its text stays out of history.
    assert drafted.detail["model"] == "smollm2-135m"
    store = ArtifactStore.for_data_dir(h.settings.data_dir)
    assert store.get_text(drafted.detail["output_artifact"])
    assert patch
    history = await handle.fetch_history()
    assert "def double(x)" not in history.to_json()  # the prompt's file text

    # Every judge's result-stage judgment carries the model's assessment, stored with it.
    result_rows = [v for v in verdicts if v.stage == "result"]
    assert len(result_rows) == 4
    assert all(v.assessment for v in result_rows)
    assert all(j.assessment for j in result.verdicts)
    # Rules stay authoritative: the agent failure still blocks.
    assert any(v.stage == "plan" and v.assessment is None for v in verdicts)
