"""CuPy backend: vectorized grid-stride raw CUDA kernels and cuBLAS GEMM through CuPy.

Memory-bandwidth kernels are written to reach the hardware: each thread moves 16 bytes per
load/store (``float4`` / ``double2``) in a grid-stride loop, with a scalar tail. A plain CuPy
``ElementwiseKernel`` triad reaches only about 59 % of an H200's copy rate (docs/benchmarks.md);
these reach 95 %+.

GEMM goes through ``cupy.matmul`` (cuBLAS ``cublasGemmEx``, fp32 accumulation for fp16/bf16).
TF32 is CuPy's per-dtype *compute type*: CuPy reads ``CUPY_TF32`` once, the first time a
float32 product runs, and caches it; this module reads the setting in force, records it,
sets ``COMPUTE_TYPE_TF32`` only around "tf32" products and ``COMPUTE_TYPE_DEFAULT`` around
"fp32" products, and restores the previous value afterwards. bfloat16 uses ``ml_dtypes``
(CuPy >= 14). int8 calls ``cublasGemmEx`` directly (int8 inputs, int32 output,
``CUBLAS_COMPUTE_32I``, the "TN" layout the IMMA kernels require).
"""

from __future__ import annotations

import contextlib
import functools

import numpy as np

from ._workloads import MIX_KS  # FMAs per element: the template instantiations

__all__ = ["CupyBackend"]

#: threads per block of the STREAM and roofline kernels
THREADS = 256

_VEC = {  # dtype -> (C type, vector type, width, component names)
    "fp32": ("float", "float4", 4, "xyzw"),
    "fp64": ("double", "double2", 2, "xy"),
}


