"""Correctness checks: each kernel against a NumPy float64 reference on fresh random inputs,
its output poisoned with NaN first (an element never written fails); a failed check raises."""

from __future__ import annotations

import math
import time

import numpy as np

from .._units import normalize_dtype
from ._rows import check_supported, resolve_backend
from ._workloads import MIX_A, MIX_C, STREAM_SCALAR, gemm_shape

__all__ = [
    "GEMM_TOL",
    "MIX_TOL",
    "REDUCTION_TOL",
    "STREAM_TOL",
    "check_gemm",
    "check_roofline",
    "check_stream",
    "mix_reference",
    "rel_err",
]

#: relative-error limits of the correctness checks (||out - ref|| / ||ref||;
#: fp32 far under 1e-3, tf32 near 3e-4, bf16 between 1e-3 and 1e-2)
GEMM_TOL = {"fp64": 1e-12, "fp32": 1e-5, "tf32": 5e-3, "bf16": 2e-2, "fp16": 5e-3, "int8": 0.0}
STREAM_TOL = {"fp64": 1e-14, "fp32": 1e-6}
REDUCTION_TOL = {"fp64": 1e-12, "fp32": 1e-5}
#: roofline-kernel limits at the checked FMA counts (rounding grows with the chain length)
MIX_TOL = {"fp64": 1e-12, "fp32": 1e-4, "fp16": 2e-2}


def rel_err(out: np.ndarray, ref: np.ndarray) -> float:
    """``||out - ref|| / ||ref||`` in float64; ``inf`` when ``out`` holds a NaN or inf."""
    out = np.asarray(out, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if not np.all(np.isfinite(out)):
        return math.inf  # NaN never passes: an element was not written
    den = float(np.linalg.norm(ref.ravel()))
    num = float(np.linalg.norm((out - ref).ravel()))
    return num / den if den > 0 else num


def check_stream(backend="auto", op: str = "triad", dtype: str = "fp32", n: int | None = None,
                 seed: int | None = None, waves: int | None = 4) -> float:
    """Check one STREAM/reduction kernel against float64 NumPy; return the relative error.

    Fresh random inputs, output poisoned with NaN, one call. For ``dot``/``sum`` the error is
    ``|out - ref| / sum(|terms|)`` (a condition-free bound).

    Raises
    ------
    AssertionError
        When the error exceeds the dtype's limit (:data:`STREAM_TOL`, :data:`REDUCTION_TOL`).
    """
    be = resolve_backend(backend)
    dtype = normalize_dtype(dtype)
    n = int(n or ((1 << 23) + 3 if be.device_kind == "cuda" else (1 << 16) + 3))
    seed = int(time.time_ns() % 2**31) if seed is None else seed
    arrays = {k: be.random(n, dtype, seed + i) for i, k in enumerate("abc")}
    fn, out_key, _ = be.stream_fn(op, dtype, arrays, STREAM_SCALAR, waves=waves)
    host = {k: be.to_host(arrays[k]).astype(np.float64) for k in "abc"}
    if out_key in arrays:
        be.poison(arrays[out_key])
    s = STREAM_SCALAR if dtype == "fp64" else float(np.float32(STREAM_SCALAR))
    fn()
    be.sync()
    out = be.to_host(arrays[out_key])
    a, b, c = host["a"], host["b"], host["c"]
    if op in ("dot", "sum"):
        terms = a * b if op == "dot" else a
        ref = terms.sum()
        val = float(np.asarray(out, dtype=np.float64).ravel()[0])
        err = abs(val - ref) / float(np.abs(terms).sum()) if np.isfinite(val) else math.inf
        tol = REDUCTION_TOL[dtype]
    else:
        ref = {"copy": a, "scale": s * c, "add": a + b, "triad": b + s * c}[op]
        err = rel_err(out, ref)
        tol = STREAM_TOL[dtype]
    if not err <= tol:
        raise AssertionError(f"{be.name} {op} {dtype} (n={n}) is wrong: relative error "
                             f"{err:.3g} > {tol:g}")
    return err


def check_gemm(backend="auto", dtype: str = "bf16", shape=(1024, 1536, 768),
               seed: int | None = None) -> float:
    """Check the GEMM of ``dtype`` against float64 NumPy on fresh random inputs.

    Returns the relative error ``||C - C_ref|| / ||C_ref||`` (int8: exact, 0).

    Raises
    ------
    AssertionError
        When the error exceeds :data:`GEMM_TOL`.
    """
    be = resolve_backend(backend)
    dtype = normalize_dtype(dtype)
    check_supported(be, "gemm", dtype, be.gemm_dtypes)
    m, n, k = gemm_shape(shape)
    seed = int(time.time_ns() % 2**31) if seed is None else seed
    a, b, c = be.gemm_operands(dtype, m, n, k, seed)
    be.poison(c)
    fn = be.gemm_fn(dtype, a, b, c)
    fn()
    be.sync()
    ha = be.to_host(a).astype(np.float64)
    hb = be.to_host(b).astype(np.float64)
    out = be.to_host(c)
    if dtype == "int8":
        # small integers: the float64 BLAS product is exact (|sum| < 2**53)
        ref = ha @ hb.T
        err = 0.0 if np.array_equal(out.astype(np.float64), ref) else math.inf
    else:
        err = rel_err(out.astype(np.float64), ha @ hb)
    tol = GEMM_TOL[dtype]
    if not err <= tol:
        raise AssertionError(f"{be.name} GEMM {dtype} {m}x{n}x{k} is wrong: relative error "
                             f"{err:.3g} > {tol:g}")
    return err


def mix_reference(x: np.ndarray, k: int, a: float, c: float) -> np.ndarray:
    """The roofline kernel in closed form: ``a^k x + c (1 - a^k) / (1 - a)``."""
    ak = a**k
    tail = c * (1 - ak) / (1 - a) if k else 0.0
    return ak * x + tail


def check_roofline(backend="auto", dtype: str = "fp32", n: int | None = None,
                   seed: int | None = None) -> float:
    """Check the roofline kernel against its closed form in float64; return the worst error.

    ``y = a^K x + c (1 - a^K) / (1 - a)`` for K = 1, 8, 64 (fp16: K = 8).
    """
    be = resolve_backend(backend)
    dtype = normalize_dtype(dtype)
    gpu = be.device_kind == "cuda"
    nn = int(n or ((1 << 20) + 8 if gpu else (1 << 14) + 8))
    nn -= nn % 8
    seed = int(time.time_ns() % 2**31) if seed is None else seed
    x, y = be.random(nn, dtype, seed), be.empty(nn, dtype)
    hx = be.to_host(x).astype(np.float64)
    t = np.float16 if dtype == "fp16" else np.dtype(be.np_dtype(dtype)).type
    aa, cc = float(t(MIX_A)), float(t(MIX_C))
    worst = 0.0
    for kk in ((8,) if dtype == "fp16" else (1, 8, 64)):
        be.poison(y)
        fn, _ = be.mix_fn(dtype, kk, x, y, MIX_A, MIX_C, waves=1 if gpu else None)
        fn()
        be.sync()
        err = rel_err(be.to_host(y), mix_reference(hx, kk, aa, cc))
        if not err <= MIX_TOL[dtype]:
            raise AssertionError(f"{be.name} roofline kernel {dtype} K={kk} is wrong: "
                                 f"relative error {err:.3g} > {MIX_TOL[dtype]:g}")
        worst = max(worst, err)
    return worst
