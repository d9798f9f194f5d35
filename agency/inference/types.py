"""Plain data the engine takes and gives: messages, streamed events, reports."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length", "deadline"]


class ChatMessage(BaseModel):
    role: Role
    content: str = Field(max_length=200_000)


class Token(BaseModel):
    """A piece of generated text (one token's worth, possibly empty until a multi-byte
    character completes)."""

    text: str


class Completion(BaseModel):
    """The end of a generation, with its measurements."""

    text: str
    model: str
    finish_reason: FinishReason
    prompt_tokens: int
    generation_tokens: int
    # Seconds from the request to the first generated token (includes reading the prompt).
    ttft_s: float
    prompt_tps: float
    generation_tps: float
    total_s: float


class ModelInfo(BaseModel):
    name: str
    kind: str
    path: str | None
    description: str
    available: bool
    # Why it cannot be loaded (missing files), when not available.
    problem: str | None = None
    loaded: bool = False
    current: bool = False
    default: bool = False
    retiring: bool = False
    precision: str | None = None
    device: str | None = None
    load_s: float | None = None
    memory_bytes: int | None = None
    in_flight: int = 0


class SwapReport(BaseModel):
    previous: str | None
    current: str
    # Seconds to load the new model (0 when it was already loaded).
    load_s: float
    # Seconds from the request to new requests going to the new model.
    switch_s: float
    memory_bytes: int
    # Requests still running on the previous model when the switch happened; they finish
    # there, and then the previous model is freed.
    previous_in_flight: int = 0
    previous_freed: bool = False
