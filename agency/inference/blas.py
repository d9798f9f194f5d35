"""Give MLX's CPU backend a fast BLAS before MLX is imported.

The `mlx-cpu` wheel bundles the reference BLAS (a 1024x1024 float32 matmul at a few
GFLOP/s). Loading an optimised OpenBLAS into the process's global symbol scope *before*
`mlx.core` is first imported makes MLX resolve `cblas_sgemm` & co. to it (the global scope
is searched before a library's own dependencies), which is what `LD_PRELOAD` would do,
without having to restart the process with a changed environment. On macOS MLX uses
Accelerate and Metal, and this does nothing.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)

# Where Debian's libopenblas0-pthread (and -openmp/-serial) put the library.
CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
    "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
    "/usr/lib64/libopenblas.so.0",
    "/usr/lib/libopenblas.so.0",
)

_state: dict[str, str] = {}


def prefer_openblas(setting: str = "auto") -> str:
    """Load OpenBLAS globally if possible; returns what was done, for reports.

    `setting` is "auto" (the first library found in CANDIDATES), "none", or a path.
    Idempotent: the first call decides for the whole process.
    """
    if "status" in _state:
        return _state["status"]
    status = _load(setting)
    _state["status"] = status
    log.info("inference BLAS: %s", status)
    return status


def blas_status() -> str:
    return _state.get("status", "not configured")


def _load(setting: str) -> str:
    if sys.platform != "linux":
        return "platform default (not Linux)"
    if setting == "none":
        return "bundled reference BLAS (AGENCY_INFERENCE_BLAS=none)"
    if "mlx.core" in sys.modules:
        return "bundled reference BLAS (mlx was imported before the engine could choose)"
    paths = [setting] if setting != "auto" else list(CANDIDATES)
    for path in paths:
        if not Path(path).is_file():
            continue
        try:
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        except OSError as err:
            return f"bundled reference BLAS (could not load {path}: {err})"
        return f"OpenBLAS {path}"
    if setting != "auto":
        return f"bundled reference BLAS ({setting} does not exist)"
    return "bundled reference BLAS (install libopenblas0-pthread for a faster CPU path)"
