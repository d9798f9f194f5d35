"""One generation, stepped a token at a time on the inference thread.

Uses mlx-lm's `generate_step` (the loop under `mlx_lm.stream_generate`) so that what we
measure against mlx-lm is the same computation; the engine adds only the stepping,
the deadline and the streaming around it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from agency.inference.loading import LoadedModel
from agency.inference.types import FinishReason


@dataclass
class Step:
    text: str
    finished: bool


class GenerationJob:
    def __init__(
        self, loaded: LoadedModel, prompt: list[int], max_tokens: int, temperature: float
    ) -> None:
        import mlx.core as mx
        from mlx_lm.generate import generate_step
        from mlx_lm.sample_utils import make_sampler

        self.prompt_tokens = len(prompt)
        self._steps: Any = generate_step(
            mx.array(prompt),
            loaded.model,
            max_tokens=max_tokens,
            sampler=make_sampler(temp=temperature),
        )
        self._detokenizer = loaded.tokenizer.detokenizer
        self._eos = set(loaded.tokenizer.eos_token_ids)
        self.tokens = 0
        self.finish_reason: FinishReason | None = None
        self.started = time.perf_counter()
        self.first_token_at: float | None = None
        self.last_token_at: float | None = None

    def step(self) -> Step:
        """Compute one token (the first call also reads the whole prompt)."""
        if self.finish_reason is not None:
            return Step("", True)
        try:
            token, _ = next(self._steps)
        except StopIteration:
            return self._finish("length")
        now = time.perf_counter()
        if self.first_token_at is None:
            self.first_token_at = now
        if token in self._eos:
            return self._finish("stop")
        self.tokens += 1
        self.last_token_at = now
        self._detokenizer.add_token(token)
        return Step(self._detokenizer.last_segment, False)

    def stop(self, reason: FinishReason) -> Step:
        return self._finish(reason)

    def _finish(self, reason: FinishReason) -> Step:
        self.finish_reason = reason
        self._detokenizer.finalize()
        self.close()
        return Step(self._detokenizer.last_segment, True)

    def rates(self) -> tuple[float, float, float]:
        """(seconds to the first token, prompt tokens/s, generated tokens/s after the first)."""
        first = self.first_token_at or time.perf_counter()
        ttft = first - self.started
        prompt_tps = self.prompt_tokens / ttft if ttft > 0 else 0.0
        span = (self.last_token_at or first) - first
        gen_tps = (self.tokens - 1) / span if self.tokens > 1 and span > 0 else 0.0
        return ttft, prompt_tps, gen_tps

    @property
    def text(self) -> str:
        return str(self._detokenizer.text)

    def close(self) -> None:
        # Frees the KV cache the generator holds.
        self._steps.close()
