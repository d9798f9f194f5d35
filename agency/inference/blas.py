"""Give MLX's CPU backend a fast BLAS before MLX is imported.

The `mlx-cpu` wheel bundles the reference BLAS (a 1024x1024 float32 matmul at a few
GFLOP/s). Loading an optimised OpenBLAS into the process's global symbol scope *before*
`mlx.core` is first imported makes MLX resolve `cblas_sgemm` to it (the global scope is
searched before a library's own dependencies): what `LD_PRELOAD` would do, without
restarting the process with a changed environment.

MLX multiplies through `cblas_sgemm` only. Generating a token multiplies a single row by
each weight matrix, which OpenBLAS's sgemm does several times slower than its sgemv, and
which a GGUF model's own 4- and 8-bit weights make 4-6x cheaper to read. So, when the
shim (shim.c) has been built for this machine (`make venv`, shim.py), it is loaded
first: its `cblas_sgemm` hands one-row products to its quantized kernel (weights that
qgemv.py registered) or to OpenBLAS's `cblas_sgemv`, everything else to OpenBLAS's
`cblas_sgemm`. Nothing is compiled at run time: without the shim the engine runs on
OpenBLAS alone and logs why. On macOS MLX uses Accelerate and Metal; nothing is done.
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
# Loaded libraries stay referenced for the life of the process.
_libraries: list[ctypes.CDLL] = []
# The shim once it is bound to OpenBLAS (MLX's products go through it).
_bound: list[ctypes.CDLL] = []


def prefer_openblas(setting: str = "auto") -> str:
    """Choose MLX's CPU BLAS; returns what was done, for reports.

    `setting`: "auto" (OpenBLAS, plus the shim when it is built for this machine),
    "openblas" (OpenBLAS alone), "none" (the wheel's bundled BLAS), or a path to a BLAS
    library (with the shim). The first call decides for the whole process.
    """
    if "status" in _state:
        return _state["status"]
    status = _choose(setting)
    _state["status"] = status
    # A shim that was wanted and is missing is worth a warning: decoding is slower.
    log.log(
        logging.WARNING if "(no shim:" in status else logging.INFO, "inference BLAS: %s", status
    )
    return status


def blas_status() -> str:
    return _state.get("status", "not configured")


def bound_shim() -> ctypes.CDLL | None:
    """The shim MLX's products go through, if this process chose it."""
    return _bound[0] if _bound else None


def _choose(setting: str) -> str:
    if sys.platform != "linux":
        return "platform default (not Linux)"
    if setting == "none":
        return "bundled reference BLAS (AGENCY_INFERENCE_BLAS=none)"
    if "mlx.core" in sys.modules:
        return "bundled reference BLAS (mlx was imported before the engine could choose)"
    if setting in ("auto", "openblas"):
        found = [p for p in CANDIDATES if Path(p).is_file()]
        if not found:
            return "bundled reference BLAS (install libopenblas0-pthread for a faster CPU path)"
        path = found[0]
    else:
        path = setting
        if not Path(path).is_file():
            return f"bundled reference BLAS ({setting} does not exist)"
    try:
        # Loadable? Checked first: once the shim is in the global scope, MLX's products
        # go to it, and it needs OpenBLAS behind it.
        ctypes.CDLL(path)
    except OSError as err:
        return f"bundled reference BLAS (could not load {path}: {err})"
    shim, shim_note = (None, "") if setting == "openblas" else _load_shim()
    # The shim precedes OpenBLAS in the global scope: it was loaded (global) first.
    blas = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    _libraries.append(blas)
    if shim is not None:
        shim.agency_blas_bind(
            ctypes.cast(blas.cblas_sgemm, ctypes.c_void_p),
            ctypes.cast(blas.cblas_sgemv, ctypes.c_void_p),
        )
        _bound.append(shim)
    return f"OpenBLAS {path}{shim_note}"


def _load_shim() -> tuple[ctypes.CDLL | None, str]:
    # Imported here: `python -m agency.inference.shim` must not find it imported already.
    from agency.inference.shim import find

    try:
        library, why = find()
    except OSError as err:
        library, why = None, str(err)
    if library is None:
        return None, f" (no shim: {why})"
    try:
        shim = ctypes.CDLL(str(library), mode=ctypes.RTLD_GLOBAL)
        shim.agency_blas_bind.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    except (OSError, AttributeError) as err:
        return None, f" (no shim: cannot load {library}: {err})"
    _libraries.append(shim)
    return shim, f" + shim {library} (one-row products: quantized kernel or sgemv)"
