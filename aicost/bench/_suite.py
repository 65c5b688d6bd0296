"""Per-kernel benchmark functions, the quick/full suites, and the run object.

Every function returns tidy rows (one per measurement) with the result columns of
``aicost.store``: ``kind, name, backend, device, dtype, shape, size_bytes, flops, bytes_moved,
median_s, min_s, mean_s, stdev_s, iqr_s, n_samples, value, unit, peak, pct_of_peak, params,
samples_s, flags``. Each kernel's output is checked against a NumPy float64 reference on fresh
random inputs (output poisoned with NaN first) before it is timed; a failed check raises.
"""

from __future__ import annotations

import functools
import html
import json
import math
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._errors import BackendUnavailableError, InfeasibleError
from .._units import DTYPE_BYTES, format_bytes, normalize_dtype
from ._backends import BACKENDS, backend_status, get_backend
from ._context import collect_context
from ._timer import benchmark

__all__ = [
    "COLUMNS",
    "GEMM_SHAPES",
    "JSON_FIELDS",
    "Run",
    "check_gemm",
    "check_roofline",
    "check_stream",
    "gemm",
    "launch_latency",
    "load_results",
    "memory_capacity",
    "reduction",
    "roofline_sweep",
    "run",
    "stream",
    "transfer",
]

#: result columns (aicost.store)
COLUMNS = ["kind", "name", "backend", "device", "dtype", "shape", "size_bytes", "flops",
           "bytes_moved", "median_s", "min_s", "mean_s", "stdev_s", "iqr_s", "n_samples",
           "value", "unit", "peak", "pct_of_peak", "params", "samples_s", "flags"]
#: fields every JSON record carries (`aicost bench compute --json`)
JSON_FIELDS = ["kernel", "backend", "device", "dtype", "shape", "size_bytes", "flops",
               "bytes_moved", "median_s", "min_s", "mean_s", "stdev_s", "iqr_s", "n_samples",
               "value", "unit", "peak", "pct_of_peak"]

#: arrays read + written per element, as BabelStream counts (no write-allocate)
STREAM_ARRAYS = {"copy": 2, "scale": 2, "add": 3, "triad": 3, "dot": 2, "sum": 1}
#: FLOP per element
STREAM_FLOPS = {"copy": 0, "scale": 1, "add": 1, "triad": 2, "dot": 2, "sum": 1}
#: the BabelStream scalar
STREAM_SCALAR = 0.4

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

#: relative-error limits of the correctness checks (||out - ref|| / ||ref||; METHOD.md:
#: fp32 far under 1e-3, tf32 near 3e-4, bf16 between 1e-3 and 1e-2)
GEMM_TOL = {"fp64": 1e-12, "fp32": 1e-5, "tf32": 5e-3, "bf16": 2e-2, "fp16": 5e-3, "int8": 0.0}
STREAM_TOL = {"fp64": 1e-14, "fp32": 1e-6}
REDUCTION_TOL = {"fp64": 1e-12, "fp32": 1e-5}
#: roofline-kernel limits at the checked FMA counts (rounding grows with the chain length)
MIX_TOL = {"fp64": 1e-12, "fp32": 1e-4, "fp16": 2e-2}
MIX_A, MIX_C = 0.999, 0.001

#: fraction of free device memory a benchmark may take
MEMORY_HEADROOM = 0.9


# ----------------------------------------------------------------------------- helpers
def _backend(backend):
    return get_backend(backend) if isinstance(backend, str) else backend


def _timer_kwargs(overrides: dict | None) -> dict:
    kw = {"min_samples": 10, "min_time_s": 0.05, "max_time_s": 2.0}
    kw.update(overrides or {})
    return kw


@functools.lru_cache(maxsize=16)
def _accelerator(device_name: str):
    """The catalog row for the name CUDA reports, or None (CPUs have no row)."""
    try:
        from .. import catalog

        return catalog.load().accelerator(device_name)
    except Exception:
        return None


def _peak_flops(be, dtype: str) -> float | None:
    if be.device_kind != "cuda":
        return None
    acc = _accelerator(be.device_name())
    if acc is None:
        return None
    try:
        p = float(acc.peak_flops_per_s(dtype))
        return p if p > 0 and math.isfinite(p) else None
    except Exception:
        return None


def _peak_bw(be) -> float | None:
    if be.device_kind != "cuda":
        return None
    acc = _accelerator(be.device_name())
    try:
        p = float(acc.mem_bw_bytes_per_s) if acc is not None else None
        return p if p and p > 0 and math.isfinite(p) else None
    except Exception:
        return None


