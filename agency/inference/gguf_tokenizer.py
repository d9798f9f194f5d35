"""A Hugging Face tokenizer rebuilt from a GGUF file's metadata, with `tokenizers`.

llama.cpp stores the vocabulary, the merges, each token's type and the chat template in
the GGUF header. Byte-level BPE vocabularies (`tokenizer.ggml.model == "gpt2"`, which
SmolLM2, Llama 3, Qwen and StarCoder use) are rebuilt here; control tokens become special
tokens so that `<|im_start|>` in a chat template is one token, never split into bytes.
"""

from __future__ import annotations

from typing import Any

from agency.inference.errors import ModelLoadError

# llama.cpp token types (gguf TokenType).
CONTROL = 3
USER_DEFINED = 4

# Pre-tokenizer families by `tokenizer.ggml.pre` (llama.cpp's names).
DIGIT_SPLITTING = frozenset({"smollm", "starcoder", "refact", "codeshell", "exaone", "minerva"})
LLAMA3_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
LLAMA3_FAMILY = frozenset({"llama-bpe", "llama3", "smaug-bpe", "dbrx"})

# Used when the file carries no chat template but speaks ChatML.
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
PLAIN_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] + ': ' + message['content'] + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ 'assistant: ' }}{% endif %}"
)


def _int(meta: dict[str, Any], key: str) -> int | None:
    value = meta.get(key)
    if value is None:
        return None
    return int(value.item()) if hasattr(value, "item") else int(value)


def build_tokenizer(meta: dict[str, Any]) -> Any:
    """A `transformers.PreTrainedTokenizerFast` equivalent to the GGUF's tokenizer."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    kind = meta.get("tokenizer.ggml.model")
    if kind != "gpt2":
        raise ModelLoadError(
            f"GGUF tokenizer {kind!r} is not supported (only byte-level BPE, 'gpt2'); "
            "use an mlx-lm model directory for this model instead"
        )
    tokens: list[str] = list(meta["tokenizer.ggml.tokens"])
    merges = [tuple(m.split(" ", 1)) for m in meta.get("tokenizer.ggml.merges", [])]
    types_raw = meta.get("tokenizer.ggml.token_type")
    types: list[int] = types_raw.tolist() if types_raw is not None else [1] * len(tokens)

    tok = Tokenizer(
        models.BPE(
            vocab={t: i for i, t in enumerate(tokens)},
            merges=merges,  # type: ignore[arg-type]
        )
    )
    pre = str(meta.get("tokenizer.ggml.pre", "default"))
    if pre in DIGIT_SPLITTING:
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Digits(individual_digits=True),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
            ]
        )
    elif pre in LLAMA3_FAMILY:
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(LLAMA3_REGEX), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    typed = list(zip(tokens, types, strict=True))
    tok.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t, k in typed if k == CONTROL]
    )
    tok.add_tokens(
        [AddedToken(t, special=False, normalized=False) for t, k in typed if k == USER_DEFINED]
    )

    def named(key: str) -> str | None:
        index = _int(meta, key)
        return tokens[index] if index is not None and 0 <= index < len(tokens) else None

    template = meta.get("tokenizer.chat_template")
    if not template:
        template = CHATML_TEMPLATE if "<|im_start|>" in tokens[:1000] else PLAIN_TEMPLATE
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=named("tokenizer.ggml.bos_token_id"),
        eos_token=named("tokenizer.ggml.eos_token_id"),
        unk_token=named("tokenizer.ggml.unknown_token_id"),
        pad_token=named("tokenizer.ggml.padding_token_id"),
    )
    hf.chat_template = str(template)
    return hf