def _stream_source(ctype: str, vtype: str, width: int, comps: str, suffix: str) -> str:
    def each(expr: str) -> str:
        return " ".join(expr.format(f=f) for f in comps[:width])

    return f"""
extern "C" {{
__global__ void copy_{suffix}(const {ctype}* __restrict__ a, {ctype}* __restrict__ c, long long n) {{
    const long long nv = n / {width};
    const {vtype}* __restrict__ av = reinterpret_cast<const {vtype}*>(a);
    {vtype}* __restrict__ cv = reinterpret_cast<{vtype}*>(c);
    const long long stride = (long long)blockDim.x * gridDim.x;
    const long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    for (long long i = t; i < nv; i += stride) cv[i] = av[i];
    for (long long i = nv * {width} + t; i < n; i += stride) c[i] = a[i];
}}
__global__ void scale_{suffix}(const {ctype}* __restrict__ c, {ctype}* __restrict__ b, {ctype} s, long long n) {{
    const long long nv = n / {width};
    const {vtype}* __restrict__ cv = reinterpret_cast<const {vtype}*>(c);
    {vtype}* __restrict__ bv = reinterpret_cast<{vtype}*>(b);
    const long long stride = (long long)blockDim.x * gridDim.x;
    const long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    for (long long i = t; i < nv; i += stride) {{
        const {vtype} x = cv[i]; {vtype} r; {each("r.{f} = s * x.{f};")} bv[i] = r;
    }}
    for (long long i = nv * {width} + t; i < n; i += stride) b[i] = s * c[i];
}}
__global__ void add_{suffix}(const {ctype}* __restrict__ a, const {ctype}* __restrict__ b, {ctype}* __restrict__ c, long long n) {{
    const long long nv = n / {width};
    const {vtype}* __restrict__ av = reinterpret_cast<const {vtype}*>(a);
    const {vtype}* __restrict__ bv = reinterpret_cast<const {vtype}*>(b);
    {vtype}* __restrict__ cv = reinterpret_cast<{vtype}*>(c);
    const long long stride = (long long)blockDim.x * gridDim.x;
    const long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    for (long long i = t; i < nv; i += stride) {{
        const {vtype} x = av[i]; const {vtype} y = bv[i]; {vtype} r; {each("r.{f} = x.{f} + y.{f};")} cv[i] = r;
    }}
    for (long long i = nv * {width} + t; i < n; i += stride) c[i] = a[i] + b[i];
}}
__global__ void triad_{suffix}(const {ctype}* __restrict__ b, const {ctype}* __restrict__ c, {ctype}* __restrict__ a, {ctype} s, long long n) {{
    const long long nv = n / {width};
    const {vtype}* __restrict__ bv = reinterpret_cast<const {vtype}*>(b);
    const {vtype}* __restrict__ cv = reinterpret_cast<const {vtype}*>(c);
    {vtype}* __restrict__ av = reinterpret_cast<{vtype}*>(a);
    const long long stride = (long long)blockDim.x * gridDim.x;
    const long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    for (long long i = t; i < nv; i += stride) {{
        const {vtype} x = bv[i]; const {vtype} y = cv[i]; {vtype} r; {each("r.{f} = x.{f} + s * y.{f};")} av[i] = r;
    }}
    for (long long i = nv * {width} + t; i < n; i += stride) a[i] = b[i] + s * c[i];
}}
__global__ void dot_{suffix}(const {ctype}* __restrict__ a, const {ctype}* __restrict__ b, {ctype}* __restrict__ partial, long long n) {{
    __shared__ {ctype} sm[{THREADS}];
    const long long nv = n / {width};
    const {vtype}* __restrict__ av = reinterpret_cast<const {vtype}*>(a);
    const {vtype}* __restrict__ bv = reinterpret_cast<const {vtype}*>(b);
    const long long stride = (long long)blockDim.x * gridDim.x;
    const long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    {ctype} acc = 0;
    for (long long i = t; i < nv; i += stride) {{
        const {vtype} x = av[i]; const {vtype} y = bv[i]; {each("acc += x.{f} * y.{f};")}
    }}
    for (long long i = nv * {width} + t; i < n; i += stride) acc += a[i] * b[i];
    sm[threadIdx.x] = acc;
    __syncthreads();
    for (int off = blockDim.x / 2; off > 0; off >>= 1) {{
        if (threadIdx.x < off) sm[threadIdx.x] += sm[threadIdx.x + off];
        __syncthreads();
    }}
    if (threadIdx.x == 0) partial[blockIdx.x] = sm[0];
}}
__global__ void sum_{suffix}(const {ctype}* __restrict__ a, {ctype}* __restrict__ partial, long long n) {{
    __shared__ {ctype} sm[{THREADS}];
    const long long nv = n / {width};
    const {vtype}* __restrict__ av = reinterpret_cast<const {vtype}*>(a);
    const long long stride = (long long)blockDim.x * gridDim.x;
    const long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    {ctype} acc = 0;
    for (long long i = t; i < nv; i += stride) {{
        const {vtype} x = av[i]; {each("acc += x.{f};")}
    }}
    for (long long i = nv * {width} + t; i < n; i += stride) acc += a[i];
    sm[threadIdx.x] = acc;
    __syncthreads();
    for (int off = blockDim.x / 2; off > 0; off >>= 1) {{
        if (threadIdx.x < off) sm[threadIdx.x] += sm[threadIdx.x + off];
        __syncthreads();
    }}
    if (threadIdx.x == 0) partial[blockIdx.x] = sm[0];
}}
}}
"""


_EMPTY_SRC = r'extern "C" __global__ void empty_kernel() {}'

# mixbench-style roofline kernel: each thread loads one vector, runs K dependent FMAs per
# component (v = v * a + c; 4 or 2 independent chains per thread), stores the vector.
# Closed form for the check: v_K = a^K v_0 + c (1 - a^K) / (1 - a).
_MIX_SRC = r"""
template<int K>
__global__ void mix_fp32(const float* __restrict__ x, float* __restrict__ y, float a, float c, long long n) {
    const long long nv = n / 4;
    const float4* __restrict__ xv = reinterpret_cast<const float4*>(x);
    float4* __restrict__ yv = reinterpret_cast<float4*>(y);
    const long long stride = (long long)blockDim.x * gridDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < nv; i += stride) {
        float4 v = xv[i];
        #pragma unroll 32
        for (int k = 0; k < K; ++k) {
            v.x = fmaf(v.x, a, c); v.y = fmaf(v.y, a, c); v.z = fmaf(v.z, a, c); v.w = fmaf(v.w, a, c);
        }
        yv[i] = v;
    }
}
template<int K>
__global__ void mix_fp64(const double* __restrict__ x, double* __restrict__ y, double a, double c, long long n) {
    const long long nv = n / 2;
    const double2* __restrict__ xv = reinterpret_cast<const double2*>(x);
    double2* __restrict__ yv = reinterpret_cast<double2*>(y);
    const long long stride = (long long)blockDim.x * gridDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < nv; i += stride) {
        double2 v = xv[i];
        #pragma unroll 32
        for (int k = 0; k < K; ++k) { v.x = fma(v.x, a, c); v.y = fma(v.y, a, c); }
        yv[i] = v;
    }
}
"""

