"""The shim's quantized kernel against MLX's own results.

The shim is chosen once per process before MLX is imported, so these checks run in fresh
processes, with a shim built from the current source for the test (`built`); the check
on the engine's decoding runs on the session engine's inference thread.

The reference is MLX's own quantized product (`mx.quantized_matmul`, MLX's CPU kernel,
which does not go through BLAS) on the very tensors the GGUF file holds. The kernel sums
the same float32 terms in another order, so the results may differ by rounding only. On
SmolLM2's 211 quantized matrices the largest difference, relative to the largest output
of the product, was 2.2e-6 for the kernel (AVX2) and 1.8e-6 for OpenBLAS's sgemv on the
dequantized float32 weights (the path without the kernel): TOLERANCE is 1e-5.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from agency.inference import Engine, shim
from agency.inference.blas import CANDIDATES

TOLERANCE = 1e-5

needs_openblas = pytest.mark.skipif(
    not any(Path(p).is_file() for p in CANDIDATES), reason="libopenblas0-pthread not installed"
)
# The kernel has x86-64 variants only (AVX2+FMA, AVX-512); elsewhere nothing registers.
needs_kernel = pytest.mark.skipif(platform.machine() != "x86_64", reason="x86-64 kernel")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A shim directory holding a build of the current source."""
    if shim.compiler() is None:
        pytest.skip("no C compiler: the engine runs without the shim (test_shim.py)")
    directory = tmp_path_factory.mktemp("shim")
    result = shim.build(directory)
    assert result.library is not None, result.message
    return directory


def run(code: str, shim_dir: Path, **values: object) -> list[str]:
    for name, value in values.items():
        code = code.replace(name, repr(value))
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "AGENCY_SHIM_DIR": str(shim_dir)},
    )
    return out.stdout.strip().splitlines()


# Every 4- and 8-bit matrix of the default model (the GGUF's Q4_1 layers and its Q8_0
# embedding, which is also the output layer), for each kernel variant this CPU has: a
# one-row product through MLX's float32 path (which reaches the shim) against
# mx.quantized_matmul on the file's packed tensors.
REAL_WEIGHTS = """
import json
from agency.inference.blas import prefer_openblas
status = prefer_openblas("auto")
import mlx.core as mx
from mlx.utils import tree_flatten
from agency.inference import qgemv
from agency.inference.catalog import smollm2_path
from agency.inference.gguf import load_gguf

packed = {}
model, _, _ = load_gguf(smollm2_path(), dequantize=True, packed=packed)
mx.eval(model.parameters())
attached = qgemv.attach(model, packed)
dense = dict(tree_flatten(model.parameters()))
out = {"status": status, "layers": len(packed), "registered": qgemv.registered(), "levels": {}}
for level in (0, 1, 2):  # 0: the kernel off, OpenBLAS's sgemv on float32
    if qgemv.use_kernel(level) != level:
        continue
    hits, worst, bits_seen = qgemv.hits(), 0.0, set()
    for i, (path, (q, scales, biases)) in enumerate(sorted(packed.items())):
        w = dense[f"{path}.weight"]
        bits = q.shape[-1] * 32 // w.shape[1]
        bits_seen.add(bits)
        x = mx.random.normal((1, w.shape[1]), key=mx.random.key(i))
        got = x @ w.T
        want = mx.quantized_matmul(
            x, q, scales.astype(mx.float32), biases.astype(mx.float32),
            transpose=True, group_size=32, bits=bits,
        )
        error = mx.abs(got - want).max() / mx.abs(want).max()
        worst = max(worst, error.item())
    out["levels"][level] = {
        "worst": worst, "products": qgemv.hits() - hits, "bits": sorted(bits_seen)
    }
print(json.dumps(out))
"""


@needs_openblas
@needs_kernel
def test_the_kernel_matches_mlx_on_every_quantized_matrix_of_the_model(built: Path) -> None:
    result = json.loads(run(REAL_WEIGHTS, built)[-1])
    assert "+ shim" in result["status"]
    assert result["layers"] == result["registered"] == 30 * 7 + 1
    assert len(result["levels"]) >= 2, "no kernel variant on this x86-64 CPU"
    for level, check in result["levels"].items():
        # Every product went through the kernel (none with it off), for the 4-bit layers
        # and the 8-bit embedding.
        assert check["products"] == (0 if level == "0" else result["layers"]), level
        assert check["bits"] == [4, 8]
        assert check["worst"] < TOLERANCE, (level, check["worst"])


# Random 4- and 8-bit matrices (MLX's affine quantization, 32-value groups, as GGUF
# Q4_1/Q8_0 load) registered with the shim, then one-row products of every form MLX
# hands to cblas_sgemm (plain, with a bias through addmm, a strided input row) compared
# with MLX's quantized product, for each kernel variant this CPU has.
FORMS = """
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
packed, reference = {}, {}
for path, bits in (("a", 4), ("b", 8)):
    layer = getattr(model, path)
    w = mx.array(rng.standard_normal(layer.weight.shape).astype(np.float32))
    q, scales, offsets = mx.quantize(w, group_size=32, bits=bits)
    # GGUF's scales and offsets are float16; the kernel reads float32 copies of them.
    scales, offsets = scales.astype(mx.float16), offsets.astype(mx.float16)
    s32, o32 = scales.astype(mx.float32), offsets.astype(mx.float32)
    layer.weight = mx.dequantize(q, s32, o32, group_size=32, bits=bits)
    packed[path] = (q, scales, offsets)
    reference[path] = lambda x, q=q, s=s32, o=o32, bits=bits: mx.quantized_matmul(
        x, q, s, o, transpose=True, group_size=32, bits=bits)
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
        (model.a(x), reference["a"](x)),
        (model.b(column.T), reference["b"](column.T) + model.b.bias),
        (model.c(x[:, :64]), x[:, :64] @ model.c.weight.T + model.c.bias),
    ):
        out = max(out, (mx.abs(got - want).max() / mx.abs(want).max()).item())
    return out

levels = sorted({qgemv.use_kernel(level) for level in (0, 1, 2)})
print(" ".join(f"{level}:{qgemv.use_kernel(level) and worst()}" for level in levels))
if attached is not None:
    attached.release()
print(qgemv.registered(), worst())
"""


