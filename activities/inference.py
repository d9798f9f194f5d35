"""Inference for the workflow worker, on its inference engine: the model agent's
drafting activity, the check that a model agent names a model this worker has, and the
model's assessments for the judges.

Prompts and outputs live in the artifact store under the data dir; activity inputs and
results carry only their ids, so no prompt or model output enters workflow history.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.defn import implements
from agency.db.artifacts import put_artifact
from agency.inference import ChatMessage, Completion, Engine
from agency.inference.artifacts import ArtifactStore
from agency.inference.assessments import assessment_messages, with_assessment, with_failure
from agency.inference.drafting import draft_messages, extract_diff, scope_files
from agency.inference.errors import ModelNotFound, PromptTooLong, UnknownModel
from agency.inference.shared import shared_engine
from agency.settings import Settings
from council.judges import JudgeContext
from council.models import Judgment
from domain import errors
from domain.activities import DRAFT_PATCH, DraftInput, DraftOutput

T = TypeVar("T")

HEARTBEAT_EVERY_S = 5.0


class InferenceActivities:
    def __init__(
        self,
        settings: Settings,
        engine: Engine | None = None,
        sessions: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._settings = settings
        self._engine = engine
        # Prompts and outputs stay on this worker; a drafted patch goes to the database's
        # artifacts, where the executor that applies it (on any host) reads it.
        self.artifacts = ArtifactStore.for_data_dir(settings.data_dir)
        self._sessions = sessions

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = shared_engine(self._settings)
        return self._engine

    @implements(DRAFT_PATCH)
    async def draft_patch(self, inp: DraftInput) -> DraftOutput:
        spec = inp.spec
        ref = inp.base_commit or spec.base_ref
        files = await asyncio.to_thread(scope_files, spec.repo, ref, spec.scope.in_)
        messages = draft_messages(spec, files, inp.feedback)
        prompt_id = self.artifacts.put_json("prompt", [m.model_dump() for m in messages])
        done = await self._complete(messages, spec.agent.model, self._settings.agent_max_tokens)
        patch, found = extract_diff(done.text)
        if self._sessions is None:
            raise ApplicationError("this worker has no database for artifacts")
        async with self._sessions() as session:
            patch_id = await put_artifact(session, "patch", patch.encode("utf-8"))
        return DraftOutput(
            model=done.model,
            prompt_artifact=prompt_id,
            output_artifact=self.artifacts.put_text("output", done.text),
            patch_artifact=patch_id,
            found_diff=found,
            finish_reason=done.finish_reason,
            prompt_tokens=done.prompt_tokens,
            generation_tokens=done.generation_tokens,
        )

    async def _complete(
        self, messages: list[ChatMessage], model: str | None, max_tokens: int | None
    ) -> Completion:
        try:
            return await _heartbeating(
                self.engine.complete(messages, model=model, max_tokens=max_tokens)
            )
        except (UnknownModel, ModelNotFound, PromptTooLong) as err:
            # Retrying cannot install a model or shorten a prompt.
            raise ApplicationError(str(err), type=errors.INVALID_INPUT) from err


async def _heartbeating(work: Awaitable[T]) -> T:
    """Await `work`, heartbeating meanwhile (reading a long prompt yields no tokens)."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_EVERY_S)
            if done:
                return task.result()
            activity.heartbeat("generating")
    finally:
        task.cancel()


# ------------------------------------------------------------------ used by governance
# Judges' assessments share the judge activity's two minutes with the rules.
ASSESSMENT_BUDGET_S = 60.0


def model_agent_problems(settings: Settings, name: str) -> list[str]:
    """Why a task's `agent.model` cannot run on this worker (unknown or not installed)."""
    try:
        shared_engine(settings).catalog.get(name).located()
    except (UnknownModel, ModelNotFound) as err:
        return [f"agent.model: {err}"]
    return []


async def assess(
    settings: Settings, judgments: list[Judgment], ctx: JudgeContext
) -> list[Judgment]:
    """Each judgment with the model's written assessment (and, when the policy says so,
    its vote). Any model failure leaves that judgment's rule verdict as it was and says
    why in the assessment."""
    engine = shared_engine(settings)
    vote = ctx.policy.agency.model_assessment_vote
    deadline = time.monotonic() + ASSESSMENT_BUDGET_S
    assessed: list[Judgment] = []
    for judgment in judgments:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            assessed.append(with_failure(judgment, "the assessment time budget was spent"))
            continue
        try:
            done = await engine.complete(
                assessment_messages(judgment, ctx.spec, ctx.evidence),
                max_tokens=settings.assessment_max_tokens,
                timeout_s=remaining,
            )
        except Exception as err:  # any failure of the model: the rules stand alone
            activity.logger.warning("assessment by the model failed: %s", err)
            assessed.append(with_failure(judgment, f"the model failed: {err}"))
            continue
        assessed.append(with_assessment(judgment, done.text, vote=vote))
    return assessed