_MIX_FP16_SRC = r"""
#include <cuda_fp16.h>
template<int K>
__global__ void mix_fp16(const __half2* __restrict__ x, __half2* __restrict__ y, float af, float cf, long long n2) {
    const __half2 a = __float2half2_rn(af);
    const __half2 c = __float2half2_rn(cf);
    const long long nv = n2 / 4;
    const uint4* __restrict__ xv = reinterpret_cast<const uint4*>(x);
    uint4* __restrict__ yv = reinterpret_cast<uint4*>(y);
    const long long stride = (long long)blockDim.x * gridDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < nv; i += stride) {
        uint4 raw = xv[i];
        __half2* h = reinterpret_cast<__half2*>(&raw);
        __half2 v0 = h[0], v1 = h[1], v2 = h[2], v3 = h[3];
        #pragma unroll 32
        for (int k = 0; k < K; ++k) {
            v0 = __hfma2(v0, a, c); v1 = __hfma2(v1, a, c); v2 = __hfma2(v2, a, c); v3 = __hfma2(v3, a, c);
        }
        h[0] = v0; h[1] = v1; h[2] = v2; h[3] = v3;
        yv[i] = raw;
    }
}
"""


#: CuPy compute-type constants (cupy/_core/_routines_linalg.pxd), used when the module does
#: not export them
_CT_DEFAULT, _CT_TF32 = 1, 7
#: CUDA data types and cuBLAS compute type (library_types.h, cublas_api.h)
_CUDA_R_8I, _CUDA_R_32I, _CUBLAS_COMPUTE_32I = 3, 10, 72