def _ensure_fits(be, nbytes: int, what: str) -> None:
    """Refuse, before allocating, a benchmark that would not fit in free memory."""
    free = be.mem_free_bytes()
    if nbytes > MEMORY_HEADROOM * free:
        raise InfeasibleError(
            f"{what} needs {format_bytes(nbytes)} but {be.device_name()} has "
            f"{format_bytes(free)} free ({MEMORY_HEADROOM:.0%} usable); use a smaller size")


def _rel_err(out: np.ndarray, ref: np.ndarray) -> float:
    out = np.asarray(out, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if not np.all(np.isfinite(out)):
        return math.inf  # NaN never passes: an element was not written
    den = float(np.linalg.norm(ref.ravel()))
    num = float(np.linalg.norm((out - ref).ravel()))
    return num / den if den > 0 else num


def _row(be, name: str, dtype: str, res, *, value: float, unit: str, flops: float = 0.0,
         bytes_moved: float = 0.0, size_bytes: float | None = None, shape=None,
         peak: float | None = None, params: dict | None = None, flags: Iterable[str] = ()) -> dict:
    p = dict(params or {})
    if res is not None:
        p.update({"rse": res.rse, "stop_reason": res.stop_reason, "flushed": res.flushed,
                  "first_call_s": res.first_call_s})
        if res.nvml_before:
            p["nvml_before"] = res.nvml_before
        if res.nvml_after:
            p["nvml_after"] = res.nvml_after
        if res.sm_clock_mhz:
            p["sm_clock_mhz_median"] = float(np.median(res.sm_clock_mhz))
        stats = res.to_dict()
        flags = [*flags, *res.flags]
    else:
        stats = {k: None for k in ("median_s", "min_s", "mean_s", "stdev_s", "iqr_s")}
        stats.update(n_samples=0, samples_s=[])
    pct = 100.0 * value / peak if peak and value is not None and unit != "s" else None
    return {
        "kind": "compute", "name": name, "backend": be.name, "device": be.device_name(),
        "dtype": dtype, "shape": None if shape is None else "x".join(str(int(s)) for s in shape),
        "size_bytes": size_bytes, "flops": float(flops), "bytes_moved": float(bytes_moved),
        **{k: stats[k] for k in ("median_s", "min_s", "mean_s", "stdev_s", "iqr_s", "n_samples")},
        "value": value, "unit": unit, "peak": peak, "pct_of_peak": pct, "params": p,
        "samples_s": stats["samples_s"], "flags": "; ".join(flags),
    }


def _unsupported(be, what: str, dtype: str | None = None) -> str:
    table = getattr(be, "unsupported", {}) or {}
    return (table.get(f"{what}:{dtype}") or table.get(what)
            or f"{what} is not implemented for backend {be.name!r}")


def _check_supported(be, what: str, dtype: str, offered: Sequence[str]) -> None:
    if dtype not in offered:
        others = []
        for b in BACKENDS:
            st = backend_status(b)
            if b != be.name:
                others.append(f"{b}: {'available' if st.available else st.reason}")
        raise ValueError(
            f"{what} in {dtype} is not available on backend {be.name!r}: "
            f"{_unsupported(be, what, dtype)}. This backend offers {what} in "
            f"{', '.join(offered) or 'no dtype'}. Other backends: {'; '.join(others)}")


def _free(*arrays) -> None:
    del arrays


# ----------------------------------------------------------------------------- STREAM
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
    be = _backend(backend)
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
        err = _rel_err(out, ref)
        tol = STREAM_TOL[dtype]
    if not err <= tol:
        raise AssertionError(f"{be.name} {op} {dtype} (n={n}) is wrong: relative error "
                             f"{err:.3g} > {tol:g}")
    return err


def _tune_waves(be, dtype: str, arrays: dict, candidates=(1, 2, 4, 8, None)) -> tuple:
    """Pick the launch configuration (waves of resident blocks) with the fastest triad."""
    best = None
    for w in candidates:
        fn, _, grid = be.stream_fn("triad", dtype, arrays, STREAM_SCALAR, waves=w)
        r = benchmark(fn, warmup=2, min_samples=5, max_samples=5, min_time_s=0.0, max_time_s=1.0,
                      flush_l2=False, device="cuda", nvml=False,
                      clock=_event_clock(be))
        if best is None or r.median_s < best[1]:
            best = (w, r.median_s, grid)
    return best[0], [("full" if w is None else w) for w in candidates]


def _event_clock(be):
    from ._timer import CudaEventClock

    return CudaEventClock(be.event_api)


def stream(op: str | Sequence[str] = ("copy", "scale", "add", "triad", "dot"), n: int | None = None,
           dtype: str = "fp32", backend="auto", check: bool = True, waves="auto",
           repeat: int | None = None, timer: dict | None = None):
    """BabelStream kernels: copy, scale, add, triad, dot [B/s].

    Parameters
    ----------
    op : str or sequence of str
        Operations.
    n : int, optional
        Elements per array (default 2**27 on a GPU, 2**23 on the CPU).
    dtype : {"fp32", "fp64"}
    backend : str or backend object
    check : bool
        Check each kernel against float64 NumPy first.
    waves : "auto", int or None
        GPU launch configuration: waves of resident blocks in the grid-stride loop (None: one
        vector per thread); "auto" times the triad with each and keeps the fastest.
    repeat : int, optional
        Kernel calls per timed sample (GPU default 1). Larger values hide the host launch
        overhead of small kernels (Numba's dispatcher costs ~10-30 us per launch).
    timer : dict, optional
        Keyword arguments of :func:`aicost.bench.benchmark`.

    Returns
    -------
    pandas.DataFrame
    """
    import pandas as pd

    be = _backend(backend)
    dtype = normalize_dtype(dtype)
    ops = [op] if isinstance(op, str) else list(op)
    for o in ops:
        if o not in STREAM_ARRAYS:
            raise ValueError(f"unknown STREAM op {o!r}; use {', '.join(STREAM_ARRAYS)}")
    _check_supported(be, "stream", dtype, be.stream_dtypes)
    gpu = be.device_kind == "cuda"
    n = int(n or (1 << 27 if gpu else 1 << 23))
    item = DTYPE_BYTES[dtype]
    _ensure_fits(be, 3 * n * item, f"STREAM with 3 x {n} {dtype} elements")
    if check:
        for o in ops:
            check_stream(be, o, dtype)
    arrays = {k: be.random(n, dtype, 1234 + i) for i, k in enumerate("abc")}
    tuned = None
    if gpu and waves == "auto":
        waves, tuned = _tune_waves(be, dtype, arrays)
    elif waves == "auto":
        waves = None
    rows = []
    for o in ops:
        fn, _, grid = be.stream_fn(o, dtype, arrays, STREAM_SCALAR, waves=waves)
        kw = _timer_kwargs(timer)
        rep = int(repeat or 1)
        if rep > 1:
            inner = fn

            def fn(inner=inner, rep=rep):
                for _ in range(rep):
                    inner()
        res = benchmark(fn, device=be.device_kind, clock=_event_clock(be) if gpu else None, **kw)
        if rep > 1:
            res = _divide(res, rep)
        nbytes = STREAM_ARRAYS[o] * n * item
        params = {"n": n, "group": "reduction" if o in ("dot", "sum") else "stream",
                  "scalar": STREAM_SCALAR, "repeat": rep, "checked": bool(check)}
        if gpu:
            params.update(grid=grid, block=256, waves="full" if waves is None else waves)
            if tuned:
                params["waves_tuned_over"] = tuned
        if be.name == "numpy" and o == "triad":
            params["passes"] = 2
            params["note"] = "NumPy does the triad in two passes (5 arrays moved, 3 counted)"
        rows.append(_row(be, o, dtype, res, value=res.rate(nbytes), unit="B/s",
                         flops=STREAM_FLOPS[o] * n, bytes_moved=nbytes, size_bytes=n * item,
                         shape=(n,), peak=_peak_bw(be), params=params))
    del arrays
    be.free_all()
    return pd.DataFrame(rows, columns=COLUMNS)


def _divide(res, rep: int):
    """A BenchResult whose samples are per call (each sample covered ``rep`` calls)."""
    from dataclasses import replace

    from ._timer import summarize

    samples = tuple(s / rep for s in res.samples_s)
    stats = summarize(samples)
    return replace(res, samples_s=samples, **{k: stats[k] for k in
                                              ("median_s", "min_s", "mean_s", "stdev_s", "iqr_s")})


def reduction(op: str = "sum", n: int | None = None, dtype: str = "fp32", backend="auto",
              check: bool = True, timer: dict | None = None):
    """Reductions: ``sum`` (one array) and ``dot`` (two) [B/s of input read]."""
    return stream(op, n=n, dtype=dtype, backend=backend, check=check, timer=timer)


# ----------------------------------------------------------------------------- GEMM
def _shape3(shape) -> tuple[int, int, int]:
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


def check_gemm(backend="auto", dtype: str = "bf16", shape=(1024, 1536, 768),
               seed: int | None = None) -> float:
    """Check the GEMM of ``dtype`` against float64 NumPy on fresh random inputs.

    Returns the relative error ``||C - C_ref|| / ||C_ref||`` (int8: exact, 0).

    Raises
    ------
    AssertionError
        When the error exceeds :data:`GEMM_TOL`.
    """
    be = _backend(backend)
    dtype = normalize_dtype(dtype)
    _check_supported(be, "gemm", dtype, be.gemm_dtypes)
    m, n, k = _shape3(shape)
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
        err = _rel_err(out.astype(np.float64), ha @ hb)
    tol = GEMM_TOL[dtype]
    if not err <= tol:
        raise AssertionError(f"{be.name} GEMM {dtype} {m}x{n}x{k} is wrong: relative error "
                             f"{err:.3g} > {tol:g}")
    return err


def gemm(dtype: str | Sequence[str] = "fp32", shape=None, backend="auto", check: bool = True,
         timer: dict | None = None):
    """Matrix products C[m,n] = A[m,k] @ B[k,n] [FLOP/s] (2*m*n*k FLOP each).

    Parameters
    ----------
    dtype : str or sequence
        fp64, fp32, tf32, bf16, fp16, int8 (what the backend offers; the error says why not).
    shape : int, (m, n, k), "MxNxK", a name from :data:`GEMM_SHAPES`, or a list of these
        Default 4096 on a GPU, 1024 on the CPU.
    """
    import pandas as pd

    be = _backend(backend)
    dtypes = [dtype] if isinstance(dtype, str) else list(dtype)
    dtypes = [normalize_dtype(d) for d in dtypes]
    gpu = be.device_kind == "cuda"
    if shape is None:
        shapes = [4096 if gpu else 1024]
    elif isinstance(shape, (int, str, np.integer)) or (
            isinstance(shape, tuple) and len(shape) == 3 and all(isinstance(x, (int, np.integer))
                                                                 for x in shape)):
        shapes = [shape]
    else:
        shapes = list(shape)
    rows = []
    for dt in dtypes:
        _check_supported(be, "gemm", dt, be.gemm_dtypes)
        if check:
            check_gemm(be, dt)
        for shp in shapes:
            label = shp if isinstance(shp, str) and shp in GEMM_SHAPES else None
            m, n, k = _shape3(shp)
            item = DTYPE_BYTES[dt]
            out_item = 4 if dt == "int8" else item
            nbytes = (m * k + k * n) * item + m * n * out_item
            _ensure_fits(be, nbytes, f"GEMM {dt} {m}x{n}x{k}")
            a, b, c = be.gemm_operands(dt, m, n, k, 4321)
            fn = be.gemm_fn(dt, a, b, c)
            res = benchmark(fn, device=be.device_kind, clock=_event_clock(be) if gpu else None,
                            **_timer_kwargs(timer))
            flops = 2.0 * m * n * k
            params = {"m": m, "n": n, "k": k, "group": "gemm", "checked": bool(check),
                      "intensity_flop_per_byte": flops / nbytes}
            if label:
                params["layer"] = label
            if be.name == "cupy":
                params["tf32"] = dt == "tf32"
                params["impl"] = ("cublasGemmEx int8->int32 (COMPUTE_32I)" if dt == "int8"
                                  else "cupy.matmul (cuBLAS)")
            else:
                params["impl"] = "numpy.matmul (BLAS)"
            unit = "OP/s" if dt == "int8" else "FLOP/s"
            rows.append(_row(be, "gemm", dt, res, value=res.rate(flops), unit=unit, flops=flops,
                             bytes_moved=nbytes, size_bytes=nbytes, shape=(m, n, k),
                             peak=_peak_flops(be, dt), params=params))
            del a, b, c, fn
            be.free_all()
    return pd.DataFrame(rows, columns=COLUMNS)


# ----------------------------------------------------------------------------- latency, transfers
def launch_latency(backend="auto", timer: dict | None = None):
    """Kernel launch latency: an empty kernel, launch + synchronize, host clock [s]."""
    import pandas as pd

    be = _backend(backend)
    if be.device_kind != "cuda":
        raise ValueError(f"launch latency needs a GPU backend: {_unsupported(be, 'launch_latency')}")
    fn = be.empty_kernel_fn()

    def launch_sync():
        fn()
        be.sync()

    kw = _timer_kwargs({"min_samples": 50, "min_time_s": 0.02, "max_time_s": 1.0, **(timer or {})})
    res = benchmark(launch_sync, device="cpu", flush_l2=False, **kw)
    rows = [_row(be, "launch_latency", "none", res, value=res.median_s, unit="s",
                 params={"group": "latency", "what": "empty kernel launch + synchronize, host clock"})]

    # back-to-back launches: 100 queued launches, one synchronize (launch throughput)
    def burst():
        for _ in range(100):
            fn()
        be.sync()

    res2 = benchmark(burst, device="cpu", flush_l2=False, **_timer_kwargs(timer))
    res2 = _divide(res2, 100)
    rows.append(_row(be, "launch_overhead", "none", res2, value=res2.median_s, unit="s",
                     params={"group": "latency",
                             "what": "per launch, 100 empty kernels queued then one synchronize"}))
    return pd.DataFrame(rows, columns=COLUMNS)


def transfer(nbytes: int | str = 256 * 2**20, backend="auto", timer: dict | None = None):
    """Host-to-device and device-to-host copies, pinned and pageable host memory [B/s]."""
    import pandas as pd

    from .._units import parse_bytes

    be = _backend(backend)
    if not hasattr(be, "transfer_fns"):
        raise ValueError(f"transfers are not available on backend {be.name!r}: "
                         f"{_unsupported(be, 'transfer')}")
    nbytes = int(parse_bytes(nbytes))
    _ensure_fits(be, nbytes, f"transfer buffer of {format_bytes(nbytes)}")
    err = be.transfer_check()
    if err != 0.0:
        raise AssertionError(f"host-device round trip changed the data (max abs diff {err})")
    fns = be.transfer_fns(nbytes)
    rows = []
    for (direction, mem), fn in fns.items():
        res = benchmark(fn, device="cuda", clock=_event_clock(be), flush_l2=False,
                        **_timer_kwargs(timer))
        rows.append(_row(be, f"{direction}_{mem}", "none", res, value=res.rate(nbytes), unit="B/s",
                         bytes_moved=nbytes, size_bytes=nbytes,
                         params={"group": "transfer", "direction": direction, "host_memory": mem}))
    be._transfer_keep = None
    be.free_all()
    return pd.DataFrame(rows, columns=COLUMNS)


def memory_capacity(backend="auto"):
    """Device memory: total and free [B] (host memory on CPU backends)."""
    import pandas as pd

    be = _backend(backend)
    info = be.device_info()
    total = info.get("memory_total_bytes") or info.get("memory_available_bytes")
    free = be.mem_free_bytes()
    acc = _accelerator(be.device_name()) if be.device_kind == "cuda" else None
    peak = None
    try:
        peak = float(acc.memory_gib) * 2**30 if acc is not None else None
    except Exception:
        peak = None
    row = _row(be, "memory_capacity", "none", None, value=float(total), unit="B",
               size_bytes=float(total), peak=peak,
               params={"group": "memory", "free_bytes": int(free),
                       "what": "device memory (cudaMemGetInfo)" if be.device_kind == "cuda"
                       else "host MemAvailable"})
    if peak:
        row["pct_of_peak"] = 100.0 * float(total) / peak
    return pd.DataFrame([row], columns=COLUMNS)


# ----------------------------------------------------------------------------- roofline
def _mix_reference(x: np.ndarray, k: int, a: float, c: float) -> np.ndarray:
    ak = a**k
    tail = c * (1 - ak) / (1 - a) if k else 0.0
    return ak * x + tail


def check_roofline(backend="auto", dtype: str = "fp32", n: int | None = None,
                   seed: int | None = None) -> float:
    """Check the roofline kernel against its closed form in float64; return the worst error.

    ``y = a^K x + c (1 - a^K) / (1 - a)`` for K = 1, 8, 64 (fp16: K = 8).
    """
    be = _backend(backend)
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
        err = _rel_err(be.to_host(y), _mix_reference(hx, kk, aa, cc))
        if not err <= MIX_TOL[dtype]:
            raise AssertionError(f"{be.name} roofline kernel {dtype} K={kk} is wrong: "
                                 f"relative error {err:.3g} > {MIX_TOL[dtype]:g}")
        worst = max(worst, err)
    return worst


def roofline_sweep(dtype: str = "fp32", fmas=None, n: int | None = None, backend="auto",
                   check: bool = True, timer: dict | None = None):
    """mixbench-style sweep: K dependent FMAs per element loaded, K from 0 to past the ridge.

    Operational intensity = 2K FLOP / (2 x itemsize) bytes (one read, one write per element).

    Returns one row per K, ``name="roofline"``, value in FLOP/s, with the achieved bandwidth
    and intensity in ``params``; ``peak`` is the attainable roof min(peak FLOP/s, I x peak B/s)
    where the catalog has the device (fp16 runs on the CUDA cores as half2 and has no
    catalog row of its own: peak left empty).
    """
    import pandas as pd

    be = _backend(backend)
    dtype = normalize_dtype(dtype)
    offered = getattr(be, "roofline_dtypes", ())
    if not offered:
        raise ValueError(f"the roofline sweep is not available on backend {be.name!r}: "
                         f"{_unsupported(be, 'roofline')}")
    _check_supported(be, "roofline", dtype, offered)
    gpu = be.device_kind == "cuda"
    from ._kernels_cupy import MIX_KS

    ks = list(fmas) if fmas is not None else list(MIX_KS)
    n = int(n or (1 << 26 if gpu else 1 << 22))
    n -= n % 8
    item = DTYPE_BYTES[dtype]
    _ensure_fits(be, 2 * n * item, f"roofline sweep with 2 x {n} {dtype} elements")

    def alloc(nn, seed):
        return be.random(nn, dtype, seed), be.empty(nn, dtype)

    if check:
        check_roofline(be, dtype)
    x, y = alloc(n, 99)
    peak_f = None if dtype == "fp16" else _peak_flops(be, dtype)
    peak_b = _peak_bw(be)
    rows = []
    for kk in ks:
        fn, grid = be.mix_fn(dtype, kk, x, y, MIX_A, MIX_C)
        res = benchmark(fn, device=be.device_kind, clock=_event_clock(be) if gpu else None,
                        **_timer_kwargs(timer))
        flops = 2.0 * kk * n
        nbytes = 2.0 * n * item
        oi = flops / nbytes
        roof = None
        if peak_f and peak_b:
            roof = min(peak_f, oi * peak_b) if kk else peak_b
        value = res.rate(flops) if kk else res.rate(nbytes)
        params = {"group": "roofline", "fmas_per_element": kk, "intensity_flop_per_byte": oi,
                  "bandwidth_bytes_per_s": res.rate(nbytes), "flops_per_s": res.rate(flops),
                  "n": n, "units": "half2 CUDA cores" if dtype == "fp16" else "CUDA cores"
                  if gpu else "CPU SIMD"}
        if grid is not None:
            params["grid"] = grid
        rows.append(_row(be, "roofline", dtype, res, value=value, unit="FLOP/s" if kk else "B/s",
                         flops=flops, bytes_moved=nbytes, size_bytes=n * item, shape=(n,),
                         peak=roof, params=params))
    del x, y
    be.free_all()
    return pd.DataFrame(rows, columns=COLUMNS)


# ----------------------------------------------------------------------------- the run object
@dataclass
class Run:
    """One suite run: a tidy DataFrame of results and the context they were measured in.

    Attributes
    ----------
    df : pandas.DataFrame
        One row per measurement (:data:`COLUMNS`).
    context : dict
        Host, device, versions, TF32 setting, NVML readings, suite, wall time.
    partial : bool
        True when the run was interrupted (Ctrl-C) and holds only the finished measurements.
    errors : list of (str, str)
        (task, message) for each task that failed; the others still ran.
    run_id : str or None
        The store's id when saved.
    """

    df: object
    context: dict
    partial: bool = False
    errors: list = field(default_factory=list)
    run_id: str | None = None

    def summary(self):
        """A short table: kernel, dtype, shape, median time, rate and percent of peak."""
        import pandas as pd

        df = self.df
        if len(df) == 0:
            return pd.DataFrame(columns=["name", "backend", "dtype", "shape", "median", "rate",
                                         "pct_of_peak"])
        out = pd.DataFrame({
            "name": df["name"], "backend": df["backend"], "dtype": df["dtype"],
            "shape": df["shape"],
            "median": [_fmt_time(x) for x in df["median_s"]],
            "rate": [_fmt_value(v, u) for v, u in zip(df["value"], df["unit"])],
            "pct_of_peak": [None if p is None or (isinstance(p, float) and math.isnan(p))
                            else round(float(p), 1) for p in df["pct_of_peak"]],
        })
        return out

    def to_records(self) -> list[dict]:
        """JSON-ready records (:data:`JSON_FIELDS` plus params, samples, flags, context keys)."""
        recs = []
        for row in self.df.to_dict(orient="records"):
            rec = {"kernel": row["name"]}
            for k in COLUMNS:
                v = row.get(k)
                if isinstance(v, float) and math.isnan(v):
                    v = None
                rec[k] = _jsonable(v)
            recs.append(rec)
        return recs

    def to_json(self, path: str | Path | None = None) -> str:
        """The run as JSON: ``{"context": ..., "partial": ..., "results": [records]}``."""
        doc = {"context": _jsonable(self.context), "partial": self.partial,
               "errors": [list(e) for e in self.errors], "results": self.to_records()}
        text = json.dumps(doc, indent=1, default=str)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text + "\n")
        return text

    def __repr__(self) -> str:
        head = (f"aicost.bench.Run({self.context.get('suite')!r} suite on "
                f"{self.context.get('device')!r} via {self.context.get('backend')!r}, "
                f"{len(self.df)} results{', PARTIAL' if self.partial else ''}"
                f"{', run_id=' + self.run_id if self.run_id else ''})")
        body = self.summary().to_string(index=False) if len(self.df) else "(no results)"
        errs = "".join(f"\n  error in {t}: {m}" for t, m in self.errors)
        return f"{head}\n{body}{errs}"

    def _repr_html_(self) -> str:
        ctx = self.context
        title = html.escape(f"{ctx.get('suite', '?')} suite · {ctx.get('device', '?')} · "
                            f"backend {ctx.get('backend', '?')} · {ctx.get('time_utc', '')}")
        warn = "<p><b>Partial run (interrupted)</b></p>" if self.partial else ""
        errs = "".join(f"<li>{html.escape(t)}: {html.escape(m)}</li>" for t, m in self.errors)
        errs = f"<p>Errors:</p><ul>{errs}</ul>" if errs else ""
        return (f"<div><p><b>aicost compute benchmark</b>: {title}</p>{warn}"
                f"{self.summary().to_html(index=False)}{errs}</div>")


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    return v


