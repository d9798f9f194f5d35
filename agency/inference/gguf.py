"""A llama-architecture model read from a GGUF file with `mlx.core.load`.

`mx.load` returns the GGUF tensors with their quantization already in MLX's affine form
(weight, scales, biases; 32-value groups), so the model is built with matching
quantized layers and the tensors are loaded as they are. Two details of llama.cpp's
layout: tensor names differ from Hugging Face's (mapped below), and the query/key
projections are permuted for interleaved rotary embeddings, which is MLX's
`rope_traditional=True`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agency.inference.errors import ModelLoadError

GGUF_GROUP_SIZE = 32

_LAYER_NAMES = {
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
}
_TOP_NAMES = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}


def hf_name(gguf_name: str) -> str:
    """llama.cpp tensor name -> the mlx-lm llama module path (same last component)."""
    parts = gguf_name.split(".")
    if parts[0] == "blk" and len(parts) == 4 and parts[2] in _LAYER_NAMES:
        return f"model.layers.{parts[1]}.{_LAYER_NAMES[parts[2]]}.{parts[3]}"
    if len(parts) == 2 and parts[0] in _TOP_NAMES:
        return f"{_TOP_NAMES[parts[0]]}.{parts[1]}"
    raise ModelLoadError(f"unexpected tensor {gguf_name!r} in a llama GGUF file")


def _scalar(meta: dict[str, Any], key: str) -> Any:
    if key not in meta:
        raise ModelLoadError(f"GGUF metadata lacks {key!r}")
    value = meta[key]
    return value.item() if hasattr(value, "item") else value


def model_args(meta: dict[str, Any], has_output: bool) -> dict[str, Any]:
    arch = meta.get("general.architecture")
    if arch != "llama":
        raise ModelLoadError(
            f"GGUF architecture {arch!r} is not supported (only 'llama'); "
            "use an mlx-lm model directory for this model instead"
        )
    args: dict[str, Any] = {
        "model_type": "llama",
        "hidden_size": int(_scalar(meta, "llama.embedding_length")),
        "num_hidden_layers": int(_scalar(meta, "llama.block_count")),
        "intermediate_size": int(_scalar(meta, "llama.feed_forward_length")),
        "num_attention_heads": int(_scalar(meta, "llama.attention.head_count")),
        "num_key_value_heads": int(_scalar(meta, "llama.attention.head_count_kv")),
        "rms_norm_eps": float(_scalar(meta, "llama.attention.layer_norm_rms_epsilon")),
        "vocab_size": len(meta["tokenizer.ggml.tokens"]),
        "rope_theta": float(meta["llama.rope.freq_base"].item())
        if "llama.rope.freq_base" in meta
        else 10000.0,
        "rope_traditional": True,
        "tie_word_embeddings": not has_output,
    }
    if "llama.context_length" in meta:
        args["max_position_embeddings"] = int(_scalar(meta, "llama.context_length"))
    return args


def load_gguf(
    path: Path, *, dequantize: bool, packed: dict[str, Any] | None = None
) -> tuple[Any, Any, dict[str, Any]]:
    """(model, tokenizer, metadata). With `dequantize` the weights become float32 (the
    fast path on a CPU); otherwise they keep the file's quantization. `packed`, when
    given with `dequantize`, receives the file's tensors of each dequantized 4- or 8-bit
    layer (module path -> (weight, scales, biases)) for qgemv.py."""
    import mlx.core as mx
    import mlx.nn as nn
    from mlx_lm.models import llama

    from agency.inference.gguf_tokenizer import build_tokenizer

    try:
        tensors, meta = mx.load(str(path), return_metadata=True)
    except (OSError, ValueError, RuntimeError) as err:
        raise ModelLoadError(f"cannot read GGUF file {path}: {err}") from err
    weights = {hf_name(k): v for k, v in tensors.items()}
    args = llama.ModelArgs.from_dict(model_args(meta, has_output="lm_head.weight" in weights))
    model = llama.Model(args)

    def quantization(module_path: str) -> dict[str, int] | None:
        scales = weights.get(f"{module_path}.scales")
        if scales is None:
            return None
        # GGUF blocks hold 32 values; the bit width follows from the packed row length.
        in_features = scales.shape[-1] * GGUF_GROUP_SIZE
        bits = weights[f"{module_path}.weight"].shape[-1] * 32 // in_features
        return {"group_size": GGUF_GROUP_SIZE, "bits": bits}

    if dequantize:
        if packed is not None:
            for name, value in weights.items():
                module_path, _, leaf = name.rpartition(".")
                params = quantization(module_path)
                if leaf == "weight" and params is not None and params["bits"] in (4, 8):
                    packed[module_path] = (
                        value,
                        weights[f"{module_path}.scales"],
                        weights[f"{module_path}.biases"],
                    )
        weights = _dequantized(weights, quantization)
    else:
        nn.quantize(model, class_predicate=lambda p, _m: quantization(p) or False)
    try:
        model.load_weights(list(weights.items()), strict=True)
    except ValueError as err:
        raise ModelLoadError(f"GGUF file {path} does not match a llama model: {err}") from err
    model.eval()
    return model, build_tokenizer(meta), meta


def _dequantized(weights: dict[str, Any], quantization: Any) -> dict[str, Any]:
    import mlx.core as mx

    out: dict[str, Any] = {}
    for name, value in weights.items():
        module_path, _, leaf = name.rpartition(".")
        params = quantization(module_path)
        if params is None:
            out[name] = value.astype(mx.float32)
        elif leaf == "weight":
            # float32 scales: MLX's CPU half-precision arithmetic is emulated and slow.
            out[name] = mx.dequantize(
                value,
                weights[f"{module_path}.scales"].astype(mx.float32),
                weights[f"{module_path}.biases"].astype(mx.float32),
                **params,
            )
    return out