class CupyBackend:
    """Kernels and device queries through CuPy (see module docstring)."""

    name = "cupy"
    device_kind = "cuda"
    gemm_dtypes: tuple[str, ...] = ("fp64", "fp32", "tf32", "bf16", "fp16", "int8")
    stream_dtypes: tuple[str, ...] = ("fp32", "fp64")
    roofline_dtypes: tuple[str, ...] = ("fp32", "fp64", "fp16")
    has_transfers = True
    unsupported: dict[str, str] = {}

    def __init__(self) -> None:
        import cupy

        self.cp = cupy
        self.dev = cupy.cuda.Device()
        attrs = self.dev.attributes
        self.sm_count = int(attrs.get("MultiProcessorCount", 0))
        self.l2_bytes = int(attrs.get("L2CacheSize", 0))
        self.max_threads_per_sm = int(attrs.get("MaxThreadsPerMultiProcessor", 2048))
        self._props = cupy.cuda.runtime.getDeviceProperties(self.dev.id)
        self._modules: dict = {}
        self.tf32_initial = self._read_tf32()

    # ------------------------------------------------------------------ device
    def event_clock(self):
        """CUDA events on CuPy's current stream (the timer's default L2 flush and spin)."""
        from ._timer import CudaEventClock

        return CudaEventClock("cupy")

    def device_name(self) -> str:
        name = self._props.get("name", b"")
        return name.decode() if isinstance(name, bytes) else str(name)

    def device_info(self) -> dict:
        free, total = self.cp.cuda.runtime.memGetInfo()
        p = self._props
        return {
            "name": self.device_name(),
            "compute_capability": f"{p.get('major')}.{p.get('minor')}",
            "sm_count": self.sm_count,
            "l2_bytes": self.l2_bytes,
            "memory_total_bytes": int(total),
            "memory_free_bytes": int(free),
            "max_threads_per_sm": self.max_threads_per_sm,
            "clock_rate_khz": p.get("clockRate"),
            "memory_clock_rate_khz": p.get("memoryClockRate"),
            "memory_bus_width_bits": p.get("memoryBusWidth"),
            "pci_bus_id": getattr(self.dev, "pci_bus_id", None),
            "cuda_runtime_version": self.cp.cuda.runtime.runtimeGetVersion(),
            "cuda_driver_version": self.cp.cuda.runtime.driverGetVersion(),
            "cupy_version": self.cp.__version__,
            "tf32": self.tf32_initial,
        }

    def mem_free_bytes(self) -> int:
        free, _ = self.cp.cuda.runtime.memGetInfo()
        pool = self.cp.get_default_memory_pool()
        return int(free) + int(pool.free_bytes())

    def sync(self) -> None:
        self.cp.cuda.get_current_stream().synchronize()

    def free_all(self) -> None:
        self.sync()
        self.cp.get_default_memory_pool().free_all_blocks()
        self.cp.get_default_pinned_memory_pool().free_all_blocks()

    # ------------------------------------------------------------------ arrays
    def random(self, shape, dtype: str, seed: int):
        """Standard-normal random device array of ``dtype`` (fresh per call)."""
        cp = self.cp
        rs = cp.random.RandomState(seed)
        if dtype == "int8":
            return rs.randint(-8, 8, size=shape).astype(cp.int8)
        base = rs.standard_normal(size=shape, dtype=cp.float64 if dtype == "fp64" else cp.float32)
        if dtype in ("fp64", "fp32", "tf32"):
            return base
        return self.astype(base, dtype)

    def astype(self, a, dtype: str):
        cp = self.cp
        if dtype == "fp16":
            return a.astype(cp.float16)
        if dtype == "bf16":
            import ml_dtypes

            try:
                return a.astype(ml_dtypes.bfloat16)
            except (TypeError, ValueError):  # older CuPy without bfloat16: convert on the host
                return cp.asarray(cp.asnumpy(a).astype(ml_dtypes.bfloat16))
        return a.astype({"fp64": cp.float64, "fp32": cp.float32, "tf32": cp.float32,
                         "int8": cp.int8}[dtype])

    def np_dtype(self, dtype: str):
        if dtype == "bf16":
            import ml_dtypes

            return np.dtype(ml_dtypes.bfloat16)
        return np.dtype({"fp64": np.float64, "fp32": np.float32, "tf32": np.float32,
                         "fp16": np.float16, "int8": np.int8, "int32": np.int32}[dtype])

    def empty(self, shape, dtype: str):
        return self.cp.empty(shape, dtype=self.np_dtype(dtype))

    def poison(self, a) -> None:
        """Fill with NaN (integers: their minimum) so unwritten elements show."""
        if a.dtype.kind in "iu":
            a.fill(np.iinfo(a.dtype).min)
        elif a.dtype.itemsize == 2 and a.dtype != np.float16:  # bfloat16: write the NaN bits
            a.view(np.uint16).fill(0x7FC0)
        else:
            a.fill(float("nan"))

    def to_host(self, a) -> np.ndarray:
        return self.cp.asnumpy(a)

    # ------------------------------------------------------------------ modules
    def _module(self, key: str):
        mod = self._modules.get(key)
        if mod is None:
            cp = self.cp
            if key in _VEC:
                ctype, vtype, width, comps = _VEC[key]
                mod = cp.RawModule(code=_stream_source(ctype, vtype, width, comps, key))
            elif key == "empty":
                mod = cp.RawModule(code=_EMPTY_SRC)
            elif key in ("mix_fp32", "mix_fp64"):
                names = [f"{key}<{k}>" for k in MIX_KS]
                mod = cp.RawModule(code=_MIX_SRC, options=("-std=c++17",), name_expressions=names)
            elif key == "mix_fp16":
                names = [f"mix_fp16<{k}>" for k in MIX_KS]
                mod = cp.RawModule(code=_MIX_FP16_SRC, options=("-std=c++17",),
                                   name_expressions=names)
            else:  # pragma: no cover
                raise KeyError(key)
            self._modules[key] = mod
        return mod

    def grid_for(self, n_items: int, waves: int | None) -> int:
        """Blocks for ``n_items`` vector items: ``waves`` full waves of resident blocks, or one
        item per thread when ``waves`` is None."""
        full = max(1, -(-n_items // THREADS))
        if waves is None:
            return min(full, 2**31 - 1)
        per_wave = self.sm_count * max(1, self.max_threads_per_sm // THREADS)
        return max(1, min(full, waves * per_wave))

    # ------------------------------------------------------------------ STREAM
    def stream_fn(self, op: str, dtype: str, arrays: dict, scalar: float, waves: int | None = 4):
        """Return ``(fn, args, out_key, grid)`` for one BabelStream operation."""
        cp = self.cp
        mod = self._module(dtype)
        a, b, c = arrays["a"], arrays["b"], arrays["c"]
        n = a.size
        width = _VEC[dtype][2]
        grid = self.grid_for(n // width or 1, waves)
        s = np.float32(scalar) if dtype == "fp32" else np.float64(scalar)
        nn = np.int64(n)
        block = (THREADS,)
        if op == "copy":
            k = mod.get_function(f"copy_{dtype}")
            return (lambda: k((grid,), block, (a, c, nn))), "c", grid
        if op == "scale":
            k = mod.get_function(f"scale_{dtype}")
            return (lambda: k((grid,), block, (c, b, s, nn))), "b", grid
        if op == "add":
            k = mod.get_function(f"add_{dtype}")
            return (lambda: k((grid,), block, (a, b, c, nn))), "c", grid
        if op == "triad":
            k = mod.get_function(f"triad_{dtype}")
            return (lambda: k((grid,), block, (b, c, a, s, nn))), "a", grid
        if op in ("dot", "sum"):
            k = mod.get_function(f"{op}_{dtype}")
            partial = cp.empty(grid, dtype=a.dtype)
            out = arrays.setdefault("out", cp.empty((), dtype=a.dtype))
            if op == "dot":
                def fn():
                    k((grid,), block, (a, b, partial, nn))
                    partial.sum(out=out)
            else:
                def fn():
                    k((grid,), block, (a, partial, nn))
                    partial.sum(out=out)
            return fn, "out", grid
        raise ValueError(op)

    # ------------------------------------------------------------------ GEMM
    def _read_tf32(self) -> dict:
        """CuPy's float32 compute type in force (reading it makes CuPy read CUPY_TF32 once)."""
        import os

        info = {"CUPY_TF32": os.environ.get("CUPY_TF32"),
                "NVIDIA_TF32_OVERRIDE": os.environ.get("NVIDIA_TF32_OVERRIDE")}
        try:
            from cupy._core import _routines_linalg as lin

            ct = lin.get_compute_type(np.float32)
            info["float32_compute_type"] = str(lin.compute_type_to_str(ct))
            info["fp32_matmul_uses_tf32"] = ct == getattr(lin, "COMPUTE_TYPE_TF32", _CT_TF32)
        except (ImportError, AttributeError) as exc:  # CuPy internals of another version
            info["error"] = f"{type(exc).__name__}: {exc}"
        return info

    @contextlib.contextmanager
    def _f32_compute(self, tf32: bool):
        from cupy._core import _routines_linalg as lin

        old = lin.get_compute_type(np.float32)
        new = (getattr(lin, "COMPUTE_TYPE_TF32", _CT_TF32) if tf32
               else getattr(lin, "COMPUTE_TYPE_DEFAULT", _CT_DEFAULT))
        lin.set_compute_type(np.float32, new)
        try:
            yield
        finally:
            lin.set_compute_type(np.float32, old)

    def gemm_operands(self, dtype: str, m: int, n: int, k: int, seed: int):
        """Fresh random operands ``(A[m,k], B[k,n] (or B^T for int8), C[m,n])``."""
        a = self.random((m, k), dtype, seed)
        if dtype == "int8":
            bt = self.random((n, k), dtype, seed + 1)  # weights stored (n, k): "TN" layout
            c = self.cp.empty((m, n), dtype=np.int32)
            return a, bt, c
        b = self.random((k, n), dtype, seed + 1)
        c = self.empty((m, n), dtype)
        return a, b, c

    def gemm_fn(self, dtype: str, a, b, c):
        """Return a no-argument callable computing ``c = a @ b`` (int8: ``a @ b.T`` in int32)."""
        cp = self.cp
        if dtype == "int8":
            return self._int8_gemm(a, b, c)
        if dtype in ("fp32", "tf32"):
            tf32 = dtype == "tf32"

            def fn():
                with self._f32_compute(tf32):
                    cp.matmul(a, b, out=c)
            return fn
        return lambda: cp.matmul(a, b, out=c)

    @functools.cached_property
    def _cublas(self):
        from cupy_backends.cuda.libs import cublas

        return cublas

    def _int8_gemm(self, a, bt, c):
        """int8 x int8 -> int32 through cublasGemmEx (column-major C^T = Bt^T-op ...)."""
        cublas = self._cublas
        m, k = a.shape
        n = bt.shape[0]
        if k % 4 or n % 4:
            raise ValueError(f"int8 GEMM needs k and n multiples of 4 (got k={k}, n={n})")
        try:
            handle = self.dev.cublas_handle
        except AttributeError:  # pragma: no cover - other CuPy versions
            handle = self.cp.cuda.device.get_cublas_handle()
        one = np.array(1, dtype=np.int32)
        zero = np.array(0, dtype=np.int32)
        r8i = getattr(self.cp.cuda.runtime, "CUDA_R_8I", _CUDA_R_8I)
        r32i = getattr(self.cp.cuda.runtime, "CUDA_R_32I", _CUDA_R_32I)
        c32i = getattr(cublas, "CUBLAS_COMPUTE_32I", _CUBLAS_COMPUTE_32I)
        algo = getattr(cublas, "CUBLAS_GEMM_DEFAULT_TENSOR_OP", getattr(cublas, "CUBLAS_GEMM_DEFAULT", -1))
        op_t, op_n = cublas.CUBLAS_OP_T, cublas.CUBLAS_OP_N

        # Column-major view: C_cm (n x m, ldc=n) = op_T(Bt_cm: k x n, ld=k) @ A_cm (k x m, ld=k),
        # which is C (m x n, row-major) = A (m x k) @ Bt^T.
        def fn():
            cublas.gemmEx(handle, op_t, op_n, n, m, k, one.ctypes.data, bt.data.ptr, r8i, k,
                          a.data.ptr, r8i, k, zero.ctypes.data, c.data.ptr, r32i, n, c32i, algo)
        return fn

    # ------------------------------------------------------------------ misc kernels
    def empty_kernel_fn(self):
        k = self._module("empty").get_function("empty_kernel")
        return lambda: k((1,), (1,), ())

    def mix_fn(self, dtype: str, k_fmas: int, x, y, a: float, c: float, waves: int | None = None):
        """Roofline kernel with ``k_fmas`` FMAs per element; returns ``(fn, grid)``."""
        if k_fmas not in MIX_KS:
            raise ValueError(f"k_fmas must be one of {MIX_KS}, got {k_fmas}")
        key = f"mix_{dtype}"
        kern = self._module(key).get_function(f"{key}<{k_fmas}>")
        n = x.size
        nn = np.int64(n)
        if dtype == "fp32":
            grid = self.grid_for(n // 4, waves)
            args = (x, y, np.float32(a), np.float32(c), nn)
        elif dtype == "fp64":
            grid = self.grid_for(n // 2, waves)
            args = (x, y, np.float64(a), np.float64(c), nn)
        elif dtype == "fp16":
            n2 = np.int64(n // 2)  # half2 count
            grid = self.grid_for(int(n2) // 4, waves)
            args = (x, y, np.float32(a), np.float32(c), n2)
        else:
            raise ValueError(dtype)
        return (lambda: kern((grid,), (THREADS,), args)), grid

    def transfer_fns(self, nbytes: int):
        """H2D/D2H copies of ``nbytes`` with pinned and pageable host buffers.

        Returns ``{(direction, host_mem): fn}``; the callables hold the buffers (the pinned
        allocation through the array viewing it), so dropping them frees the memory.
        """
        cp = self.cp
        rt = cp.cuda.runtime
        dbuf = cp.empty(nbytes, dtype=np.uint8)
        dbuf.fill(1)
        pinned_mem = cp.cuda.alloc_pinned_memory(nbytes)
        pinned = np.frombuffer(pinned_mem, dtype=np.uint8, count=nbytes)
        pinned[:] = 1
        pageable = np.ones(nbytes, dtype=np.uint8)
        h2d, d2h = rt.memcpyHostToDevice, rt.memcpyDeviceToHost

        def stream_ptr():
            return cp.cuda.get_current_stream().ptr

        return {
            ("h2d", "pinned"): lambda: rt.memcpyAsync(dbuf.data.ptr, pinned.ctypes.data, nbytes,
                                                      h2d, stream_ptr()),
            ("d2h", "pinned"): lambda: rt.memcpyAsync(pinned.ctypes.data, dbuf.data.ptr, nbytes,
                                                      d2h, stream_ptr()),
            ("h2d", "pageable"): lambda: rt.memcpy(dbuf.data.ptr, pageable.ctypes.data, nbytes, h2d),
            ("d2h", "pageable"): lambda: rt.memcpy(pageable.ctypes.data, dbuf.data.ptr, nbytes, d2h),
        }

    def transfer_check(self) -> float:
        """Round-trip a random buffer host -> device -> host; return the max abs difference."""
        cp = self.cp
        host = np.random.default_rng().standard_normal(1 << 20).astype(np.float32)
        d = cp.empty_like(cp.asarray(host))
        d.fill(float("nan"))
        d.set(host)
        back = np.full_like(host, np.nan)
        d.get(out=back)
        return float(np.max(np.abs(back - host)))
