"""Give MLX's CPU backend a fast BLAS before MLX is imported.

The `mlx-cpu` wheel bundles the reference BLAS (a 1024x1024 float32 matmul at a few
GFLOP/s). Loading an optimised OpenBLAS into the process's global symbol scope *before*
`mlx.core` is first imported makes MLX resolve `cblas_sgemm` to it (the global scope is
searched before a library's own dependencies): what `LD_PRELOAD` would do, without
restarting the process with a changed environment.

MLX multiplies through `cblas_sgemm` only. Generating a token multiplies a single row by
each weight matrix, and OpenBLAS's sgemm is 2-5x slower at that than its sgemv (on this
kind of machine: 0.47 ms against 0.12 ms for a 1536x576 layer). So, when a C compiler is
at hand, a tiny shim (SHIM_SOURCE, compiled once into a cache directory) is loaded first:
its `cblas_sgemm` hands one-row products to OpenBLAS's `cblas_sgemv` and everything else
to OpenBLAS's `cblas_sgemm`. The shim also holds a quantized matrix-vector kernel
(qgemv_source.py) that qgemv.py points at a GGUF model's own 4- and 8-bit weights.
On macOS MLX uses Accelerate and Metal; nothing is done.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from agency.inference.qgemv_source import QGEMV_SOURCE

log = logging.getLogger(__name__)

# Where Debian's libopenblas0-pthread (and -openmp/-serial) put the library.
CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
    "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
    "/usr/lib64/libopenblas.so.0",
    "/usr/lib/libopenblas.so.0",
)

_SGEMM_SOURCE = r"""
#include <stddef.h>
enum { RowMajor = 101, NoTrans = 111, Trans = 112 };
typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int,
                         const float *, int, float, float *, int);
typedef void (*sgemv_fn)(int, int, int, int, float, const float *, int, const float *,
                         int, float, float *, int);
static sgemm_fn real_sgemm;
static sgemv_fn real_sgemv;

void agency_blas_bind(void *sgemm, void *sgemv) {
    real_sgemm = (sgemm_fn)sgemm;
    real_sgemv = (sgemv_fn)sgemv;
}

/* C(1 x n) = alpha * op(A)(1 x k) * op(B)(k x n) + beta * C, row-major: a matrix-vector
   product with B, which sgemv does several times faster than sgemm. */
void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha,
                 const float *a, int lda, const float *b, int ldb, float beta,
                 float *c, int ldc) {
    if (m == 1 && order == RowMajor) {
        int inca = ta == NoTrans ? 1 : lda;
        if (tb == Trans && q_gemv(b, n, k, ldb, a, inca, alpha, beta, c))
            return;
        if (tb == Trans)
            real_sgemv(RowMajor, NoTrans, n, k, alpha, b, ldb, a, inca, beta, c, 1);
        else
            real_sgemv(RowMajor, Trans, k, n, alpha, b, ldb, a, inca, beta, c, 1);
        return;
    }
    real_sgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
"""
# The quantized kernel and its registry come first: the sgemm shim calls `q_gemv`.
SHIM_SOURCE = QGEMV_SOURCE + _SGEMM_SOURCE

_state: dict[str, str] = {}
# Loaded libraries stay referenced for the life of the process.
_libraries: list[ctypes.CDLL] = []
# The shim once it is bound to OpenBLAS (MLX's products go through it).
_bound: list[ctypes.CDLL] = []


def prefer_openblas(setting: str = "auto") -> str:
    """Choose MLX's CPU BLAS; returns what was done, for reports.

    `setting`: "auto" (OpenBLAS, plus the sgemv shim when a C compiler is available),
    "openblas" (OpenBLAS alone), "none" (the wheel's bundled BLAS), or a path to a BLAS
    library (with the shim). The first call decides for the whole process.
    """
    if "status" in _state:
        return _state["status"]
    status = _choose(setting)
    _state["status"] = status
    log.info("inference BLAS: %s", status)
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
    shim_note = ""
    if setting != "openblas":
        # The shim must precede OpenBLAS in the global scope, so it is loaded first.
        shim, shim_note = _load_shim()
    try:
        blas = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    except OSError as err:
        return f"bundled reference BLAS (could not load {path}: {err})"
    _libraries.append(blas)
    if setting != "openblas" and shim is not None:
        shim.agency_blas_bind(
            ctypes.cast(blas.cblas_sgemm, ctypes.c_void_p),
            ctypes.cast(blas.cblas_sgemv, ctypes.c_void_p),
        )
        _bound.append(shim)
        shim_note = " + sgemv for one-row products"
    return f"OpenBLAS {path}{shim_note}"


def _load_shim() -> tuple[ctypes.CDLL | None, str]:
    try:
        library = _built_shim()
    except (OSError, subprocess.SubprocessError) as err:
        return None, f" (no sgemv shim: {err})"
    if library is None:
        return None, " (no sgemv shim: no C compiler)"
    try:
        shim = ctypes.CDLL(str(library), mode=ctypes.RTLD_GLOBAL)
    except OSError as err:
        return None, f" (no sgemv shim: {err})"
    _libraries.append(shim)
    return shim, ""


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "agency"


def _private(path: Path) -> bool:
    """Owned by us and writable by nobody else."""
    st = path.stat()
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


def _built_shim() -> Path | None:
    """The compiled shim, built on first use (keyed by its source)."""
    digest = hashlib.sha256(SHIM_SOURCE.encode()).hexdigest()[:16]
    for directory in (_cache_dir(), Path(tempfile.gettempdir()) / f"agency-{os.getuid()}"):
        library = directory / f"libagency-sgemv-{digest}.so"
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError:
            continue
        if not _private(directory):
            continue  # a library others can write to is never loaded
        if library.is_file():
            if _private(library):
                return library
            continue
        compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
        if compiler is None:
            return None
        try:
            with tempfile.TemporaryDirectory(dir=directory) as scratch:
                source = Path(scratch) / "shim.c"
                source.write_text(SHIM_SOURCE)
                built = Path(scratch) / library.name
                subprocess.run(
                    [
                        compiler,
                        "-O2",
                        "-pthread",
                        "-shared",
                        "-fPIC",
                        "-o",
                        str(built),
                        str(source),
                    ],
                    check=True,
                    capture_output=True,
                    timeout=60,
                )
                os.replace(built, library)  # atomic: concurrent builders agree
            return library
        except OSError:
            continue  # an unwritable cache: try the next directory
    return None