@needs_openblas
@needs_kernel
def test_every_form_of_one_row_product_matches_in_every_variant(built: Path) -> None:
    status, attached, per_level, after = run(FORMS, built, SETTING="auto", BROKEN=False)
    assert "+ shim" in status
    assert attached == "2 2"  # the two quantized layers, not the plain one
    results = dict(item.split(":") for item in per_level.split())
    assert "0" in results and len(results) >= 2  # off, and at least AVX2 on x86-64
    for level, worst in results.items():
        # The order of float additions differs; nothing else may.
        assert level == "0" or float(worst) < TOLERANCE, (level, worst)
    released, worst = after.split()
    assert released == "0" and float(worst) < TOLERANCE  # back on sgemv, still correct


@needs_openblas
@needs_kernel
def test_a_layout_the_kernel_misreads_is_refused_at_load(built: Path) -> None:
    _, attached, *_ = run(FORMS, built, SETTING="auto", BROKEN=True)
    assert attached == "None 0"


@needs_openblas
def test_without_the_shim_nothing_is_registered(built: Path) -> None:
    status, attached, per_level, _ = run(FORMS, built, SETTING="openblas", BROKEN=False)
    assert "shim" not in status
    assert attached == "None 0" and per_level.startswith("0:")


# The shim's cblas_sgemm called directly on a matrix registered by address, then on the
# same address after its values changed (as if the memory now held another matrix): the
# kernel must refuse it and the product must be the float32 one of the new values.
STALE = """
import ctypes
from agency.inference.blas import bound_shim, prefer_openblas
print(prefer_openblas("auto"))
import mlx.core as mx, numpy as np
from agency.inference import qgemv

n, k = 64, 128
rng = np.random.default_rng(1)
q, scales, offsets = mx.quantize(mx.array(rng.standard_normal((n, k)).astype(np.float32)),
                                 group_size=32, bits=4)
weight = np.array(mx.dequantize(q, scales, offsets, group_size=32, bits=4))
buffers = [np.ascontiguousarray(np.array(a).view(np.uint8) if a is q else np.array(a))
           for a in (q, scales, offsets)]
shim = qgemv._declare(bound_shim())
assert shim.agency_q_register(weight.ctypes.data, n, k, 4, *(b.ctypes.data for b in buffers))
x = rng.standard_normal(k).astype(np.float32)

def product() -> np.ndarray:
    c = np.zeros(n, np.float32)
    p = ctypes.c_void_p
    shim.cblas_sgemm(101, 111, 112, 1, n, k, ctypes.c_float(1.0), p(x.ctypes.data), k,
                     p(weight.ctypes.data), k, ctypes.c_float(0.0), p(c.ctypes.data), n)
    return c

def error(c) -> float:
    want = weight @ x
    return float(np.abs(c - want).max() / np.abs(want).max())

first = error(product())
print(qgemv.hits(), qgemv.stale(), first < 1e-5)
weight[:] = rng.standard_normal((n, k)).astype(np.float32)  # other values, same address
second = error(product())
print(qgemv.hits(), qgemv.stale(), second < 1e-5)
"""


@needs_openblas
@needs_kernel
def test_an_address_holding_other_values_is_not_taken_for_the_registered_weight(
    built: Path,
) -> None:
    status, registered, changed = run(STALE, built)
    assert "+ shim" in status
    assert registered == "1 0 True"  # the kernel computed it
    assert changed == "1 1 True"  # refused, and the float32 product is that of the new values


async def test_decoding_with_the_kernel_matches_float32_logits(engine: Engine) -> None:
    """The session engine (the installed shim, test_shim.py checks it is there)."""
    from agency.inference import qgemv

    loaded = engine.loaded()
    assert loaded is not None
    if "quantized_copy" not in loaded.extra:
        pytest.skip("no quantized kernel in this process (no shim or no AVX2)")

    def decode_logits() -> tuple[object, object, int]:
        import mlx.core as mx
        import numpy as np
        from mlx_lm.models.cache import make_prompt_cache

        out = []
        hits = qgemv.hits()
        for level in (-1, 0):  # the kernel, then OpenBLAS's sgemv on float32
            qgemv.use_kernel(level)
            cache = make_prompt_cache(loaded.model)
            loaded.model(mx.array([[1, 9690, 314, 253, 2914, 30]]), cache=cache)
            out.append(np.array(loaded.model(mx.array([[30]]), cache=cache)[0, -1]))
        qgemv.use_kernel(-1)
        return out[0], out[1], qgemv.hits() - hits

    kernel, reference, products = engine.submit(decode_logits).result()
    import numpy as np

    assert products == 30 * 7 + 1  # one decode step: every layer and the output layer
    assert np.abs(kernel - reference).max() < 1e-3 * np.abs(reference).max()
    assert int(np.argmax(kernel)) == int(np.argmax(reference))
