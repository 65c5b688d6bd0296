"""Numba CUDA backend: BabelStream kernels written as well as Numba allows.

They are meant to be copied by users, so they stay idiomatic: one ``@cuda.jit`` function
per operation, a grid-stride loop (``cuda.grid(1)`` / ``cuda.gridsize(1)``) so any grid size
covers any array, four independent elements per trip of that loop (loads in flight), the scalar passed with the array's dtype (no float64 promotion inside a
float32 kernel), ``__restrict__``-free plain indexing (Numba emits no bounds checks on the
device), and a shared-memory tree reduction per block for ``dot``/``sum`` with one partial
per block summed by a second tiny kernel. Numba has no 16-byte vector loads, so these move
4 (fp32) or 8 (fp64) bytes per access; the launch configuration (how many waves of resident
blocks) is tuned at run time and recorded.

Under the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, set before Numba is imported) the same
kernels run on the CPU for correctness checks (tests); their timings mean nothing.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["NumbaCudaBackend", "kernels", "l2_flusher"]

#: threads per block (power of two: the block reduction halves it)
THREADS = 256
#: numba.cuda, bound by :func:`kernels` on first use (kept out of import time)
cuda = None


@functools.cache
def kernels(dtype: str = "fp32", threads: int = THREADS) -> dict:
    """Compile-on-first-call Numba CUDA kernels for ``dtype`` ("fp32" or "fp64").

    The kernels name ``cuda`` as a module global (not a closure variable): the CUDA
    simulator swaps that global for its fake module while a kernel runs.
    """
    global cuda
    from numba import cuda as _cuda
    from numba import float32, float64

    cuda = _cuda

    nbt = {"fp32": float32, "fp64": float64}[dtype]

    # The STREAM kernels handle four elements, a stride apart, per trip of the grid-stride loop:
    # Numba has no 16-byte vector loads, so with 4-byte elements a thread must keep several
    # independent loads in flight to cover memory latency (instruction-level parallelism);
    # accesses stay coalesced (neighbouring threads touch neighbouring elements).
    @cuda.jit
    def copy(a, c):
        i = cuda.grid(1)
        stride = cuda.gridsize(1)
        n = a.shape[0]
        while i + 3 * stride < n:
            x0 = a[i]
            x1 = a[i + stride]
            x2 = a[i + 2 * stride]
            x3 = a[i + 3 * stride]
            c[i] = x0
            c[i + stride] = x1
            c[i + 2 * stride] = x2
            c[i + 3 * stride] = x3
            i += 4 * stride
        while i < n:
            c[i] = a[i]
            i += stride

    @cuda.jit
    def scale(c, b, s):
        i = cuda.grid(1)
        stride = cuda.gridsize(1)
        n = c.shape[0]
        while i + 3 * stride < n:
            x0 = c[i]
            x1 = c[i + stride]
            x2 = c[i + 2 * stride]
            x3 = c[i + 3 * stride]
            b[i] = s * x0
            b[i + stride] = s * x1
            b[i + 2 * stride] = s * x2
            b[i + 3 * stride] = s * x3
            i += 4 * stride
        while i < n:
            b[i] = s * c[i]
            i += stride

    @cuda.jit
    def add(a, b, c):
        i = cuda.grid(1)
        stride = cuda.gridsize(1)
        n = a.shape[0]
        while i + 3 * stride < n:
            x0 = a[i]
            x1 = a[i + stride]
            x2 = a[i + 2 * stride]
            x3 = a[i + 3 * stride]
            y0 = b[i]
            y1 = b[i + stride]
            y2 = b[i + 2 * stride]
            y3 = b[i + 3 * stride]
            c[i] = x0 + y0
            c[i + stride] = x1 + y1
            c[i + 2 * stride] = x2 + y2
            c[i + 3 * stride] = x3 + y3
            i += 4 * stride
        while i < n:
            c[i] = a[i] + b[i]
            i += stride

    @cuda.jit
    def triad(b, c, a, s):
        i = cuda.grid(1)
        stride = cuda.gridsize(1)
        n = a.shape[0]
        while i + 3 * stride < n:
            x0 = b[i]
            x1 = b[i + stride]
            x2 = b[i + 2 * stride]
            x3 = b[i + 3 * stride]
            y0 = c[i]
            y1 = c[i + stride]
            y2 = c[i + 2 * stride]
            y3 = c[i + 3 * stride]
            a[i] = x0 + s * y0
            a[i + stride] = x1 + s * y1
            a[i + 2 * stride] = x2 + s * y2
            a[i + 3 * stride] = x3 + s * y3
            i += 4 * stride
        while i < n:
            a[i] = b[i] + s * c[i]
            i += stride

    @cuda.jit
    def dot_partial(a, b, partial):
        sm = cuda.shared.array(threads, nbt)
        tid = cuda.threadIdx.x
        i = cuda.grid(1)
        stride = cuda.gridsize(1)
        n = a.shape[0]
        acc = nbt(0)
        while i < n:
            acc += a[i] * b[i]
            i += stride
        sm[tid] = acc
        cuda.syncthreads()
        off = threads // 2
        while off > 0:
            if tid < off:
                sm[tid] += sm[tid + off]
            cuda.syncthreads()
            off //= 2
        if tid == 0:
            partial[cuda.blockIdx.x] = sm[0]

    @cuda.jit
    def sum_partial(a, partial):
        sm = cuda.shared.array(threads, nbt)
        tid = cuda.threadIdx.x
        i = cuda.grid(1)
        stride = cuda.gridsize(1)
        n = a.shape[0]
        acc = nbt(0)
        while i < n:
            acc += a[i]
            i += stride
        sm[tid] = acc
        cuda.syncthreads()
        off = threads // 2
        while off > 0:
            if tid < off:
                sm[tid] += sm[tid + off]
            cuda.syncthreads()
            off //= 2
        if tid == 0:
            partial[cuda.blockIdx.x] = sm[0]

    @cuda.jit
    def finish(partial, out):
        # one block sums the per-block partials (sum_partial's second stage)
        sm = cuda.shared.array(threads, nbt)
        tid = cuda.threadIdx.x
        acc = nbt(0)
        i = tid
        while i < partial.shape[0]:
            acc += partial[i]
            i += threads
        sm[tid] = acc
        cuda.syncthreads()
        off = threads // 2
        while off > 0:
            if tid < off:
                sm[tid] += sm[tid + off]
            cuda.syncthreads()
            off //= 2
        if tid == 0:
            out[0] = sm[0]

    @cuda.jit
    def empty_kernel():
        pass

    @cuda.jit
    def spin(us):
        # keeps the GPU busy about ``us`` microseconds (the timer queues it before a batch)
        for _ in range(us):
            cuda.nanosleep(1000)

    @cuda.jit
    def fill(a):
        # writes an int32 buffer: the L2 flush between timed samples
        i = cuda.grid(1)
        stride = cuda.gridsize(1)
        while i < a.shape[0]:
            a[i] = 0
            i += stride

    return {"copy": copy, "scale": scale, "add": add, "triad": triad,
            "dot_partial": dot_partial, "sum_partial": sum_partial, "finish": finish,
            "empty": empty_kernel, "fill": fill, "spin": spin}


class NumbaCudaBackend:
    """STREAM kernels, reductions and launch latency through Numba CUDA."""

    name = "numba-cuda"
    device_kind = "cuda"
    gemm_dtypes: tuple[str, ...] = ()
    stream_dtypes: tuple[str, ...] = ("fp32", "fp64")
    roofline_dtypes: tuple[str, ...] = ()
    has_transfers = False
    #: why GEMM / roofline are missing here (error messages and `available_kernels`)
    unsupported = {
        "gemm": "numba-cuda has no cuBLAS binding; use backend 'cupy' for GEMM",
        "roofline": "the roofline sweep is implemented for 'cupy' (GPU) and 'numba' (CPU)",
        "transfer": "host-device transfers are measured with backend 'cupy'",
    }

    def __init__(self, threads: int = THREADS) -> None:
        from numba import cuda

        if threads < 1 or threads & (threads - 1):
            raise ValueError(f"threads per block must be a power of two, got {threads}")
        self.threads = int(threads)
        self.cuda = cuda
        try:
            self.dev = cuda.get_current_device()
        except AttributeError:  # the CUDA simulator has no device object
            self.dev = None
        self.sm_count = self._attr("MULTIPROCESSOR_COUNT", 1)
        self.max_threads_per_sm = self._attr("MAX_THREADS_PER_MULTI_PROCESSOR", 2048)
        self._keep: list = []

    def _attr(self, name: str, default: int) -> int:
        from numba.cuda.cudadrv.driver import CudaAPIError

        try:
            return int(getattr(self.dev, name)) or default
        except (AttributeError, CudaAPIError):  # the simulator (no device) or an unknown attribute
            return default

    def device_name(self) -> str:
        if self.dev is None:
            return "Numba CUDA simulator"
        name = self.dev.name
        return name.decode() if isinstance(name, bytes) else str(name)

    def device_info(self) -> dict:
        free, total = self.cuda.current_context().get_memory_info()
        info = {
            "name": self.device_name(),
            "compute_capability": ".".join(str(x) for x in self.dev.compute_capability),
            "sm_count": self.sm_count,
            "memory_total_bytes": int(total),
            "memory_free_bytes": int(free),
            "max_threads_per_sm": self.max_threads_per_sm,
        }
        l2 = self._attr("L2_CACHE_SIZE", 0)
        if l2:
            info["l2_bytes"] = l2
        import numba

        info["numba_version"] = numba.__version__
        return info

    def mem_free_bytes(self) -> int:
        free, _ = self.cuda.current_context().get_memory_info()
        return int(free)

    def sync(self) -> None:
        self.cuda.synchronize()

    def free_all(self) -> None:
        self._keep.clear()
        self.cuda.synchronize()
        ctx = self.cuda.current_context()
        if hasattr(ctx, "deallocations"):  # Numba's pending frees (absent in the simulator)
            ctx.deallocations.clear()

    def np_dtype(self, dtype: str):
        return np.dtype({"fp32": np.float32, "fp64": np.float64}[dtype])

    def random(self, shape, dtype: str, seed: int):
        """Random normal device array; drawn on the device through CuPy when it is importable."""
        try:
            import cupy
        except ImportError:  # CuPy is optional here: draw on the host and copy
            cupy = None
        if cupy is not None and self.dev is not None:
            rs = cupy.random.RandomState(seed)
            arr = rs.standard_normal(size=shape, dtype=self.np_dtype(dtype))
            cupy.cuda.get_current_stream().synchronize()
            self._keep.append(arr)
            return self.cuda.as_cuda_array(arr)
        host = np.random.default_rng(seed).standard_normal(shape).astype(self.np_dtype(dtype))
        return self.cuda.to_device(host)

    def empty(self, shape, dtype: str):
        return self.cuda.device_array(shape, dtype=self.np_dtype(dtype))

    def poison(self, a) -> None:
        a.copy_to_device(np.full(a.shape, np.nan, dtype=a.dtype))

    def to_host(self, a) -> np.ndarray:
        return a.copy_to_host()

    def grid_for(self, n_items: int, waves: int | None) -> int:
        full = max(1, -(-n_items // self.threads))
        if waves is None:
            return min(full, 2**31 - 1)
        per_wave = self.sm_count * max(1, self.max_threads_per_sm // self.threads)
        return max(1, min(full, waves * per_wave))

    def stream_fn(self, op: str, dtype: str, arrays: dict, scalar: float, waves: int | None = 4):
        """Return ``(fn, args, out_key, grid)``-like tuple ``(fn, out_key, grid)``."""
        t = self.threads
        k = kernels(dtype, t)
        a, b, c = arrays["a"], arrays["b"], arrays["c"]
        n = a.shape[0]
        grid = self.grid_for(n, waves)
        s = self.np_dtype(dtype).type(scalar)
        if op == "copy":
            kk = k["copy"][grid, t]
            return (lambda: kk(a, c)), "c", grid
        if op == "scale":
            kk = k["scale"][grid, t]
            return (lambda: kk(c, b, s)), "b", grid
        if op == "add":
            kk = k["add"][grid, t]
            return (lambda: kk(a, b, c)), "c", grid
        if op == "triad":
            kk = k["triad"][grid, t]
            return (lambda: kk(b, c, a, s)), "a", grid
        if op in ("dot", "sum"):
            partial = self.cuda.device_array(grid, dtype=self.np_dtype(dtype))
            out = arrays.get("out")
            if out is None:
                out = arrays["out"] = self.cuda.device_array(1, dtype=self.np_dtype(dtype))
            fin = k["finish"][1, t]
            if op == "dot":
                kk = k["dot_partial"][grid, t]

                def fn():
                    kk(a, b, partial)
                    fin(partial, out)
            else:
                kk = k["sum_partial"][grid, t]

                def fn():
                    kk(a, partial)
                    fin(partial, out)
            return fn, "out", grid
        raise ValueError(op)

    def empty_kernel_fn(self):
        kk = kernels("fp32", self.threads)["empty"][1, 1]
        return lambda: kk()

    # ------------------------------------------------------------------ timing
    def event_clock(self):
        """CUDA events on Numba's stream, with this backend's spin and L2-flush kernels."""
        from ._timer import CudaEventClock

        spin = kernels("fp32")["spin"]
        return CudaEventClock("numba", spin=lambda s: spin[1, 1](int(s * 1e6)),
                              l2_flusher=l2_flusher)

    # ------------------------------------------------------------------ not offered
    def _refuse(self, what: str):
        raise ValueError(f"{what} is not available on backend {self.name!r}: "
                         f"{self.unsupported[what]}")

    def gemm_operands(self, dtype: str, m: int, n: int, k: int, seed: int):
        self._refuse("gemm")

    def gemm_fn(self, dtype: str, a, b, c):
        self._refuse("gemm")

    def mix_fn(self, dtype: str, k_fmas: int, x, y, a: float, c: float, waves=None):
        self._refuse("roofline")

    def transfer_fns(self, nbytes: int):
        self._refuse("transfer")

    def transfer_check(self) -> float:
        self._refuse("transfer")


_L2_FLUSHER: list = []


def l2_flusher():
    """``(flush, nbytes)``: an L2 flush for numba-cuda timing (no CuPy), a device buffer twice
    the L2 size written by the ``fill`` kernel. Built once per process (the kernel compiles on
    first use)."""
    if _L2_FLUSHER:
        return _L2_FLUSHER[0]
    from numba import cuda
    from numba.cuda.cudadrv.driver import CudaAPIError

    try:
        l2 = int(cuda.get_current_device().L2_CACHE_SIZE)
    except (AttributeError, CudaAPIError):  # a driver that does not report the L2 size
        l2 = 0
    nbytes = 2 * (l2 or 64 * 2**20)
    buf = cuda.device_array(nbytes // 4, dtype=np.int32)
    fill = kernels("fp32")["fill"][1024, 256]

    def flush() -> None:
        fill(buf)

    _L2_FLUSHER.append((flush, nbytes))
    return flush, nbytes
