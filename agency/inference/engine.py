"""The inference engine: a registry of models, hot swap, and streaming generation.

All MLX computation runs on one thread (threads.py): MLX keeps per-thread streams, two
CPU cores gain nothing from parallel generations, and a single FIFO thread interleaves
concurrent requests a token at a time, so each of them streams steadily. Loading runs
on a second thread so that a swap does not pause requests in flight.

The engine is thread- and event-loop-agnostic (its state is guarded by a threading lock
and every wait is a `concurrent.futures` future wrapped for the caller's loop), so one
engine can serve the API's loop, a worker's loop and a benchmark alike.

Hot swap: `swap(name)` loads the new model, then switches `current` under the lock, so
every request that starts afterwards gets the new model; each request holds a lease on
the model it started with, and the old model is freed when its last lease ends.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from contextlib import aclosing
from typing import Any, TypeVar

from agency.inference.blas import prefer_openblas
from agency.inference.catalog import DEFAULT_MODEL, Catalog, ModelSource, Precision
from agency.inference.errors import EngineClosed, InferenceError, ModelNotFound, PromptTooLong
from agency.inference.job import GenerationJob, Step, Summary, TokenStream
from agency.inference.loading import LoadedModel, free, load_source
from agency.inference.threads import mlx_thread
from agency.inference.types import ChatMessage, Completion, ModelInfo, SwapReport, Token
from agency.metrics.inference import observe_generation

T = TypeVar("T")

DEFAULT_MAX_TOKENS = 256
DEFAULT_TIMEOUT_S = 120.0


class Engine:
    def __init__(
        self,
        catalog: Catalog | None = None,
        *,
        precision: Precision = "auto",
        blas: str = "auto",
        max_tokens: int = DEFAULT_MAX_TOKENS,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.catalog = catalog or Catalog.build({}, DEFAULT_MODEL)
        self._precision: Precision = precision
        self._blas = blas
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._current: LoadedModel | None = None
        self._resident: dict[str, LoadedModel] = {}
        self._loading: dict[str, Future[LoadedModel]] = {}
        self._compute = mlx_thread("compute")
        self._loader = mlx_thread("load")
        self._closed = False

    @classmethod
    def from_settings(cls, settings: Any) -> Engine:
        return cls(
            Catalog.build(settings.models, settings.model),
            precision=settings.inference_precision,
            blas=settings.inference_blas,
            max_tokens=settings.inference_max_tokens,
            timeout_s=settings.inference_timeout_s,
        )

    # ------------------------------------------------------------------ registry
    def models(self) -> list[ModelInfo]:
        with self._lock:
            current = self._current
            resident = dict(self._resident)
        infos = []
        for source in self.catalog.all():
            loaded = resident.get(source.name)
            if current is not None and current.name == source.name:
                loaded = current
            infos.append(_info(source, loaded, current, self.catalog.default))
        return infos

    def current(self) -> str | None:
        with self._lock:
            return self._current.name if self._current else None

    def loaded(self, name: str | None = None) -> LoadedModel | None:
        """The loaded model by that name (default: the current one), e.g. to call mlx-lm on
        the very same weights in a benchmark."""
        with self._lock:
            if name is None or (self._current is not None and self._current.name == name):
                return self._current
            return self._resident.get(name)

    async def load(self, name: str | None = None) -> ModelInfo:
        """Load a model (it becomes current if none is)."""
        loaded = await self._ensure(name or self.catalog.default)
        with self._lock:
            if self._current is None:
                self._current = loaded
            current = self._current
        return _info(loaded.source, loaded, current, self.catalog.default)

    async def swap(self, name: str) -> SwapReport:
        """Make `name` the model new requests get; the previous one is freed once the
        requests running on it have finished."""
        started = time.perf_counter()
        with self._lock:
            was_loaded = name in self._resident
        loaded = await self._ensure(name)
        freed: LoadedModel | None = None
        with self._lock:
            previous = self._current
            self._current = loaded
            previous_in_flight = 0
            if previous is not None and previous is not loaded:
                previous.retiring = True
                if self._resident.get(previous.name) is previous:
                    del self._resident[previous.name]
                previous_in_flight = previous.in_flight
                if previous_in_flight == 0 and not previous.freed:
                    previous.freed = True
                    freed = previous
        switch_s = time.perf_counter() - started
        if freed is not None:
            await self._on_compute(free, freed)
        return SwapReport(
            previous=previous.name if previous else None,
            current=loaded.name,
            load_s=0.0 if was_loaded else loaded.load_s,
            switch_s=round(switch_s, 3),
            memory_bytes=loaded.param_bytes,
            previous_in_flight=previous_in_flight,
            previous_freed=freed is not None,
        )

    async def _ensure(self, name: str) -> LoadedModel:
        source = self.catalog.get(name)
        source.located()  # a missing model fails here, clearly, before any thread work
        with self._lock:
            if self._closed:
                raise EngineClosed("the inference engine is shut down")
            loaded = self._resident.get(name)
            if loaded is not None:
                return loaded
            future = self._loading.get(name)
            if future is None:
                future = self._loader.submit(self._load_blocking, source)
                self._loading[name] = future
                future.add_done_callback(lambda f: self._loaded(name, f))
        # Shielded: a waiter that gives up must not cancel a load others wait for.
        return await asyncio.shield(asyncio.wrap_future(future))

    def _load_blocking(self, source: ModelSource) -> LoadedModel:
        prefer_openblas(self._blas)  # before the first `import mlx.core` of the process
        return load_source(source, self._precision)

    def _loaded(self, name: str, future: Future[LoadedModel]) -> None:
        with self._lock:
            self._loading.pop(name, None)
            if not future.cancelled() and future.exception() is None:
                self._resident[name] = future.result()

    # ------------------------------------------------------------------ leases
    async def _acquire(self, name: str | None) -> LoadedModel:
        for _ in range(5):
            with self._lock:
                if self._closed:
                    raise EngineClosed("the inference engine is shut down")
                if name is None:
                    loaded = self._current
                else:
                    loaded = self._resident.get(name)
                    if self._current is not None and self._current.name == name:
                        loaded = self._current
                if loaded is not None:
                    loaded.in_flight += 1
                    return loaded
            if name is None:
                await self.load(None)
            else:
                await self._ensure(name)
        raise InferenceError("the model changed repeatedly while the request waited for it")

    def _release(self, loaded: LoadedModel) -> None:
        with self._lock:
            loaded.in_flight -= 1
            retire = loaded.retiring and loaded.in_flight == 0 and not loaded.freed
            if retire:
                loaded.freed = True
        if retire:
            self._compute.submit(free, loaded)

    # ------------------------------------------------------------------ generation
    async def stream(
        self,
        messages: list[ChatMessage],
        *,
        model: str | None = None,
        max_tokens: int | None = None,
        timeout_s: float | None = None,
        temperature: float = 0.0,
    ) -> AsyncIterator[Token | Completion]:
        """Yields Token events as they are generated, then one Completion."""
        started = time.perf_counter()
        limit = max(1, max_tokens or self.max_tokens)
        deadline = started + (timeout_s or self.timeout_s)
        loaded = await self._acquire(model)
        loop = asyncio.get_running_loop()
        steps: asyncio.Queue[Step | BaseException] = asyncio.Queue()

        def sink(item: Step | BaseException) -> None:
            loop.call_soon_threadsafe(steps.put_nowait, item)

        def start() -> None:
            # On the inference thread: template, tokenize, then stream from the next round.
            try:
                prompt = prompt_tokens(loaded, messages, limit)
                job = GenerationJob(
                    loaded, prompt, limit, temperature, started=started, deadline=deadline
                )
            except Exception as err:
                sink(err)
                return
            handle.append(TokenStream(job, sink))
            self._compute.add_stream(handle[0])

        handle: list[TokenStream] = []
        self._compute.submit(start)
        summary: Summary | None = None
        try:
            while summary is None:
                item = await steps.get()
                if isinstance(item, BaseException):
                    raise item
                if item.text:
                    yield Token(text=item.text)
                summary = item.summary
            observe_generation(
                loaded.name,
                finish_reason=summary.finish_reason,
                prompt_tokens=summary.prompt_tokens,
                generation_tokens=summary.generation_tokens,
                ttft_s=summary.ttft_s,
                generation_tps=summary.generation_tps,
            )
            yield Completion(
                text=summary.text,
                model=loaded.name,
                finish_reason=summary.finish_reason,
                prompt_tokens=summary.prompt_tokens,
                generation_tokens=summary.generation_tokens,
                ttft_s=round(summary.ttft_s, 4),
                prompt_tps=round(summary.prompt_tps, 2),
                generation_tps=round(summary.generation_tps, 2),
                total_s=round(time.perf_counter() - started, 4),
            )
        finally:
            if summary is None:
                # The consumer went away mid-generation: the thread drops the job (and its
                # cache) at its next round; a job not started yet is dropped when it is.
                self._compute.submit(_cancel, handle)
            self._release(loaded)

    async def complete(self, messages: list[ChatMessage], **options: Any) -> Completion:
        async with aclosing(self.stream(messages, **options)) as events:
            async for event in events:
                if isinstance(event, Completion):
                    return event
        raise InferenceError("generation ended without a result")

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run `fn` on the inference thread, after the work queued there (for example
        mlx-lm itself on a loaded model, in a benchmark)."""
        return self._compute.submit(fn, *args)

    async def _on_compute(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.wrap_future(self._compute.submit(fn, *args))

    # ------------------------------------------------------------------ shutdown
    def close(self, timeout_s: float = 30.0) -> None:
        """Refuse new work, free the models and wait (bounded) for the threads to settle."""
        with self._lock:
            self._closed = True
            models = [*self._resident.values()]
            if self._current is not None and self._current not in models:
                models.append(self._current)
            self._resident.clear()
            self._current = None
        self._loader.drain(timeout_s)
        for loaded in models:
            if not loaded.freed:
                loaded.freed = True
                self._compute.submit(free, loaded)
        # A process that exits while MLX is mid-computation may abort: let it finish.
        self._compute.drain(timeout_s)


def _cancel(handle: list[TokenStream]) -> None:
    for stream in handle:
        stream.cancelled = True


def prompt_tokens(loaded: LoadedModel, messages: list[ChatMessage], max_tokens: int) -> list[int]:
    """The chat template applied; the oldest turns are dropped until the prompt fits."""
    tokenizer = loaded.tokenizer
    budget = loaded.context_length - max_tokens
    turns = [m.model_dump() for m in messages]
    system = [t for t in turns if t["role"] == "system"][:1]
    rest = [t for t in turns if t["role"] != "system"]
    while True:
        ids = list(tokenizer.apply_chat_template(system + rest, add_generation_prompt=True))
        if len(ids) <= budget or len(rest) <= 1:
            break
        rest = rest[1:]
    if len(ids) > budget:
        raise PromptTooLong(
            f"the prompt is {len(ids)} tokens; model {loaded.name!r} takes at most {budget} "
            f"with {max_tokens} to generate (context {loaded.context_length})"
        )
    return ids


def _info(
    source: ModelSource, loaded: LoadedModel | None, current: LoadedModel | None, default: str
) -> ModelInfo:
    problem = None
    try:
        source.located()
    except ModelNotFound as err:
        problem = str(err)
    return ModelInfo(
        name=source.name,
        kind=source.kind,
        path=str(source.path) if source.path else None,
        description=source.description,
        available=problem is None,
        problem=problem,
        loaded=loaded is not None and not loaded.freed,
        current=current is not None and current.name == source.name,
        default=source.name == default,
        retiring=loaded.retiring if loaded else False,
        precision=loaded.precision if loaded else None,
        device=loaded.device if loaded else None,
        load_s=loaded.load_s if loaded else None,
        memory_bytes=loaded.param_bytes if loaded else None,
        in_flight=loaded.in_flight if loaded else 0,
    )