def _fmt_time(s) -> str:
    if s is None or (isinstance(s, float) and math.isnan(s)):
        return ""
    for unit, f in (("s", 1), ("ms", 1e-3), ("us", 1e-6)):
        if s >= f:
            return f"{s / f:.3g} {unit}"
    return f"{s * 1e9:.3g} ns"


def _fmt_value(v, unit) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if unit == "B/s":
        return f"{v / 1e9:.1f} GB/s"
    if unit in ("FLOP/s", "OP/s"):
        return f"{v / 1e12:.2f} T{unit}"
    if unit == "s":
        return _fmt_time(v)
    if unit == "B":
        return f"{v / 2**30:.1f} GiB"
    return f"{v:g} {unit}"


def load_results(path: str | Path) -> Run:
    """Read a run saved with :meth:`Run.to_json` (or by ``scripts/device_check.py``).

    A device-check file holds several runs: ``{"runs": [...]}``; their results are
    concatenated (the ``params['suite']`` of each row says which run it came from).
    """
    import pandas as pd

    doc = json.loads(Path(path).read_text())
    if "runs" in doc:
        recs, ctx = [], dict(doc.get("context") or {})
        for r in doc["runs"]:
            for rec in r.get("results", []):
                rec = dict(rec)
                rec["params"] = {**(rec.get("params") or {}),
                                 "suite": r.get("context", {}).get("suite")}
                recs.append(rec)
        partial = any(r.get("partial") for r in doc["runs"])
    else:
        recs, ctx, partial = doc.get("results", []), dict(doc.get("context") or {}), doc.get("partial", False)
    df = pd.DataFrame([{k: r.get(k) for k in COLUMNS} for r in recs], columns=COLUMNS)
    for col in ("flops", "bytes_moved", "median_s", "min_s", "mean_s", "stdev_s", "iqr_s",
                "value", "peak", "pct_of_peak", "size_bytes"):
        df[col] = pd.to_numeric(df[col], errors="coerce")
    ctx.setdefault("source_file", str(path))
    return Run(df=df, context=ctx, partial=bool(partial), errors=[tuple(e) for e in doc.get("errors", [])])


