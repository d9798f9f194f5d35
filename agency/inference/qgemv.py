"""Point the BLAS shim's quantized kernel (shim.c) at a model's own weights.

A GGUF model dequantized to float32 keeps, beside each float32 weight, the file's 4- or
8-bit form of it; registered with the shim, every one-row product by that weight (each
token of a generation) reads the quantized form: 4-6x fewer bytes, and decoding is bound
by memory bandwidth.

MLX hands `cblas_sgemm` a pointer, so the registry is keyed by the float32 weight's
address. That is made safe three ways: a registration keeps the float32 array and the
quantized buffers alive until `release()` (and MLX never reuses or donates the memory of
an array still referenced), so the address cannot come to mean another array; the shim
matches shape and row stride as well; and it compares eight sampled values of the
matrix it is handed with those registered, falling back to the float32 product if any
differs (`stale()` counts such refusals). At load, one product per bit width is checked
against numpy (a layout the kernel misreads turns it off).
"""

from __future__ import annotations

import ctypes
import logging
from dataclasses import dataclass, field
from typing import Any

from agency.inference.blas import bound_shim

log = logging.getLogger(__name__)

# (packed weight as uint32, scales, offsets) of one layer, as `mx.load` returns a GGUF
# Q4_1 or Q8_0 tensor; keyed by the module path ("model.layers.0.mlp.up_proj").
Packed = tuple[Any, Any, Any]

GROUP_SIZE = 32
# Largest difference accepted at load between the kernel and the float32 product,
# relative to the largest output (they differ only in the order of float additions).
TOLERANCE = 1e-4


@dataclass
class QuantizedWeights:
    shim: ctypes.CDLL
    keys: list[int] = field(default_factory=list)
    # The float32 arrays MLX multiplies by and the buffers the kernel reads.
    keep: list[Any] = field(default_factory=list)
    nbytes: int = 0

    def release(self) -> None:
        """Unregister; call where nothing computes with these weights (the inference
        thread), before the arrays can be freed and their addresses reused."""
        for key in self.keys:
            self.shim.agency_q_unregister(ctypes.c_void_p(key))
        self.keys.clear()
        self.keep.clear()


def _declare(shim: ctypes.CDLL) -> ctypes.CDLL:
    pointer, integer = ctypes.c_void_p, ctypes.c_int
    # (float32 key, n, k, bits, values, scales, offsets)
    shim.agency_q_register.argtypes = [pointer, *[integer] * 3, *[pointer] * 3]
    shim.agency_q_register.restype = integer
    shim.agency_q_unregister.argtypes = [pointer]
    shim.agency_q_use.argtypes = [integer]
    shim.agency_q_use.restype = integer
    shim.agency_q_hits.restype = ctypes.c_ulong
    shim.agency_q_stale.restype = ctypes.c_ulong
    return shim


def use_kernel(level: int = -1) -> int:
    """Select the kernel variant (2: AVX-512, 1: AVX2, 0: off; -1: the best this CPU
    has); returns the one in use, 0 when there is no shim."""
    shim = bound_shim()
    return int(_declare(shim).agency_q_use(level)) if shim is not None else 0


def registered() -> int:
    """How many matrices the shim's registry holds."""
    shim = bound_shim()
    return int(shim.agency_q_count()) if shim is not None else 0


def hits() -> int:
    """How many products the quantized kernel has computed in this process."""
    shim = bound_shim()
    return int(_declare(shim).agency_q_hits()) if shim is not None else 0


def stale() -> int:
    """How many lookups found a registered address holding other values (and used the
    float32 product instead)."""
    shim = bound_shim()
    return int(_declare(shim).agency_q_stale()) if shim is not None else 0


def attach(model: Any, packed: dict[str, Packed]) -> QuantizedWeights | None:
    """Register the quantized form of each float32 weight of `model` found in `packed`
    (call after `mx.eval` of the parameters). None when the shim or the CPU cannot."""
    shim = bound_shim()
    if shim is None or not packed:
        return None
    _declare(shim)
    import mlx.core as mx
    import numpy as np
    from mlx.utils import tree_flatten

    parameters = dict(tree_flatten(model.parameters()))
    weights = QuantizedWeights(shim)
    for path, (packed_weight, scales, offsets) in packed.items():
        dense = parameters.get(f"{path}.weight")
        if dense is None or dense.dtype != mx.float32 or dense.ndim != 2:
            continue
        n, k = dense.shape
        values = np.ascontiguousarray(np.array(packed_weight, copy=False).view(np.uint8))
        scale = np.ascontiguousarray(np.array(scales.astype(mx.float32)))
        offset = np.ascontiguousarray(np.array(offsets.astype(mx.float32)))
        bits = values.shape[-1] * 8 // k if k else 0
        groups = (n, k // GROUP_SIZE)
        if values.shape != (n, k * bits // 8) or scale.shape != groups or offset.shape != groups:
            continue
        # Zero-copy (raises if it would copy): the address MLX hands to cblas_sgemm.
        key = np.array(dense, copy=False).ctypes.data
        buffers = (values, scale, offset)
        if not shim.agency_q_register(key, n, k, bits, *(b.ctypes.data for b in buffers)):
            continue  # no SIMD kernel on this CPU, or a shape it does not take
        weights.keys.append(key)
        weights.keep.extend((dense, *buffers))
        weights.nbytes += sum(b.nbytes for b in buffers)
    if not weights.keys:
        return None
    if not _agrees(weights):
        log.warning("the quantized kernel disagrees with the float32 product; not used")
        weights.release()
        return None
    return weights


def _agrees(weights: QuantizedWeights) -> bool:
    """Registered products against numpy's float32 ones (one matrix per bit width): a
    layout the kernel does not expect (say, another nibble order) is caught at load."""
    import mlx.core as mx
    import numpy as np

    checked: set[int] = set()
    for dense, values in zip(weights.keep[0::4], weights.keep[1::4], strict=True):
        bits = values.shape[-1] * 8 // dense.shape[1]
        if bits in checked:
            continue
        checked.add(bits)
        x = mx.random.normal((1, dense.shape[1]), key=mx.random.key(0))
        got = np.array(x @ dense.T)
        want = np.array(x) @ np.array(dense).T
        if np.abs(got - want).max() > TOLERANCE * max(1.0, float(np.abs(want).max())):
            return False
    return True
