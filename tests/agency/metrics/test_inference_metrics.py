"""Inference metrics from a real generation (the default model, on this CPU)."""

from __future__ import annotations

from agency.inference import Engine
from tests.support.inference import engine, short
from tests.support.metrics import value

__all__ = ["engine"]


async def test_a_generation_counts_its_tokens_and_times_its_first_token(engine: Engine) -> None:
    model = engine.current()
    assert model is not None
    before = {
        kind: value("agency_inference_tokens_total", model=model, kind=kind)
        for kind in ("prompt", "generated")
    }
    ttft_before = value("agency_inference_time_to_first_token_seconds_count", model=model)
    speed_before = value("agency_inference_generation_tokens_per_second_count", model=model)
    ends_before = value("agency_inference_generations_total", model=model, finish_reason="length")

    done = await engine.complete(short("Count to twenty."), max_tokens=4)

    assert done.finish_reason == "length" and done.generation_tokens == 4
    generated = value("agency_inference_tokens_total", model=model, kind="generated")
    assert generated - before["generated"] == 4
    prompt = value("agency_inference_tokens_total", model=model, kind="prompt")
    assert prompt - before["prompt"] == done.prompt_tokens > 0
    assert (
        value("agency_inference_time_to_first_token_seconds_count", model=model) == ttft_before + 1
    )
    assert (
        value("agency_inference_generation_tokens_per_second_count", model=model)
        == speed_before + 1
    )
    assert (
        value("agency_inference_generations_total", model=model, finish_reason="length")
        == ends_before + 1
    )
