"""The per-kernel measurements: STREAM and reductions, GEMM, launch latency, host-device
transfers, memory capacity, the roofline sweep. Each returns tidy rows (:data:`COLUMNS`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._units import DTYPE_BYTES, format_bytes, normalize_dtype
from ._checks import check_gemm, check_roofline, check_stream
from ._rows import (
    COLUMNS,
    catalog_accelerator,
    check_supported,
    ensure_fits,
    peak_bw,
    peak_flops,
    per_call,
    resolve_backend,
    result_row,
    timer_kwargs,
    unsupported_reason,
)
from ._timer import GPU_GEMM_MIN_TIME_S, benchmark
from ._workloads import (
    GEMM_SHAPES,
    MIX_A,
    MIX_C,
    MIX_KS,
    STREAM_ARRAYS,
    STREAM_FLOPS,
    STREAM_SCALAR,
    gemm_shape,
)

__all__ = [
    "gemm",
    "gemm_timer_kwargs",
    "launch_latency",
    "memory_capacity",
    "reduction",
    "roofline_sweep",
    "stream",
    "transfer",
]


def gemm_timer_kwargs(timer: dict | None, gpu: bool) -> dict:
    """The timer settings of one GEMM: on a GPU at least :data:`GPU_GEMM_MIN_TIME_S` of
    samples (and a ``max_time_s`` that leaves room for them, with the warm-up)."""
    kw = timer_kwargs(timer)
    if gpu:
        kw["min_time_s"] = max(float(kw["min_time_s"]), GPU_GEMM_MIN_TIME_S)
        kw["max_time_s"] = max(float(kw["max_time_s"]), 3.0 * GPU_GEMM_MIN_TIME_S)
    return kw


def _tune_waves(be, dtype: str, arrays: dict, candidates=(1, 2, 4, 8, None)) -> tuple:
    """Pick the launch configuration (waves of resident blocks) with the fastest triad."""
    best = None
    for w in candidates:
        fn, _, grid = be.stream_fn("triad", dtype, arrays, STREAM_SCALAR, waves=w)
        r = benchmark(fn, warmup=2, min_samples=5, max_samples=5, min_time_s=0.0, max_time_s=1.0,
                      flush_l2=False, device="cuda", nvml=False,
                      clock=be.event_clock())
        if best is None or r.median_s < best[1]:
            best = (w, r.median_s, grid)
    return best[0], [("full" if w is None else w) for w in candidates]


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

    be = resolve_backend(backend)
    dtype = normalize_dtype(dtype)
    ops = [op] if isinstance(op, str) else list(op)
    for o in ops:
        if o not in STREAM_ARRAYS:
            raise ValueError(f"unknown STREAM op {o!r}; use {', '.join(STREAM_ARRAYS)}")
    check_supported(be, "stream", dtype, be.stream_dtypes)
    gpu = be.device_kind == "cuda"
    n = int(n or (1 << 27 if gpu else 1 << 23))
    item = DTYPE_BYTES[dtype]
    ensure_fits(be, 3 * n * item, f"STREAM with 3 x {n} {dtype} elements")
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
        kw = timer_kwargs(timer)
        rep = int(repeat or 1)
        if rep > 1:
            inner = fn

            def fn(inner=inner, rep=rep):
                for _ in range(rep):
                    inner()
        res = benchmark(fn, device=be.device_kind, clock=be.event_clock(), **kw)
        if rep > 1:
            res = per_call(res, rep)
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
        rows.append(result_row(be, o, dtype, res, value=res.rate(nbytes), unit="B/s",
                         flops=STREAM_FLOPS[o] * n, bytes_moved=nbytes, size_bytes=n * item,
                         shape=(n,), peak=peak_bw(be), params=params))
    del arrays
    be.free_all()
    return pd.DataFrame(rows, columns=COLUMNS)


def reduction(op: str = "sum", n: int | None = None, dtype: str = "fp32", backend="auto",
              check: bool = True, timer: dict | None = None):
    """Reductions: ``sum`` (one array) and ``dot`` (two) [B/s of input read]."""
    return stream(op, n=n, dtype=dtype, backend=backend, check=check, timer=timer)


def gemm(dtype: str | Sequence[str] = "fp32", shape=None, backend="auto", check: bool = True,
         timer: dict | None = None):
    """Matrix products C[m,n] = A[m,k] @ B[k,n] [FLOP/s] (2*m*n*k FLOP each).

    Parameters
    ----------
    dtype : str or sequence
        fp64, fp32, tf32, bf16, fp16, int8 (what the backend offers; the error says why not).
    shape : int, (m, n, k), "MxNxK", a name from :data:`GEMM_SHAPES`, or a list of these
        Default 4096 on a GPU, 1024 on the CPU.
    backend : str or backend object
    check : bool
        Check the product against float64 NumPy first.
    timer : dict, optional
        Keyword arguments of :func:`aicost.bench.benchmark`. On a GPU every GEMM is sampled for
        at least :data:`aicost.bench.GPU_GEMM_MIN_TIME_S` (0.1 s) of measured time after its
        warm-up, whatever ``min_time_s`` says (the sustained, power-capped rate), and
        ``max_time_s`` is raised to leave room for it.
    """
    import pandas as pd

    be = resolve_backend(backend)
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
        check_supported(be, "gemm", dt, be.gemm_dtypes)
        if check:
            check_gemm(be, dt)
        for shp in shapes:
            label = shp if isinstance(shp, str) and shp in GEMM_SHAPES else None
            m, n, k = gemm_shape(shp)
            item = DTYPE_BYTES[dt]
            out_item = 4 if dt == "int8" else item
            nbytes = (m * k + k * n) * item + m * n * out_item
            ensure_fits(be, nbytes, f"GEMM {dt} {m}x{n}x{k}")
            a, b, c = be.gemm_operands(dt, m, n, k, 4321)
            fn = be.gemm_fn(dt, a, b, c)
            res = benchmark(fn, device=be.device_kind, clock=be.event_clock(),
                            **gemm_timer_kwargs(timer, gpu))
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
            rows.append(result_row(be, "gemm", dt, res, value=res.rate(flops), unit=unit, flops=flops,
                             bytes_moved=nbytes, size_bytes=nbytes, shape=(m, n, k),
                             peak=peak_flops(be, dt), params=params))
            del a, b, c, fn
            be.free_all()
    return pd.DataFrame(rows, columns=COLUMNS)


def launch_latency(backend="auto", timer: dict | None = None):
    """Kernel launch latency: an empty kernel, launch + synchronize, host clock [s]."""
    import pandas as pd

    be = resolve_backend(backend)
    if be.device_kind != "cuda":
        raise ValueError(f"launch latency needs a GPU backend: {unsupported_reason(be, 'launch_latency')}")
    fn = be.empty_kernel_fn()

    def launch_sync():
        fn()
        be.sync()

    kw = timer_kwargs({"min_samples": 50, "min_time_s": 0.02, "max_time_s": 1.0, **(timer or {})})
    res = benchmark(launch_sync, device="cpu", flush_l2=False, **kw)
    rows = [result_row(be, "launch_latency", "none", res, value=res.median_s, unit="s",
                 params={"group": "latency", "what": "empty kernel launch + synchronize, host clock"})]

    # back-to-back launches: 100 queued launches, one synchronize (launch throughput)
    def burst():
        for _ in range(100):
            fn()
        be.sync()

    res2 = benchmark(burst, device="cpu", flush_l2=False, **timer_kwargs(timer))
    res2 = per_call(res2, 100)
    rows.append(result_row(be, "launch_overhead", "none", res2, value=res2.median_s, unit="s",
                     params={"group": "latency",
                             "what": "per launch, 100 empty kernels queued then one synchronize"}))
    return pd.DataFrame(rows, columns=COLUMNS)


def transfer(nbytes: int | str = 256 * 2**20, backend="auto", timer: dict | None = None):
    """Host-to-device and device-to-host copies, pinned and pageable host memory [B/s]."""
    import pandas as pd

    from .._units import parse_bytes

    be = resolve_backend(backend)
    if not be.has_transfers:
        raise ValueError(f"transfers are not available on backend {be.name!r}: "
                         f"{unsupported_reason(be, 'transfer')}")
    nbytes = int(parse_bytes(nbytes))
    ensure_fits(be, nbytes, f"transfer buffer of {format_bytes(nbytes)}")
    err = be.transfer_check()
    if err != 0.0:
        raise AssertionError(f"host-device round trip changed the data (max abs diff {err})")
    fns = be.transfer_fns(nbytes)
    rows = []
    for (direction, mem), fn in fns.items():
        res = benchmark(fn, device="cuda", clock=be.event_clock(), flush_l2=False,
                        **timer_kwargs(timer))
        rows.append(result_row(be, f"{direction}_{mem}", "none", res, value=res.rate(nbytes), unit="B/s",
                         bytes_moved=nbytes, size_bytes=nbytes,
                         params={"group": "transfer", "direction": direction, "host_memory": mem}))
    del fns  # the copies' closures hold the device and host buffers
    be.free_all()
    return pd.DataFrame(rows, columns=COLUMNS)


def memory_capacity(backend="auto"):
    """Device memory: total and free [B] (host memory on CPU backends)."""
    import pandas as pd

    be = resolve_backend(backend)
    info = be.device_info()
    total = info.get("memory_total_bytes") or info.get("memory_available_bytes")
    free = be.mem_free_bytes()
    acc = catalog_accelerator(be.device_name()) if be.device_kind == "cuda" else None
    peak = float(acc.memory_gib) * 2**30 if acc is not None else None
    row = result_row(be, "memory_capacity", "none", None, value=float(total), unit="B",
               size_bytes=float(total), peak=peak,
               params={"group": "memory", "free_bytes": int(free),
                       "what": "device memory (cudaMemGetInfo)" if be.device_kind == "cuda"
                       else "host MemAvailable"})
    if peak:
        row["pct_of_peak"] = 100.0 * float(total) / peak
    return pd.DataFrame([row], columns=COLUMNS)


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

    be = resolve_backend(backend)
    dtype = normalize_dtype(dtype)
    offered = be.roofline_dtypes
    if not offered:
        raise ValueError(f"the roofline sweep is not available on backend {be.name!r}: "
                         f"{unsupported_reason(be, 'roofline')}")
    check_supported(be, "roofline", dtype, offered)
    gpu = be.device_kind == "cuda"
    ks = list(fmas) if fmas is not None else list(MIX_KS)
    n = int(n or (1 << 26 if gpu else 1 << 22))
    n -= n % 8
    item = DTYPE_BYTES[dtype]
    ensure_fits(be, 2 * n * item, f"roofline sweep with 2 x {n} {dtype} elements")

    def alloc(nn, seed):
        return be.random(nn, dtype, seed), be.empty(nn, dtype)

    if check:
        check_roofline(be, dtype)
    x, y = alloc(n, 99)
    peak_f = None if dtype == "fp16" else peak_flops(be, dtype)
    peak_b = peak_bw(be)
    rows = []
    for kk in ks:
        fn, grid = be.mix_fn(dtype, kk, x, y, MIX_A, MIX_C)
        res = benchmark(fn, device=be.device_kind, clock=be.event_clock(),
                        **timer_kwargs(timer))
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
        rows.append(result_row(be, "roofline", dtype, res, value=value, unit="FLOP/s" if kk else "B/s",
                         flops=flops, bytes_moved=nbytes, size_bytes=n * item, shape=(n,),
                         peak=roof, params=params))
    del x, y
    be.free_all()
    return pd.DataFrame(rows, columns=COLUMNS)
