"""The GGUF path: tensor names, the model's shape, and the tokenizer from the metadata."""

from __future__ import annotations

from typing import Any

import pytest

from agency.inference.blas import prefer_openblas
from agency.inference.catalog import smollm2_path
from agency.inference.errors import ModelLoadError
from agency.inference.gguf import hf_name, model_args
from agency.inference.gguf_tokenizer import build_tokenizer


@pytest.fixture(scope="module")
def metadata() -> dict[str, Any]:
    prefer_openblas()  # before this process's first `import mlx.core`, as the engine does
    import mlx.core as mx

    _, meta = mx.load(str(smollm2_path()), return_metadata=True)
    return meta


def test_llama_cpp_names_map_to_mlx_lm_names() -> None:
    assert hf_name("blk.3.attn_q.weight") == "model.layers.3.self_attn.q_proj.weight"
    assert hf_name("blk.0.ffn_down.scales") == "model.layers.0.mlp.down_proj.scales"
    assert hf_name("token_embd.biases") == "model.embed_tokens.biases"
    assert hf_name("output_norm.weight") == "model.norm.weight"
    with pytest.raises(ModelLoadError):
        hf_name("blk.0.unheard_of.weight")


def test_the_model_shape_comes_from_the_metadata(metadata: dict[str, Any]) -> None:
    args = model_args(metadata, has_output=False)
    assert args["num_hidden_layers"] == 30 and args["hidden_size"] == 576
    assert args["num_key_value_heads"] == 3 and args["vocab_size"] == 49152
    # llama.cpp permutes q/k for interleaved rotary embeddings.
    assert args["rope_traditional"] is True
    assert args["tie_word_embeddings"] is True
    with pytest.raises(ModelLoadError):
        model_args({**metadata, "general.architecture": "mamba"}, has_output=False)


def test_the_tokenizer_keeps_control_tokens_whole(metadata: dict[str, Any]) -> None:
    tokenizer = build_tokenizer(metadata)
    ids = tokenizer.encode("<|im_start|>user\nHi 2025<|im_end|>", add_special_tokens=False)
    assert ids[0] == 1 and ids[-1] == 2  # one token each, as in the GGUF vocabulary
    assert tokenizer.decode(ids, skip_special_tokens=True) == "user\nHi 2025"
    # SmolLM's pre-tokenizer splits numbers into single digits.
    digits = tokenizer.encode("2025", add_special_tokens=False)
    assert len(digits) == 4
    assert tokenizer.eos_token == "<|im_end|>"
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hi"}], add_generation_prompt=True, tokenize=False
    )
    assert prompt.endswith("<|im_start|>assistant\n") and "SmolLM" in prompt
