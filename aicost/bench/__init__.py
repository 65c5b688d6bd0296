"""Compute benchmarks: the timer, backends, kernels and suites.

``aicost.bench.run("quick")`` measures this machine (GPU through CuPy or Numba CUDA, CPU
through Numba or NumPy) and saves the results in the store; the per-kernel functions
(:func:`gemm`, :func:`stream`, :func:`reduction`, :func:`launch_latency`, :func:`transfer`,
:func:`memory_capacity`, :func:`roofline_sweep`) and the timer :func:`benchmark` are public
for notebooks. Heavy libraries (CuPy, Numba) are imported only when a backend is used.
"""

from __future__ import annotations

from ._backends import BACKENDS as BACKENDS
from ._backends import BackendStatus, available_backends, backend_status, get_backend
from ._context import collect_context
from ._suite import (
    COLUMNS as COLUMNS,
)
from ._suite import (
    GEMM_SHAPES as GEMM_SHAPES,
)
from ._suite import (
    JSON_FIELDS as JSON_FIELDS,
)
from ._suite import (
    Run,
    check_gemm,
    check_roofline,
    check_stream,
    gemm,
    launch_latency,
    load_results,
    memory_capacity,
    reduction,
    roofline_sweep,
    run,
    stream,
    transfer,
)
from ._timer import (
    BenchResult,
    CpuClock,
    CudaEventClock,
    FakeClock,
    benchmark,
    median_rse,
    summarize,
)

#: classes and functions (constants such as COLUMNS, GEMM_SHAPES are importable too)
__all__ = [
    "BackendStatus",
    "BenchResult",
    "CpuClock",
    "CudaEventClock",
    "FakeClock",
    "Run",
    "available_backends",
    "backend_status",
    "benchmark",
    "check_gemm",
    "check_roofline",
    "check_stream",
    "collect_context",
    "gemm",
    "get_backend",
    "launch_latency",
    "load_results",
    "median_rse",
    "memory_capacity",
    "reduction",
    "roofline_sweep",
    "run",
    "stream",
    "summarize",
    "transfer",
]
