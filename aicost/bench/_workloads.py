"""What the compute benchmarks run: STREAM byte and FLOP counts, the transformer GEMM shapes,
the roofline sweep's FMA counts. Plain constants, no backend, no heavy import."""

from __future__ import annotations

import numpy as np

__all__ = [
    "GEMM_SHAPES",
    "MIX_A",
    "MIX_C",
    "MIX_KS",
    "STREAM_ARRAYS",
    "STREAM_FLOPS",
    "STREAM_SCALAR",
    "gemm_shape",
]

#: arrays read + written per element, as BabelStream counts (no write-allocate)
STREAM_ARRAYS = {"copy": 2, "scale": 2, "add": 3, "triad": 3, "dot": 2, "sum": 1}
#: FLOP per element
STREAM_FLOPS = {"copy": 0, "scale": 1, "add": 1, "triad": 2, "dot": 2, "sum": 1}
#: the BabelStream scalar
STREAM_SCALAR = 0.4

#: dependent FMAs per element loaded, the points of the roofline sweep (mixbench-style)
MIX_KS = (0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
#: the roofline kernel's recurrence y = a y + c (a close to 1 keeps values bounded)
MIX_A, MIX_C = 0.999, 0.001

#: GEMM shapes (m, n, k) of transformer layers: C[m, n] = A[m, k] @ B[k, n], m = tokens.
#: Llama-3.1-8B: hidden 4096, 32 heads, 8 KV heads of 128, MLP 14336; 70B: hidden 8192,
#: 64 heads, 8 KV heads of 128, MLP 28672 (the models' config.json). QKV is fused
#: (hidden + 2 * 8 * 128 outputs), gate and up projections are fused (2 x MLP outputs).
_LLAMA = {"llama-3.1-8b": (4096, 1024, 14336), "llama-3.1-70b": (8192, 1024, 28672)}


def _layer_shapes(model: str, tokens: int) -> dict:
    h, kv, mlp = _LLAMA[model]
    return {
        f"{model}.qkv@{tokens}": (tokens, h + 2 * kv, h),
        f"{model}.o@{tokens}": (tokens, h, h),
        f"{model}.mlp_up@{tokens}": (tokens, 2 * mlp, h),
        f"{model}.mlp_down@{tokens}": (tokens, h, mlp),
    }


GEMM_SHAPES = {
    **_layer_shapes("llama-3.1-8b", 4096), **_layer_shapes("llama-3.1-8b", 8192),
    **_layer_shapes("llama-3.1-70b", 4096), **_layer_shapes("llama-3.1-70b", 8192),
}


def gemm_shape(shape) -> tuple[int, int, int]:
    """``(m, n, k)`` of a GEMM from ``M`` (a cube), ``(M, N, K)``, ``"MxNxK"`` or a name in
    :data:`GEMM_SHAPES` (``"llama-3.1-8b.mlp_up@4096"``).

    Raises
    ------
    ValueError
        For a string that is neither a known name nor ``MxNxK``.
    """
    if isinstance(shape, (int, np.integer)):
        return (int(shape),) * 3
    if isinstance(shape, str):
        if shape in GEMM_SHAPES:
            return GEMM_SHAPES[shape]
        parts = shape.lower().replace("*", "x").split("x")
        if len(parts) == 3:
            return tuple(int(p) for p in parts)  # type: ignore[return-value]
        raise ValueError(f"GEMM shape {shape!r}: use M, (M, N, K), 'MxNxK' or one of "
                         f"{', '.join(GEMM_SHAPES)}")
    m, n, k = (int(x) for x in shape)
    return m, n, k
