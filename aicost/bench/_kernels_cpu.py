"""CPU backends: NumPy (vectorized, BLAS) and Numba (``@njit(parallel=True)``).

NumPy evaluates one operation per pass over memory, so its triad (``a = b + s*c``) takes two
passes (``np.multiply`` into ``a``, then ``np.add``): it moves 5 arrays where BabelStream
counts 3, and its reported rate is lower than the machine's. The Numba kernels make one
pass with ``prange`` over all cores, as BabelStream's OpenMP version does. GEMM on both CPU
backends is NumPy's BLAS (``np.matmul``); fp16/bf16 have no BLAS path on the CPU.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["NumbaCpuBackend", "NumpyBackend", "numba_kernels"]


def _cpu_model() -> str:
    from ._context import _cpu_model

    return _cpu_model()


def _mem_available_bytes() -> int:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 * 2**30


class NumpyBackend:
    """STREAM, reductions and GEMM through NumPy on the host."""

    name = "numpy"
    device_kind = "cpu"
    gemm_dtypes: tuple[str, ...] = ("fp64", "fp32")
    stream_dtypes: tuple[str, ...] = ("fp32", "fp64")
    roofline_dtypes: tuple[str, ...] = ()
    has_transfers = False
    unsupported = {
        "gemm:bf16": "NumPy has no bf16/fp16 BLAS on the CPU (it would loop in Python-speed C); "
                     "use a GPU backend",
        "gemm:tf32": "tf32 is a GPU tensor-core mode",
        "gemm:int8": "NumPy's integer matmul does not use BLAS; int8 GEMM needs a GPU backend",
        "gemm:fp8": "fp8 GEMM needs a GPU with fp8 tensor cores (not exposed by CuPy)",
        "roofline": "NumPy evaluates one operation per pass over memory, so it cannot vary "
                    "operational intensity; use backend 'numba'",
        "transfer": "host-device transfers need a GPU backend ('cupy')",
        "launch_latency": "there are no kernel launches on the CPU with NumPy",
    }

    def device_name(self) -> str:
        return _cpu_model()

    def event_clock(self) -> None:
        """None: the timer's host clock times CPU kernels."""
        return None

    def _refuse(self, what: str):
        raise ValueError(f"{what} is not available on backend {self.name!r}: "
                         f"{self.unsupported[what]}")

    def mix_fn(self, dtype: str, k_fmas: int, x, y, a: float, c: float, waves=None):
        self._refuse("roofline")

    def empty_kernel_fn(self):
        self._refuse("launch_latency")

    def transfer_fns(self, nbytes: int):
        self._refuse("transfer")

    def transfer_check(self) -> float:
        self._refuse("transfer")

    def device_info(self) -> dict:
        import os

        info = {"name": self.device_name(), "cpu_count": os.cpu_count(),
                "memory_available_bytes": _mem_available_bytes()}
        try:
            cfg = np.show_config(mode="dicts")
        except TypeError:  # NumPy before 1.25 has no mode="dicts": the BLAS goes unrecorded
            return info
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        info["blas"] = f"{blas.get('name')} {blas.get('version')}"
        return info

    def mem_free_bytes(self) -> int:
        return _mem_available_bytes()

    def sync(self) -> None:
        return None

    def free_all(self) -> None:
        return None

    def np_dtype(self, dtype: str):
        return np.dtype({"fp64": np.float64, "fp32": np.float32}[dtype])

    def random(self, shape, dtype: str, seed: int):
        rng = np.random.default_rng(seed)
        return rng.standard_normal(shape, dtype=self.np_dtype(dtype))

    def empty(self, shape, dtype: str):
        return np.empty(shape, dtype=self.np_dtype(dtype))

    def poison(self, a) -> None:
        a.fill(np.nan)

    def to_host(self, a) -> np.ndarray:
        return np.asarray(a)

    def stream_fn(self, op: str, dtype: str, arrays: dict, scalar: float, waves=None):
        a, b, c = arrays["a"], arrays["b"], arrays["c"]
        s = self.np_dtype(dtype).type(scalar)
        if op == "copy":
            return (lambda: np.copyto(c, a)), "c", None
        if op == "scale":
            return (lambda: np.multiply(c, s, out=b)), "b", None
        if op == "add":
            return (lambda: np.add(a, b, out=c)), "c", None
        if op == "triad":
            def triad():
                np.multiply(c, s, out=a)
                np.add(a, b, out=a)
            return triad, "a", None
        if op == "dot":
            out = arrays.setdefault("out", np.empty((), dtype=a.dtype))

            def dot():
                out[()] = np.dot(a, b)
            return dot, "out", None
        if op == "sum":
            out = arrays.setdefault("out", np.empty((), dtype=a.dtype))

            def total():
                out[()] = a.sum()
            return total, "out", None
        raise ValueError(op)

    def gemm_operands(self, dtype: str, m: int, n: int, k: int, seed: int):
        return (self.random((m, k), dtype, seed), self.random((k, n), dtype, seed + 1),
                self.empty((m, n), dtype))

    def gemm_fn(self, dtype: str, a, b, c):
        return lambda: np.matmul(a, b, out=c)


