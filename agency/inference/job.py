"""One generation, advanced a token at a time on the inference thread.

Uses mlx-lm's `generate_step` (the loop under `mlx_lm.stream_generate`) so that what we
measure against mlx-lm is the same computation; the engine adds only the scheduling,
the deadline and the streaming around it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agency.inference.loading import LoadedModel
from agency.inference.types import FinishReason


@dataclass(frozen=True)
class Summary:
    text: str
    finish_reason: FinishReason
    prompt_tokens: int
    generation_tokens: int
    # From the request to the first token; prompt tokens/s; tokens/s after the first.
    ttft_s: float
    prompt_tps: float
    generation_tps: float


@dataclass(frozen=True)
class Step:
    """New text; the last step of a generation carries its summary."""

    text: str
    summary: Summary | None = None


# Receives each Step, or the exception that ended the generation (on the inference thread).
Sink = Callable[[Step | BaseException], None]


class GenerationJob:
    def __init__(
        self,
        loaded: LoadedModel,
        prompt: list[int],
        max_tokens: int,
        temperature: float,
        *,
        started: float,
        deadline: float,
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
        self.started = started
        self.deadline = deadline
        self.first_token_at: float | None = None
        self.last_token_at: float | None = None

    def step(self) -> Step:
        """Compute one token (the first call also reads the whole prompt)."""
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
        if now >= self.deadline:
            text = self._detokenizer.last_segment
            return Step(text + self._finish("deadline").text, self._summary())
        return Step(self._detokenizer.last_segment)

    def _finish(self, reason: FinishReason) -> Step:
        self.finish_reason = reason
        self._detokenizer.finalize()
        self.close()
        return Step(self._detokenizer.last_segment, self._summary())

    def _summary(self) -> Summary:
        first = self.first_token_at or time.perf_counter()
        ttft = first - self.started
        span = (self.last_token_at or first) - first
        return Summary(
            text=str(self._detokenizer.text),
            finish_reason=self.finish_reason or "length",
            prompt_tokens=self.prompt_tokens,
            generation_tokens=self.tokens,
            ttft_s=ttft,
            prompt_tps=self.prompt_tokens / ttft if ttft > 0 else 0.0,
            generation_tps=(self.tokens - 1) / span if self.tokens > 1 and span > 0 else 0.0,
        )

    def close(self) -> None:
        # Frees the KV cache the generator holds.
        self._steps.close()


class TokenStream:
    """A job registered with the inference thread, which advances it a token per round
    and hands each step to `sink` without waiting for the consumer."""

    def __init__(self, job: GenerationJob, sink: Sink) -> None:
        self.job = job
        self._sink = sink
        # Set from any thread when the consumer goes away; honoured at the next round.
        self.cancelled = False

    def advance(self) -> bool:
        """One token; True when the stream is over (finished, failed or cancelled)."""
        if self.cancelled:
            self.job.close()
            return True
        try:
            step = self.job.step()
        except Exception as err:
            self.job.close()
            self._emit(err)
            return True
        return not self._emit(step) or step.summary is not None

    def _emit(self, item: Step | BaseException) -> bool:
        try:
            self._sink(item)
        except RuntimeError:
            # The consumer's event loop is gone: nobody will read the rest.
            self.cancelled = True
            self.job.close()
            return False
        return True
