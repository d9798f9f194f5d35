"""Inference activities with the real default model: artifacts in and out, the model
agent's draft, model-agent validation, and the judges' assessments."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.governance import GovernanceActivities
from activities.inference import InferenceActivities, model_agent_problems
from agency.db.artifacts import get_artifact
from agency.db.engine import make_engine, session_maker
from agency.db.migrate import upgrade_database_async
from agency.inference import Engine
from agency.inference.artifacts import ArtifactStore
from agency.settings import Settings
from council.models import ChangedFile, GateResult
from council.policy import DEFAULT_POLICY
from council.validation import parse_task_spec
from domain.activities import DraftInput, JudgeInput
from domain.execution import ExecutionSummary
from tests.support.inference import engine
from tests.support.repos import make_repo, task_spec

__all__ = ["engine"]

RESULT = ExecutionSummary(
    host_queue="executors/test-host/0",
    executor="test-host/0",
    run_id="r1",
    state="finished",
    exit_code=0,
    changed_files=[ChangedFile(path="src/calc.py", added=3, removed=0)],
    lines_added=3,
    gates=[GateResult(name="tests", passed=True, exit_code=0, covers=["A1"])],
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", agent_max_tokens=24, assessment_max_tokens=12)


async def test_drafting_refuses_what_retrying_cannot_fix(
    settings: Settings, tmp_path: Path
) -> None:
    spec = parse_task_spec(
        task_spec(make_repo(tmp_path / "repo"), agent={"model": "no-such-model", "prompt": "x"})
    )
    with pytest.raises(ApplicationError) as unknown:
        await ActivityEnvironment().run(
            InferenceActivities(settings).draft_patch,
            DraftInput(task_id="t-1", iteration=1, spec=spec),
        )
    assert unknown.value.type == "InvalidInput" and "no-such-model" in str(unknown.value)


async def test_the_model_agent_drafts_from_the_files_in_scope(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    spec = parse_task_spec(
        task_spec(repo, agent={"model": "smollm2-135m", "prompt": "Add triple(x) to src/calc.py."})
    )
    # The drafted patch goes to the database's artifacts, where any executor reads it.
    url = f"sqlite+aiosqlite:///{tmp_path / 'agency.db'}"
    await upgrade_database_async(url)
    db = make_engine(url)
    try:
        acts = InferenceActivities(settings, sessions=session_maker(db))
        out = await ActivityEnvironment().run(
            acts.draft_patch,
            DraftInput(task_id="t-1", iteration=1, spec=spec, feedback="more tests"),
        )
        async with session_maker(db)() as session:
            patch = (await get_artifact(session, out.patch_artifact)).decode()
    finally:
        await db.dispose()
    store = ArtifactStore.for_data_dir(settings.data_dir)
    prompt = json.loads(store.get_text(out.prompt_artifact))
    asked = prompt[-1]["content"]
    assert "Add triple(x) to src/calc.py." in asked
    assert "def double(x)" in asked  # the current text of a file in scope
    assert "more tests" in asked
    assert "docs/ops.md" not in asked  # out of scope
    assert out.generation_tokens <= 24
    assert patch.endswith("\n")
    assert out.output_artifact != out.patch_artifact or not out.found_diff


def test_model_agents_name_a_model_this_worker_has(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, models={"ghost": tmp_path / "ghost.gguf"})
    assert model_agent_problems(settings, "smollm2-135m") == []
    [unknown] = model_agent_problems(settings, "gpt-9")
    assert unknown.startswith("agent.model: unknown model 'gpt-9'")
    [missing] = model_agent_problems(settings, "ghost")
    assert str(tmp_path / "ghost.gguf") in missing


def judge_input(tmp_path: Path, **policy: object) -> JudgeInput:
    repo = make_repo(tmp_path / "repo")
    spec = parse_task_spec(task_spec(repo))
    return JudgeInput(
        task_id="t-1",
        stage="result",
        iteration=1,
        spec=spec,
        policy={**DEFAULT_POLICY, "agency": {**DEFAULT_POLICY["agency"], **policy}},
        waivers=[],
        execution=RESULT,
        now=datetime.now(UTC),
    )


async def test_judges_get_the_models_assessments(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    inp = judge_input(tmp_path)
    rules_only = await ActivityEnvironment().run(GovernanceActivities(settings).judge, inp)
    assessed_settings = settings.model_copy(update={"assessments": True})
    assessed = await ActivityEnvironment().run(GovernanceActivities(assessed_settings).judge, inp)
    assert all(j.assessment is None for j in rules_only.judgments)
    assert all(j.assessment and not j.assessment.startswith("[") for j in assessed.judgments)
    # Advisory by default: the verdicts and the decision are the rules' alone.
    assert [j.verdict for j in assessed.judgments] == [j.verdict for j in rules_only.judgments]
    assert assessed.decision.outcome == rules_only.decision.outcome


async def test_a_model_failure_leaves_the_rule_verdicts_and_is_recorded(
    tmp_path: Path,
) -> None:
    broken = Settings(
        data_dir=tmp_path / "data",
        model="ghost",
        models={"ghost": tmp_path / "ghost.gguf"},
        assessments=True,
    )
    inp = judge_input(tmp_path, model_assessment_vote=True)
    rules_only = await ActivityEnvironment().run(
        GovernanceActivities(broken.model_copy(update={"assessments": False})).judge, inp
    )
    out = await ActivityEnvironment().run(GovernanceActivities(broken).judge, inp)
    assert [j.verdict for j in out.judgments] == [j.verdict for j in rules_only.judgments]
    assert out.decision == rules_only.decision
    for judgment in out.judgments:
        assert judgment.assessment is not None
        assert judgment.assessment.startswith("[no assessment: the model failed")
        assert "ghost.gguf" in judgment.assessment
