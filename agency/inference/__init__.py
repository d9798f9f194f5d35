"""Local inference with MLX: models by name, hot swap, streaming generation.

Importing this package does not import MLX; the first model load does (after choosing
the BLAS library, see `blas.py`).
"""

from agency.inference.catalog import DEFAULT_MODEL, Catalog, ModelSource
from agency.inference.engine import Engine
from agency.inference.errors import (
    EngineClosed,
    InferenceError,
    ModelLoadError,
    ModelNotFound,
    PromptTooLong,
    UnknownModel,
)
from agency.inference.types import ChatMessage, Completion, ModelInfo, SwapReport, Token

__all__ = [
    "DEFAULT_MODEL",
    "Catalog",
    "ChatMessage",
    "Completion",
    "Engine",
    "EngineClosed",
    "InferenceError",
    "ModelInfo",
    "ModelLoadError",
    "ModelNotFound",
    "ModelSource",
    "PromptTooLong",
    "SwapReport",
    "Token",
    "UnknownModel",
]
