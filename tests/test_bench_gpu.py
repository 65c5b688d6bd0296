"""GPU tests: run only where CuPy sees a CUDA device (skipped on CI)."""

from __future__ import annotations

import pytest

from tests.conftest import requires_cupy, requires_gpu

FAST = {"min_samples": 5, "min_time_s": 0.0, "max_time_s": 1.0}


@requires_cupy
@pytest.mark.parametrize("dtype", ["fp64", "fp32", "tf32", "bf16", "fp16", "int8"])
def test_cupy_gemm_correct(dtype):
    from aicost import bench

    assert bench.check_gemm("cupy", dtype) <= bench._checks.GEMM_TOL[dtype]


@requires_cupy
@pytest.mark.parametrize("op", ["copy", "scale", "add", "triad", "dot", "sum"])
@pytest.mark.parametrize("waves", [1, None])
def test_cupy_stream_correct(op, waves):
    from aicost import bench

    bench.check_stream("cupy", op, "fp32", waves=waves)
    bench.check_stream("cupy", op, "fp64", waves=waves)


@requires_cupy
@pytest.mark.parametrize("dtype", ["fp32", "fp64", "fp16"])
def test_cupy_roofline_kernel_correct(dtype):
    from aicost import bench

    bench.check_roofline("cupy", dtype)


@requires_gpu
def test_numba_cuda_stream_correct():
    from aicost import bench

    if not bench.backend_status("numba-cuda").available:
        pytest.skip(bench.backend_status("numba-cuda").reason)
    for op in ("copy", "triad", "dot", "sum"):
        bench.check_stream("numba-cuda", op, "fp32", waves=1)


@requires_cupy
def test_cupy_quick_rows_have_peaks_and_context():
    from aicost import bench

    df = bench.stream("triad", n=1 << 24, backend="cupy", timer=FAST)
    assert df["params"][0]["grid"] > 0
    lat = bench.launch_latency("cupy", timer=FAST)
    assert 0 < lat["value"][0] < 1e-3
    ctx = bench.collect_context(bench.get_backend("cupy"))
    assert "tf32" in ctx["device_info"]
