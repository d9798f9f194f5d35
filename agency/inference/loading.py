"""Turning a ModelSource into a loaded model: weights in memory, tokenizer, measurements.

Runs on the engine's inference thread (all MLX work happens on that one thread).
"""

from __future__ import annotations

import gc
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agency.inference.catalog import ModelSource, Precision
from agency.inference.errors import ModelLoadError
from agency.inference.qgemv import Packed, attach

# Nothing is downloaded at run time: mlx-lm and transformers must only read local files.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@dataclass
class LoadedModel:
    name: str
    source: ModelSource
    model: Any
    tokenizer: Any  # mlx_lm TokenizerWrapper
    precision: str
    device: str
    load_s: float
    param_bytes: int
    context_length: int
    # Requests running on this model right now (the engine's leases).
    in_flight: int = 0
    retiring: bool = False
    freed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def on_gpu() -> bool:
    import mlx.core as mx

    return mx.default_device() == mx.gpu


def load_source(source: ModelSource, precision: Precision) -> LoadedModel:
    """Load `source` (raises ModelNotFound when its files are missing)."""
    path = source.located()
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm.tokenizer_utils import BPEStreamingDetokenizer, TokenizerWrapper
    from mlx_lm.utils import dequantize_model

    started = time.perf_counter()
    wanted = source.precision if source.precision != "auto" else precision
    if wanted == "auto":
        wanted = "native" if on_gpu() else "float32"
    packed: dict[str, Packed] = {}
    if source.kind == "gguf":
        from agency.inference.gguf import load_gguf

        model, hf_tokenizer, meta = load_gguf(path, dequantize=wanted == "float32", packed=packed)
        tokenizer = TokenizerWrapper(hf_tokenizer, detokenizer_class=BPEStreamingDetokenizer)
        context = int(meta["llama.context_length"].item()) if "llama.context_length" in meta else 0
    else:
        model, tokenizer, context = _load_mlx_dir(path)
    quantized = _quantized_bits(model)
    if source.kind == "gguf" and wanted == "float32":
        label = "float32 (dequantized from GGUF)"
    elif wanted == "float32":
        # MLX's CPU backend multiplies float32 through BLAS; its quantized kernels and
        # half-precision paths are several times slower there.
        if quantized:
            model = dequantize_model(model)
        model.set_dtype(mx.float32)
        label = "float32" + (f" (dequantized from {quantized}-bit)" if quantized else "")
    else:
        label = f"{quantized}-bit quantized" if quantized else _float_dtype(model)
    mx.eval(model.parameters())
    param_bytes = sum(v.nbytes for _, v in tree_flatten(model.parameters()))
    extra: dict[str, Any] = {}
    # Decoding reads the file's quantized weights, not the float32 copy (qgemv.py).
    quantized_copy = attach(model, packed) if packed else None
    if quantized_copy is not None:
        extra["quantized_copy"] = quantized_copy
        param_bytes += quantized_copy.nbytes
        label += "; decoding reads the GGUF's own weights"
    return LoadedModel(
        name=source.name,
        source=source,
        model=model,
        tokenizer=tokenizer,
        precision=label,
        device="gpu" if on_gpu() else "cpu",
        load_s=round(time.perf_counter() - started, 3),
        param_bytes=int(param_bytes),
        context_length=context or 2048,
        extra=extra,
    )


def free(loaded: LoadedModel) -> None:
    """Drop the weights and give MLX's cached buffers back."""
    import mlx.core as mx

    quantized_copy = loaded.extra.pop("quantized_copy", None)
    if quantized_copy is not None:
        quantized_copy.release()  # before the weights it maps are freed, addresses reused
    loaded.model = None
    loaded.tokenizer = None
    gc.collect()
    mx.clear_cache()


def _load_mlx_dir(path: Path) -> tuple[Any, Any, int]:
    from mlx_lm.utils import load

    try:
        model, tokenizer = load(str(path))
    except (OSError, ValueError, KeyError) as err:
        raise ModelLoadError(f"cannot load the mlx-lm model at {path}: {err}") from err
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        config = {}
    return model, tokenizer, int(config.get("max_position_embeddings") or 0)


def _quantized_bits(model: Any) -> int | None:
    import mlx.nn as nn

    for _, module in model.named_modules():
        if isinstance(module, nn.QuantizedLinear | nn.QuantizedEmbedding):
            return int(module.bits)
    return None


def _float_dtype(model: Any) -> str:
    from mlx.utils import tree_flatten

    for _, value in tree_flatten(model.parameters()):
        return str(value.dtype).removeprefix("mlx.core.")
    return "unknown"
