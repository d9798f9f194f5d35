"""Inference speed of the default model through our engine, beside mlx-lm called directly
on the very same loaded weights in the same run, and the cost of a hot swap.

    .venv/bin/python -m bench.inference [--runs 5] [--max-tokens 64] [--blas auto]
                                        [--model smollm2-135m]
    .venv/bin/python -m bench.inference --compare 3 [--configs auto,openblas,none]
                                        [--lock /tmp/bench.lock]

What is measured (greedy decoding, so both sides produce the same tokens):

- time to first token (TTFT) for a chat prompt of about 30 tokens: from the call to the
  first generated token (reading the prompt included);
- prompt tokens/s: prompt tokens / TTFT;
- generation tokens/s: tokens after the first / the time between the first and the last;
- total: the whole call.
Ours is `Engine.stream` (chat template, the inference thread, streaming to an asyncio
caller); mlx-lm is `mlx_lm.stream_generate` on the engine's own model and tokenizer,
called on the same thread, with the same prompt tokens. Runs alternate between the two;
medians are reported, with the range (min-max) of the runs. Then a hot swap to the 4-bit
model while generations run: the time to switch, the load time, and memory (MLX active
memory, process RSS) before and after.

`--compare ROUNDS` measures BLAS configurations side by side: the BLAS is chosen once per
process, so each configuration runs in a fresh process (`--json`, no swap), the
configurations alternating, ROUNDS times each; it reports medians and ranges over all the
runs of each configuration and the median of each process. `auto` is OpenBLAS with the
shim (agency/inference/shim.c), which serves every product in the process, mlx-lm's
too; under `openblas` the mlx-lm row is plain mlx-lm with OpenBLAS (nothing of ours in
its products); `none` is the wheel's bundled BLAS. With `--lock FILE` each process holds
an exclusive lock on FILE while it runs, so that benchmarks started by others wait.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agency.inference import ChatMessage, Completion, Engine, Token
from agency.inference.blas import blas_status, prefer_openblas
from agency.inference.engine import prompt_tokens

# A prompt that templates to about 30 tokens and is answered at length (so that every
# run generates the full --max-tokens).
MESSAGES = [
    ChatMessage(role="system", content="You are a storyteller."),
    ChatMessage(role="user", content="Tell a long story about a lighthouse keeper and a whale."),
]


@dataclass
class Sample:
    ttft_s: float
    prompt_tps: float
    gen_tps: float
    total_s: float
    tokens: int


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def ours(engine: Engine, max_tokens: int) -> Sample:
    started = time.perf_counter()
    first = last = 0.0
    n = 0
    done: Completion | None = None
    async for event in engine.stream(MESSAGES, max_tokens=max_tokens):
        now = time.perf_counter()
        if isinstance(event, Token):
            n += 1
            first = first or now
            last = now
        else:
            done = event
    assert done is not None
    ttft = first - started
    return Sample(
        ttft_s=ttft,
        prompt_tps=done.prompt_tokens / ttft,
        gen_tps=(n - 1) / (last - first) if n > 1 else 0.0,
        total_s=time.perf_counter() - started,
        tokens=done.generation_tokens,
    )


def direct(model: Any, tokenizer: Any, prompt: list[int], max_tokens: int) -> Sample:
    from mlx_lm import stream_generate

    started = time.perf_counter()
    first = last = 0.0
    n = 0
    for _ in stream_generate(model, tokenizer, prompt, max_tokens=max_tokens):
        now = time.perf_counter()
        n += 1
        first = first or now
        last = now
    ttft = first - started
    return Sample(
        ttft_s=ttft,
        prompt_tps=len(prompt) / ttft,
        gen_tps=(n - 1) / (last - first) if n > 1 else 0.0,
        total_s=time.perf_counter() - started,
        tokens=n,
    )


def median(samples: list[Sample], field: str) -> float:
    return statistics.median(getattr(s, field) for s in samples)


def spread(samples: list[Sample], field: str, digits: int) -> str:
    """'median (min-max)' of one field."""
    values = [getattr(s, field) for s in samples]
    return (
        f"{statistics.median(values):.{digits}f} "
        f"({min(values):.{digits}f}-{max(values):.{digits}f})"
    )


def load_average() -> float:
    return os.getloadavg()[0]


async def swap_cost(engine: Engine, concurrent: int, model: str, other: str) -> dict[str, float]:
    import mlx.core as mx

    before_active, before_rss = mx.get_active_memory(), rss_bytes()
    running = [
        asyncio.create_task(engine.complete(MESSAGES, max_tokens=8)) for _ in range(concurrent)
    ]
    await asyncio.sleep(0.5)
    report = await engine.swap(other)
    results = await asyncio.gather(*running)
    await asyncio.sleep(0.2)  # the old model is freed on the inference thread
    await engine.complete(MESSAGES, max_tokens=2)
    after_active, after_rss = mx.get_active_memory(), rss_bytes()
    back = await engine.swap(model)
    return {
        "switch_s": report.switch_s,
        "load_s": report.load_s,
        "in_flight": report.previous_in_flight,
        "completed": sum(1 for r in results if r.generation_tokens > 0),
        "active_before": before_active,
        "active_after": after_active,
        "rss_before": before_rss,
        "rss_after": after_rss,
        "back_load_s": back.load_s,
        "q4_bytes": report.memory_bytes,
    }


async def measure(
    engine: Engine, runs: int, max_tokens: int, model: str
) -> tuple[Any, list[int], list[Sample], list[Sample]]:
    """(model info, prompt, ours, mlx-lm): the two paths alternating, after a warm-up."""
    info = await engine.load(model)
    loaded = engine.loaded()
    assert loaded is not None
    prompt = prompt_tokens(loaded, MESSAGES, max_tokens)
    run = engine.submit  # mlx-lm runs on the engine's own inference thread
    # Warm up both paths once.
    await ours(engine, 4)
    run(direct, loaded.model, loaded.tokenizer, prompt, 4).result()
    mine: list[Sample] = []
    theirs: list[Sample] = []
    for _ in range(runs):
        mine.append(await ours(engine, max_tokens))
        theirs.append(run(direct, loaded.model, loaded.tokenizer, prompt, max_tokens).result())
    return info, prompt, mine, theirs


async def main(
    runs: int, max_tokens: int, concurrent: int, blas: str, model: str, as_json: bool
) -> None:
    prefer_openblas(blas)
    engine = Engine()
    load_before = load_average()
    info, prompt, mine, theirs = await measure(engine, runs, max_tokens, model)
    if as_json:
        engine.close()
        print(
            json.dumps(
                {
                    "blas": blas_status(),
                    "precision": info.precision,
                    "memory_bytes": info.memory_bytes,
                    "prompt_tokens": len(prompt),
                    "load_average": [load_before, load_average()],
                    "ours": [s.__dict__ for s in mine],
                    "mlx_lm": [s.__dict__ for s in theirs],
                }
            )
        )
        return
    other = "smollm2-135m" if model == "smollm2-135m-q4" else "smollm2-135m-q4"
    swap = await swap_cost(engine, concurrent, info.name, other)
    engine.close()

    print(
        f"Model: {info.name} ({info.precision}, {info.memory_bytes / 2**20:.0f} MiB, "
        f"loaded in {info.load_s:.2f} s); BLAS: {blas_status()}"
    )
    print(
        f"Prompt: {len(prompt)} tokens; {max_tokens} generated tokens per run; "
        f"{runs} runs each, medians (min-max); load average {load_before:.2f} before, "
        f"{load_average():.2f} after.\n"
    )
    print("| path | TTFT (s) | prompt tok/s | generation tok/s | total (s) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, samples in (("our engine", mine), ("mlx_lm.stream_generate", theirs)):
        print(
            f"| {name} | {spread(samples, 'ttft_s', 3)} | {median(samples, 'prompt_tps'):.1f} "
            f"| {spread(samples, 'gen_tps', 1)} | {median(samples, 'total_s'):.3f} |"
        )
    overhead = median(mine, "total_s") / median(theirs, "total_s") - 1
    print(f"\nOur overhead on the total time: {overhead * 100:+.1f} % (target: at most +10 %)")
    mib = 2**20
    print("\n| hot swap (during generations) | value |")
    print("| --- | ---: |")
    print(
        f"| generations running / completed | {swap['in_flight']:.0f} / {swap['completed']:.0f} "
        f"of {concurrent} |"
    )
    print(f"| load of the new model ({other}) | {swap['load_s']:.2f} s |")
    print(f"| request to switch (incl. load) | {swap['switch_s']:.2f} s |")
    print(f"| new model's weights | {swap['q4_bytes'] / mib:.0f} MiB |")
    print(
        f"| MLX active memory before / after | {swap['active_before'] / mib:.0f} / "
        f"{swap['active_after'] / mib:.0f} MiB |"
    )
    print(
        f"| process RSS before / after | {swap['rss_before'] / mib:.0f} / "
        f"{swap['rss_after'] / mib:.0f} MiB |"
    )
    print(f"| swap back to {info.name} (load) | {swap['back_load_s']:.2f} s |")


def compare(
    rounds: int, configs: list[str], runs: int, max_tokens: int, model: str, lock: str | None
) -> None:
    """Each configuration in its own process, alternating, `rounds` times (each process
    holding an exclusive lock on `lock`, if given, so that benchmarks do not overlap)."""
    results: dict[str, list[dict[str, Any]]] = {c: [] for c in configs}
    for round_ in range(rounds):
        for config in configs:
            command = [
                sys.executable, "-m", "bench.inference", "--json", "--blas", config,
                "--runs", str(runs), "--max-tokens", str(max_tokens), "--model", model,
            ]  # fmt: skip
            with open(lock or os.devnull, "a") as held:
                if lock:
                    fcntl.flock(held, fcntl.LOCK_EX)
                out = subprocess.run(command, check=True, capture_output=True, text=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            results[config].append(result)
            print(
                f"round {round_ + 1} {config}: load average "
                f"{result['load_average'][0]:.2f}-{result['load_average'][1]:.2f}",
                file=sys.stderr,
            )
    first = next(iter(results.values()))[0]
    loads = [x for rs in results.values() for r in rs for x in r["load_average"]]
    print(
        f"Model: {model}; prompt: {first['prompt_tokens']} tokens; {max_tokens} generated "
        f"tokens per run; {rounds} processes per configuration, alternating, {runs} runs "
        f"each: medians (min-max) over all {rounds * runs} runs; load average "
        f"{min(loads):.2f}-{max(loads):.2f}.\n"
    )
    print(
        "| `--blas` | path | TTFT (s) | prompt tok/s | generation tok/s "
        "| generation tok/s, median of each process |"
    )
    print("| --- | --- | ---: | ---: | ---: | --- |")
    for config, rs in results.items():
        for key, name in (("ours", "our engine"), ("mlx_lm", "mlx_lm.stream_generate")):
            samples = [Sample(**s) for r in rs for s in r[key]]
            per_process = ", ".join(
                f"{median([Sample(**s) for s in r[key]], 'gen_tps'):.1f}" for r in rs
            )
            print(
                f"| {config} | {name} | {spread(samples, 'ttft_s', 3)} "
                f"| {median(samples, 'prompt_tps'):.0f} | {spread(samples, 'gen_tps', 1)} "
                f"| {per_process} |"
            )
    print()
    for config, rs in results.items():
        print(f"- {config}: {rs[0]['blas']}; {rs[0]['precision']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--concurrent", type=int, default=8)
    parser.add_argument(
        "--blas", default="auto", help="auto | openblas | none (see agency/inference/blas.py)"
    )
    parser.add_argument("--model", default="smollm2-135m", help="e.g. smollm2-135m-q4")
    parser.add_argument("--json", action="store_true", help="raw samples as JSON, no swap")
    parser.add_argument(
        "--compare", type=int, default=0, metavar="ROUNDS", help="BLAS settings side by side"
    )
    parser.add_argument("--configs", default="auto,openblas", help="for --compare")
    parser.add_argument("--lock", help="for --compare: a file each process holds locked")
    args = parser.parse_args()
    if args.compare:
        compare(
            args.compare,
            args.configs.split(","),
            args.runs,
            args.max_tokens,
            args.model,
            args.lock,
        )
    else:
        asyncio.run(
            main(args.runs, args.max_tokens, args.concurrent, args.blas, args.model, args.json)
        )
