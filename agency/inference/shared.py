"""One engine per process and model configuration, shared by the API, the worker's
activities and anything else in the process, so that a model is loaded once per process.

The key is what decides which models load and how; callers pass their own token and
time limits per request (the engine's defaults are those of the first settings seen)."""

from __future__ import annotations

import threading
from typing import Any

from agency.inference.engine import Engine

_engines: dict[tuple[Any, ...], Engine] = {}
_lock = threading.Lock()


def _key(settings: Any) -> tuple[Any, ...]:
    return (
        tuple(sorted((name, str(path)) for name, path in settings.models.items())),
        settings.model,
        settings.inference_precision,
        settings.inference_blas,
    )


def shared_engine(settings: Any) -> Engine:
    key = _key(settings)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = Engine.from_settings(settings)
        return engine
