"""An mlx-lm model directory (here: the default GGUF written out as one) is a model the
engine serves like any other."""

from __future__ import annotations

import json
from pathlib import Path

from agency.inference import Catalog, Engine
from agency.inference.catalog import smollm2_path
from agency.inference.convert import export_mlx_dir
from tests.support.inference import question


async def test_an_mlx_lm_directory_answers_like_the_gguf(tmp_path: Path) -> None:
    out = export_mlx_dir(smollm2_path(), tmp_path / "smollm2-mlx")  # type: ignore[arg-type]
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "llama" and config["rope_traditional"] is True
    assert config["quantization"]["bits"] == 4
    assert config["quantization"]["model.embed_tokens"]["bits"] == 8
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()

    engine = Engine(Catalog.build({"smollm2-mlx": out}, default="smollm2-mlx"))
    try:
        info = await engine.load()
        assert info.kind == "mlx" and info.current
        done = await engine.complete(question(), max_tokens=12)
        assert "Paris" in done.text
        assert done.model == "smollm2-mlx"
    finally:
        engine.close()
