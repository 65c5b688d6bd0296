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
from ._checks import check_gemm, check_roofline, check_stream
from ._context import collect_context
from ._measure import (
    gemm,
    launch_latency,
    memory_capacity,
    reduction,
    roofline_sweep,
    stream,
    transfer,
)
from ._preprocess import PREPROCESS_PIPELINES as PREPROCESS_PIPELINES
from ._preprocess import default_preprocess_rates, preprocess_throughput
from ._protocol import BenchBackend
from ._rows import COLUMNS as COLUMNS
from ._rows import JSON_FIELDS as JSON_FIELDS
from ._run import Run, load_results
from ._suite import run
from ._timer import GPU_GEMM_MIN_TIME_S as GPU_GEMM_MIN_TIME_S
from ._timer import GPU_WARMUP_S as GPU_WARMUP_S
from ._timer import (
    BenchResult,
    CpuClock,
    CudaEventClock,
    FakeClock,
    StoppingRule,
    benchmark,
    median_rse,
    summarize,
)
from ._workloads import GEMM_SHAPES as GEMM_SHAPES
from ._workloads import gemm_shape

#: classes and functions (constants such as COLUMNS, GEMM_SHAPES are importable too)
__all__ = [
    "BackendStatus",
    "BenchBackend",
    "BenchResult",
    "CpuClock",
    "CudaEventClock",
    "FakeClock",
    "Run",
    "StoppingRule",
    "available_backends",
    "backend_status",
    "benchmark",
    "check_gemm",
    "check_roofline",
    "check_stream",
    "collect_context",
    "default_preprocess_rates",
    "gemm",
    "gemm_shape",
    "get_backend",
    "launch_latency",
    "load_results",
    "median_rse",
    "memory_capacity",
    "preprocess_throughput",
    "reduction",
    "roofline_sweep",
    "run",
    "stream",
    "summarize",
    "transfer",
]
