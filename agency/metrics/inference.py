"""Inference metrics, per model: tokens read and generated, time to the first token,
and generation speed.

Observed by the engine (agency.inference.engine) once per finished generation, in
whichever process runs it (the API for chat, the worker for assessments and drafts).
`model` is a name of the process's model catalog: the built-in models and those the
settings name (AGENCY_MODELS), a set the operator chooses, never a request's text.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
TPS_BUCKETS = (1, 2.5, 5, 10, 20, 40, 80, 160, 320, 640, 1280)

INFERENCE_TOKENS = Counter(
    "agency_inference_tokens",
    "Tokens processed by the inference engine, by model and kind (prompt, generated).",
    ["model", "kind"],
)
INFERENCE_GENERATIONS = Counter(
    "agency_inference_generations",
    "Generations that ran to their end, by model and finish reason.",
    ["model", "finish_reason"],
)
TIME_TO_FIRST_TOKEN = Histogram(
    "agency_inference_time_to_first_token_seconds",
    "Time from a generation's request to its first generated token (the prompt read "
    "included), by model.",
    ["model"],
    buckets=TTFT_BUCKETS,
)
GENERATION_SPEED = Histogram(
    "agency_inference_generation_tokens_per_second",
    "Generated tokens per second after the first, one observation per generation, by model.",
    ["model"],
    buckets=TPS_BUCKETS,
)


def observe_generation(
    model: str,
    *,
    finish_reason: str,
    prompt_tokens: int,
    generation_tokens: int,
    ttft_s: float,
    generation_tps: float,
) -> None:
    INFERENCE_TOKENS.labels(model, "prompt").inc(prompt_tokens)
    INFERENCE_TOKENS.labels(model, "generated").inc(generation_tokens)
    INFERENCE_GENERATIONS.labels(model, finish_reason).inc()
    if generation_tokens > 0:
        TIME_TO_FIRST_TOKEN.labels(model).observe(ttft_s)
    if generation_tokens > 1:  # speed is measured after the first token
        GENERATION_SPEED.labels(model).observe(generation_tps)
