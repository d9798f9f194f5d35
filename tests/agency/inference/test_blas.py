"""Choosing MLX's CPU BLAS, in fresh processes (the choice is made once per process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agency.inference import shim as shim_build
from agency.inference.blas import CANDIDATES


def run(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120
    )
    return out.stdout.strip()


needs_openblas = pytest.mark.skipif(
    not any(Path(p).is_file() for p in CANDIDATES), reason="libopenblas0-pthread not installed"
)

# Products of every shape MLX hands to cblas_sgemm (transposed or not, one row or more,
# with alpha/beta through addmm), checked against numpy.
CHECK = """
from agency.inference.blas import prefer_openblas
print(prefer_openblas(SETTING))
import mlx.core as mx, numpy as np
rng = np.random.default_rng(0)
worst = 0.0
for m, n, k in [(1, 1536, 576), (1, 576, 1536), (1, 7, 3), (2, 9, 5), (3, 64, 64), (1, 1, 8)]:
    for ta in (False, True):
        for tb in (False, True):
            A = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
            B = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
            a, b = mx.array(A), mx.array(B)
            got = np.array((a.T if ta else a) @ (b.T if tb else b))
            ref = (A.T if ta else A) @ (B.T if tb else B)
            worst = max(worst, float(np.abs(got - ref).max() / np.abs(ref).max()))
c = rng.standard_normal((1, 64)).astype(np.float32)
W = rng.standard_normal((64, 64)).astype(np.float32)
bias = rng.standard_normal((64,)).astype(np.float32)
got = np.array(mx.addmm(mx.array(bias), mx.array(c), mx.array(W).T, alpha=2.0, beta=0.5))
ref = 0.5 * bias + 2.0 * (c @ W.T)
worst = max(worst, float(np.abs(got - ref).max() / np.abs(ref).max()))
print(worst)
print("libopenblas" in open("/proc/self/maps").read())
print("libagency-shim" in open("/proc/self/maps").read())
"""


@needs_openblas
@pytest.mark.parametrize("setting", ["auto", "openblas"])
def test_openblas_is_loaded_before_mlx_and_computes_correctly(setting: str) -> None:
    status, worst, openblas, shim = run(CHECK.replace("SETTING", repr(setting))).splitlines()
    assert status.startswith("OpenBLAS /")
    assert float(worst) < 1e-5
    assert openblas == "True"
    if setting == "auto" and shim_build.find()[0] is not None:
        # One-row products go through the shim `make venv` built (test_shim.py).
        assert "+ shim" in status and shim == "True"
    if setting == "openblas":
        assert shim == "False"


def test_too_late_or_turned_off_is_said_plainly(tmp_path: Path) -> None:
    late = run(
        "import mlx.core; from agency.inference.blas import prefer_openblas; "
        "print(prefer_openblas('auto'))"
    )
    assert "mlx was imported before" in late
    off = run("from agency.inference.blas import prefer_openblas; print(prefer_openblas('none'))")
    assert "AGENCY_INFERENCE_BLAS=none" in off
    missing = tmp_path / "libnothing.so"
    absent = run(
        f"from agency.inference.blas import prefer_openblas; print(prefer_openblas('{missing}'))"
    )
    assert f"{missing} does not exist" in absent