@functools.cache
def numba_kernels() -> dict:
    """Compile-on-first-call parallel Numba CPU kernels (cached on disk where possible)."""
    from numba import njit, prange

    opts = {"parallel": True, "cache": True, "nogil": True}

    @njit(**opts)
    def copy(a, c):
        for i in prange(a.shape[0]):
            c[i] = a[i]

    @njit(**opts)
    def scale(c, b, s):
        for i in prange(c.shape[0]):
            b[i] = s * c[i]

    @njit(**opts)
    def add(a, b, c):
        for i in prange(a.shape[0]):
            c[i] = a[i] + b[i]

    @njit(**opts)
    def triad(b, c, a, s):
        for i in prange(a.shape[0]):
            a[i] = b[i] + s * c[i]

    # reductions may reassociate (as OpenMP reductions do) so LLVM can vectorize them
    ropts = {**opts, "fastmath": {"reassoc", "contract"}}

    @njit(**ropts)
    def dot(a, b):
        acc = 0.0
        for i in prange(a.shape[0]):
            acc += a[i] * b[i]
        return acc

    @njit(**ropts)
    def total(a):
        acc = 0.0
        for i in prange(a.shape[0]):
            acc += a[i]
        return acc

    # roofline kernel: per cache-resident chunk of 512 elements, copy x into y, then run
    # k dependent FMAs per element (y = y*a + c), four per load/store so the FMA units,
    # not the L1 store port, bound the loop. The chunk is taken as a slice so the inner
    # loops index from 0 (no negative-index wraparound), which lets LLVM vectorize across j
    # (3x faster than indexing y[s0 + j]). Only FMA contraction is allowed: reassociation
    # would let the compiler fold the chain and do fewer operations than counted.
    @njit(parallel=True, cache=True, nogil=True, fastmath={"contract"})
    def mix(x, y, k, a, c):
        n = x.shape[0]
        chunk = 512
        nchunks = (n + chunk - 1) // chunk
        for blk in prange(nchunks):
            s0 = blk * chunk
            e0 = min(s0 + chunk, n)
            xx = x[s0:e0]
            yy = y[s0:e0]
            m = e0 - s0
            for j in range(m):
                yy[j] = xx[j]
            for _ in range(k // 4):
                for j in range(m):
                    v = yy[j]
                    v = v * a + c
                    v = v * a + c
                    v = v * a + c
                    yy[j] = v * a + c
            for _ in range(k % 4):
                for j in range(m):
                    yy[j] = yy[j] * a + c

    return {"copy": copy, "scale": scale, "add": add, "triad": triad, "dot": dot,
            "sum": total, "mix": mix}


class NumbaCpuBackend(NumpyBackend):
    """One-pass parallel STREAM kernels and the roofline sweep through Numba on the CPU."""

    name = "numba"
    roofline_dtypes = ("fp32", "fp64")
    unsupported = {
        **NumpyBackend.unsupported,
        "roofline": "",
    }
    unsupported.pop("roofline")

    def device_info(self) -> dict:
        import numba  # this backend exists only where numba imports

        info = super().device_info()
        info["numba_version"] = numba.__version__
        info["numba_threads"] = numba.get_num_threads()
        info["gemm"] = "NumPy BLAS (np.matmul); Numba has no faster CPU GEMM of its own"
        return info

    def stream_fn(self, op: str, dtype: str, arrays: dict, scalar: float, waves=None):
        k = numba_kernels()
        a, b, c = arrays["a"], arrays["b"], arrays["c"]
        s = self.np_dtype(dtype).type(scalar)
        if op == "copy":
            return (lambda: k["copy"](a, c)), "c", None
        if op == "scale":
            return (lambda: k["scale"](c, b, s)), "b", None
        if op == "add":
            return (lambda: k["add"](a, b, c)), "c", None
        if op == "triad":
            return (lambda: k["triad"](b, c, a, s)), "a", None
        if op in ("dot", "sum"):
            out = arrays.setdefault("out", np.empty((), dtype=a.dtype))
            if op == "dot":
                def dot():
                    out[()] = k["dot"](a, b)
                return dot, "out", None

            def total():
                out[()] = k["sum"](a)
            return total, "out", None
        raise ValueError(op)

    def mix_fn(self, dtype: str, k_fmas: int, x, y, a: float, c: float, waves=None):
        kern = numba_kernels()["mix"]
        t = self.np_dtype(dtype).type
        kk = int(k_fmas)
        return (lambda: kern(x, y, kk, t(a), t(c))), None