# ----------------------------------------------------------------------------- suites
SUITES = ("quick", "full")


def _suite_tasks(be, suite: str) -> list[tuple[str, Callable]]:
    """(label, callable returning a DataFrame) for each measurement of the suite."""
    gpu = be.device_kind == "cuda"
    quick = suite == "quick"
    t = ({"min_samples": 10, "min_time_s": 0.02, "max_time_s": 1.0} if quick
         else {"min_samples": 10, "min_time_s": 0.05, "max_time_s": 2.0})
    tasks: list[tuple[str, Callable]] = [("memory capacity", lambda: memory_capacity(be))]
    if gpu:
        tasks.append(("launch latency", lambda: launch_latency(be)))
        rep = 4 if be.name == "numba-cuda" else 1
        n32 = 1 << 27 if quick else 1 << 28
        tasks.append(("stream fp32", lambda: stream(n=n32, dtype="fp32", backend=be, timer=t,
                                                    repeat=rep)))
        tasks.append(("sum fp32", lambda: reduction("sum", n=n32, dtype="fp32", backend=be,
                                                    timer=t)))
        if not quick:
            tasks.append(("stream fp64", lambda: stream(n=1 << 27, dtype="fp64", backend=be,
                                                        timer=t, repeat=rep)))
            tasks.append(("sum fp64", lambda: reduction("sum", n=1 << 27, dtype="fp64",
                                                        backend=be, timer=t)))
        for dt in be.gemm_dtypes:
            sizes = [4096] if quick else [2048, 4096, 8192]
            tasks.append((f"gemm {dt}", functools.partial(gemm, dt, sizes, be, True, t)))
        if be.gemm_dtypes:
            layers = (["llama-3.1-8b.mlp_up@4096"] if quick else list(GEMM_SHAPES))
            for dt in (["bf16"] if quick else ["bf16", "fp16"]):
                if dt in be.gemm_dtypes:
                    tasks.append((f"gemm {dt} layers",
                                  functools.partial(gemm, dt, layers, be, False, t)))
        if hasattr(be, "transfer_fns"):
            nb = 256 * 2**20 if quick else 2**30
            tasks.append(("transfers", lambda: transfer(nb, be, timer=t)))
        for dt in getattr(be, "roofline_dtypes", ()):
            if quick and dt != "fp32":
                continue
            ks = (0, 1, 4, 16, 64, 256, 1024) if quick else None
            tasks.append((f"roofline {dt}",
                          functools.partial(roofline_sweep, dt, ks, 1 << 26 if quick else 1 << 27,
                                            be, True, t)))
    else:
        n = 1 << 23 if quick else 1 << 25
        tasks.append(("stream fp32", lambda: stream(n=n, dtype="fp32", backend=be, timer=t)))
        tasks.append(("sum fp32", lambda: reduction("sum", n=n, dtype="fp32", backend=be, timer=t)))
        if not quick:
            tasks.append(("stream fp64", lambda: stream(n=n, dtype="fp64", backend=be, timer=t)))
        for dt in be.gemm_dtypes:
            sizes = [256, 1024] if quick else [512, 1024, 2048]
            tasks.append((f"gemm {dt}", functools.partial(gemm, dt, sizes, be, True, t)))
        if not quick:
            tasks.append(("gemm fp32 layer", functools.partial(
                gemm, "fp32", [(512, 4096, 4096)], be, False, t)))
        for dt in getattr(be, "roofline_dtypes", ()):
            if quick and dt != "fp32":
                continue
            ks = (0, 1, 4, 16, 64) if quick else (0, 1, 2, 4, 8, 16, 32, 64, 128, 256)
            tasks.append((f"roofline {dt}", functools.partial(
                roofline_sweep, dt, ks, 1 << 21 if quick else 1 << 22, be, True, t)))
    return tasks


