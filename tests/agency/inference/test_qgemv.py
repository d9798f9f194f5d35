"""The quantized matrix-vector kernel in the BLAS shim, against float32 products.

The shim is chosen once per process before MLX is imported, so the kernel checks run in
fresh processes; the check on the real model runs on the engine's inference thread.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agency.inference import Engine
from agency.inference.blas import CANDIDATES

needs_shim = pytest.mark.skipif(
    not any(Path(p).is_file() for p in CANDIDATES) or shutil.which("cc") is None,
    reason="needs libopenblas0-pthread and a C compiler",
)
# The kernel has x86-64 variants only (AVX2+FMA, AVX-512); elsewhere nothing registers.
needs_kernel = pytest.mark.skipif(platform.machine() != "x86_64", reason="x86-64 kernel")

# Random 4- and 8-bit matrices (MLX's affine quantization, 32-value groups, as GGUF
# Q4_1/Q8_0 load) registered with the shim, then one-row products of every form MLX
# hands to cblas_sgemm (plain, with a bias through addmm, a strided input row) compared
# with numpy on the dequantized float32 weights, for each kernel variant this CPU has.
CHECK = """
from agency.inference.blas import prefer_openblas
print(prefer_openblas(SETTING))
import mlx.core as mx, mlx.nn as nn, numpy as np
from agency.inference import qgemv

class Layers(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(576, 1536, bias=False)
        self.b = nn.Linear(1536, 96, bias=True)
        self.c = nn.Linear(64, 5)  # not registered: no packed form given

rng = np.random.default_rng(0)
model = Layers()
packed = {}
for path, bits in (("a", 4), ("b", 8)):
    layer = getattr(model, path)
    w = mx.array(rng.standard_normal(layer.weight.shape).astype(np.float32))
    q, scales, offsets = mx.quantize(w, group_size=32, bits=bits)
    # GGUF's scales and offsets are float16; the kernel reads float32 copies of them.
    scales, offsets = scales.astype(mx.float16), offsets.astype(mx.float16)
    layer.weight = mx.dequantize(q, scales.astype(mx.float32), offsets.astype(mx.float32),
                                 group_size=32, bits=bits)
    packed[path] = (q, scales, offsets)
if BROKEN:
    q, scales, offsets = packed["a"]
    packed["a"] = (q, offsets, scales)  # a layout the kernel misreads
mx.eval(model.parameters())
attached = qgemv.attach(model, packed)
print(None if attached is None else len(attached.keys), qgemv.registered())

def worst() -> float:
    out = 0.0
    x = mx.array(rng.standard_normal((1, 576)).astype(np.float32))
    column = mx.array(rng.standard_normal((1536, 1)).astype(np.float32))
    for got, want in (
        (model.a(x), np.array(x) @ np.array(model.a.weight).T),
        (model.b(column.T), np.array(column).T @ np.array(model.b.weight).T
         + np.array(model.b.bias)),
        (model.c(x[:, :64]), np.array(x[:, :64]) @ np.array(model.c.weight).T
         + np.array(model.c.bias)),
    ):
        got = np.array(got)
        out = max(out, float(np.abs(got - want).max() / np.abs(want).max()))
    return out

levels = sorted({qgemv.use_kernel(level) for level in (0, 1, 2)})
print(" ".join(f"{level}:{qgemv.use_kernel(level) and worst()}" for level in levels))
if attached is not None:
    attached.release()
print(qgemv.registered(), worst())
"""


def run(setting: str, broken: bool = False) -> list[str]:
    code = CHECK.replace("SETTING", repr(setting)).replace("BROKEN", repr(broken))
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120
    )
    return out.stdout.strip().splitlines()


@needs_shim
@needs_kernel
def test_kernel_matches_the_float32_product_in_every_variant() -> None:
    status, attached, per_level, after = run("auto")
    assert "+ sgemv for one-row products" in status
    assert attached == "2 2"  # the two quantized layers, not the plain one
    results = dict(item.split(":") for item in per_level.split())
    assert "0" in results and len(results) >= 2  # off, and at least AVX2 on x86-64
    for level, worst in results.items():
        # The order of float additions differs; nothing else may.
        assert level == "0" or float(worst) < 1e-5, (level, worst)
    released, worst = after.split()
    assert released == "0" and float(worst) < 1e-5  # back on sgemv, still correct


@needs_shim
@needs_kernel
def test_a_layout_the_kernel_misreads_is_refused_at_load() -> None:
    _, attached, *_ = run("auto", broken=True)
    assert attached == "None 0"


@needs_shim
def test_without_the_shim_nothing_is_registered() -> None:
    status, attached, per_level, _ = run("openblas")
    assert "sgemv" not in status
    assert attached == "None 0" and per_level.startswith("0:")


async def test_decoding_with_the_kernel_matches_float32_logits(engine: Engine) -> None:
    from agency.inference import qgemv

    loaded = engine.loaded()
    assert loaded is not None
    if "quantized_copy" not in loaded.extra:
        pytest.skip("no quantized kernel in this process (no shim or no AVX2)")

    def decode_logits() -> tuple[object, object]:
        import mlx.core as mx
        import numpy as np
        from mlx_lm.models.cache import make_prompt_cache

        out = []
        for level in (-1, 0):  # the kernel, then OpenBLAS's sgemv on float32
            qgemv.use_kernel(level)
            cache = make_prompt_cache(loaded.model)
            loaded.model(mx.array([[1, 9690, 314, 253, 2914, 30]]), cache=cache)
            out.append(np.array(loaded.model(mx.array([[30]]), cache=cache)[0, -1]))
        qgemv.use_kernel(-1)
        return out[0], out[1]

    kernel, reference = engine.submit(decode_logits).result()
    import numpy as np

    assert np.abs(kernel - reference).max() < 1e-3 * np.abs(reference).max()
    assert int(np.argmax(kernel)) == int(np.argmax(reference))