def run(suite: str = "quick", backend="auto", store=None, progress: bool = True,
        raise_errors: bool = False) -> Run:
    """Run a benchmark suite and save it in the results store.

    Parameters
    ----------
    suite : {"quick", "full"}
        quick: a few seconds on a GPU, under a minute on a 2-core CPU; full: all dtypes,
        sizes, transformer layer shapes and the whole roofline sweep.
    backend : str
        "auto" (the best that can run here), "cupy", "numba-cuda", "numba" or "numpy".
    store : None, Store or False
        None saves into the default store (``$AICOST_HOME/results.duckdb``); False saves
        nothing.
    progress : bool
        Show a tqdm progress bar.
    raise_errors : bool
        Re-raise the first failing task instead of recording it and going on.

    Returns
    -------
    Run
        ``partial=True`` when interrupted with Ctrl-C (the finished measurements are kept
        and saved, marked partial).
    """
    import pandas as pd

    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; use one of {', '.join(SUITES)}")
    be = get_backend(backend)
    ctx = collect_context(be)
    ctx["suite"] = suite
    tasks = _suite_tasks(be, suite)
    frames: list = []
    errors: list = []
    partial = False
    t0 = time.perf_counter()
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(tasks), desc=f"bench {suite} ({be.name})", unit="task")
        except Exception:
            bar = None
    try:
        for label, task in tasks:
            if bar is not None:
                bar.set_postfix_str(label)
            try:
                frames.append(task())
            except (BackendUnavailableError, KeyboardInterrupt):
                raise
            except Exception as exc:
                if raise_errors:
                    raise
                errors.append((label, f"{type(exc).__name__}: {exc}"))
            if bar is not None:
                bar.update(1)
    except KeyboardInterrupt:
        partial = True
        warnings.warn("benchmark interrupted: keeping the finished measurements (partial run)",
                      stacklevel=2)
    finally:
        if bar is not None:
            bar.close()
    ctx["wall_s"] = time.perf_counter() - t0
    frames = [f for f in frames if f is not None and len(f)]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    result = Run(df=df, context=ctx, partial=partial, errors=errors)
    if store is not False:
        result.run_id = _save(result, store)
    return result


def _save(result: Run, store) -> str | None:
    try:
        if store is None:
            from ..store import Store

            store = Store()
        return store.save_run(result.df, context=_jsonable(result.context), kind="compute",
                              partial=result.partial)
    except Exception as exc:  # a store problem must not lose the measurements
        result.context["store_error"] = f"results not saved: {type(exc).__name__}: {exc}"
        warnings.warn(f"results not saved: {type(exc).__name__}: {exc}", stacklevel=3)
        return None
