"""The benchmark timer: warm-up, L2 flush, adaptive stopping, every raw sample kept.

The method follows nvbench, ``triton.testing.do_bench`` and ``cupyx.profiler.benchmark``
(see ``docs/benchmarks.md``):

* the timed region is one call of ``fn``; on a GPU it is bracketed by CUDA events recorded on
  the current stream, on the CPU by :func:`time.perf_counter`; GPU samples are queued in
  batches behind a short busy kernel and synchronized once per batch (as do_bench does), so
  the host's launch cost never shows up as idle GPU time inside a sample; the stopping rule
  is still applied sample by sample (samples queued after the stopping point are dropped);
* warm-up calls come first (they absorb JIT/NVRTC compilation and library handle creation);
* before each sample the last-level cache is flushed by writing a cache-sized buffer, outside
  the timed region;
* sampling stops adaptively: once at least ``min_samples`` samples and ``min_time_s`` seconds of
  measured time are in, it stops as soon as the relative standard error of the median,
  ``RSE = sqrt(pi/2) * sigma / sqrt(n) / median`` with ``sigma = max(1.4826 MAD, IQR/1.349)``
  (a robust estimate of the median's standard error for near-normal noise), stays below
  ``rsd_target`` at three consecutive evaluations (after every sample; every n/50 samples
  past 500), or when it has stopped
  improving (no new best RSE, better by at least 1 %, since the sample count quadrupled and
  grew by at least ``3 * min_samples``: for pure noise the RSE halves in that time, so only
  noise that grows with time, such as a drifting clock, stops it), or at the hard limits
  ``max_time_s`` (wall clock) and ``max_samples``.

The clock is injectable (``clock=``): tests drive the logic with a deterministic fake.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "BatchClock",
    "BenchResult",
    "Clock",
    "CpuClock",
    "CudaEventClock",
    "FakeClock",
    "GPU_GEMM_MIN_TIME_S",
    "GPU_WARMUP_S",
    "StoppingRule",
    "benchmark",
    "make_flusher",
    "median_rse",
    "summarize",
]

#: default warm-up calls (do_bench warms up for 25 ms; three calls absorb compilation and
#: handle creation, the adaptive loop then absorbs the rest)
DEFAULT_WARMUP = 3
#: least warm-up time on a GPU [s], so that sampling starts at sustained clocks and power
#: (triton.testing.do_bench: 25 ms warm-up, 100 ms of samples)
GPU_WARMUP_S = 0.1
#: least measured time of every GEMM on a GPU [s], whatever the suite's ``min_time_s``: a
#: power-capped GEMM (the H200 at its 700 W limit) runs a few percent faster in its first tens
#: of milliseconds than sustained, so a measurement that stops as soon as the median is known
#: reads faster than ``triton.testing.do_bench`` (100 ms of samples); sampling at least this
#: long after the warm-up reports the sustained rate (docs/benchmarks.md, issue 15)
GPU_GEMM_MIN_TIME_S = 0.1
#: relative-standard-error target of the median (0.5 %)
DEFAULT_RSD_TARGET = 0.005
#: the RSE must stay under the target for this many consecutive samples (a short sample can
#: underestimate the noise by chance; one lucky estimate must not end the measurement)
_CONFIRM = 3
#: most samples in one GPU batch, and the GPU time a batch should take at most [s]
_BATCH_MAX = 256
_BATCH_TIME_S = 0.1
#: past this many samples the stopping rule is evaluated every n/50 samples
_EVAL_EVERY_FROM = 500
#: the plateau rule starts once there are this many times ``min_samples`` samples
_PLATEAU_FROM = 2
#: a new best RSE must be this much better (relative) to count as improving
_IMPROVE_FACTOR = 0.99
#: a sample is flagged when the SM clock read right after it is below this fraction of the
#: device's maximum SM clock (NVML ``nvmlDeviceGetMaxClockInfo``)
LOW_CLOCK_FRACTION = 0.75
#: sqrt(pi/2): asymptotic ratio of the median's standard error to the mean's (normal noise)
_MEDIAN_SE_FACTOR = math.sqrt(math.pi / 2.0)
#: MAD -> standard deviation for normal noise
_MAD_TO_SIGMA = 1.4826
#: IQR / standard deviation for normal noise
_IQR_TO_SIGMA = 1.349


class Clock(Protocol):
    """What :func:`benchmark` needs from a clock."""

    device: str

    def measure(self, fn: Callable, args: tuple, kwargs: dict) -> float:
        """Run ``fn(*args, **kwargs)`` once and return its duration [s]."""

    def wall(self) -> float:
        """Monotonic wall time [s] (for the hard timeout)."""

    def sync(self) -> None:
        """Wait for all queued work."""


class CpuClock:
    """Host clock: :func:`time.perf_counter` around a call (the call must be synchronous)."""

    device = "cpu"

    def measure(self, fn, args, kwargs) -> float:
        t0 = time.perf_counter()
        fn(*args, **kwargs)
        return time.perf_counter() - t0

    def wall(self) -> float:
        return time.perf_counter()

    def sync(self) -> None:
        return None


_SPIN_SRC = r"""
extern "C" __global__ void aicost_spin(long long ns) {
    long long t0, t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
    do { asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t)); } while (t - t0 < ns);
}
"""
_SPIN_KERNELS: dict = {}


class CudaEventClock:
    """CUDA events recorded on the current stream around each call, samples taken in batches.

    A batch first queues a one-thread kernel that keeps the GPU busy for :attr:`delay_s`, then
    queues ``flush; start event; fn; end event`` for every sample, and synchronizes once at the
    end (as ``triton.testing.do_bench`` does). The host therefore runs ahead of the GPU, and
    the host-side launch cost of ``fn`` (tens of microseconds for a Python library call) does
    not land inside the timed region as idle GPU time.

    Parameters
    ----------
    api : {"cupy", "numba"}
        Which library's events to use (numba-cuda kernels launch on Numba's default stream,
        CuPy's on CuPy's current stream; both are the legacy default stream unless changed).
    delay_s : float [s]
        GPU busy time queued before each batch.
    spin : callable, optional
        ``spin(seconds)`` queues a kernel that keeps the GPU busy that long (a backend's own;
        the ``cupy`` api has one built in; without one the ``numba`` api queues no delay).
    l2_flusher : callable, optional
        ``l2_flusher() -> (flush, nbytes)`` builds the cache flush (a backend's own kernel);
        default: a buffer twice the L2 size written by CuPy's ``fill`` (``cupy``) or by a
        driver memset (``numba``).
    """

    device = "cuda"

    def __init__(self, api: str = "cupy", delay_s: float = 500e-6,
                 spin: Callable[[float], None] | None = None,
                 l2_flusher: Callable[[], tuple[Callable[[], None], int]] | None = None) -> None:
        self.api = api
        self.delay_s = float(delay_s)
        self._spin = spin
        self._l2_flusher = l2_flusher
        if api == "cupy":
            import cupy

            self._cp = cupy
            self._start = cupy.cuda.Event()
            self._end = cupy.cuda.Event()
        elif api == "numba":
            from numba import cuda

            self._cuda = cuda
            self._start = cuda.event(timing=True)
            self._end = cuda.event(timing=True)
        else:  # pragma: no cover - guarded by callers
            raise ValueError(f"unknown CUDA event api {api!r}; use 'cupy' or 'numba'")

    def _events(self):
        if self.api == "cupy":
            return self._cp.cuda.Event(), self._cp.cuda.Event()
        return self._cuda.event(timing=True), self._cuda.event(timing=True)

    def _elapsed(self, start, end) -> float:
        if self.api == "cupy":
            return self._cp.cuda.get_elapsed_time(start, end) * 1e-3
        return self._cuda.event_elapsed_time(start, end) * 1e-3

    def _delay(self) -> None:
        """Queue a kernel that keeps the GPU busy for ``delay_s`` (best effort)."""
        if self.delay_s <= 0:
            return
        try:
            if self._spin is not None:
                self._spin(self.delay_s)
            elif self.api == "cupy":
                k = _SPIN_KERNELS.get("cupy")
                if k is None:
                    k = _SPIN_KERNELS["cupy"] = self._cp.RawKernel(_SPIN_SRC, "aicost_spin")
                import numpy as np

                k((1,), (1,), (np.int64(int(self.delay_s * 1e9)),))
            else:
                self.delay_s = 0.0
        # the delay only hides launch gaps: a GPU or driver that cannot compile or run the spin
        # kernel (the error classes are CuPy's and Numba's own) measures without it
        except Exception:
            self.delay_s = 0.0

    def l2_flusher(self) -> Callable[[], None]:
        """The cache flush to run before each sample (outside the timed region)."""
        if self._l2_flusher is not None:
            return self._l2_flusher()[0]
        if self.api == "cupy":
            return make_flusher("cuda")[0]
        return _memset_flusher()

    def measure(self, fn, args, kwargs) -> float:
        self._start.record()
        fn(*args, **kwargs)
        self._end.record()
        self._end.synchronize()
        return self._elapsed(self._start, self._end)

    def measure_batch(self, fn, args, kwargs, count: int, flush=None) -> list[float]:
        """``count`` samples queued back to back (each after ``flush``), one synchronize."""
        pairs = [self._events() for _ in range(count)]
        self._delay()
        for start, end in pairs:
            if flush is not None:
                flush()
            start.record()
            fn(*args, **kwargs)
            end.record()
        pairs[-1][1].synchronize()
        return [self._elapsed(s, e) for s, e in pairs]

    def wall(self) -> float:
        return time.perf_counter()

    def sync(self) -> None:
        if self.api == "cupy":
            self._cp.cuda.get_current_stream().synchronize()
            self._cp.cuda.runtime.deviceSynchronize()
        else:
            self._cuda.synchronize()


class FakeClock:
    """A deterministic clock for tests: returns the given durations in turn (cycling).

    The wall clock advances by each returned duration plus ``overhead_s``.
    """

    device = "cpu"

    def __init__(self, durations: Sequence[float], overhead_s: float = 0.0) -> None:
        if not durations:
            raise ValueError("FakeClock needs at least one duration")
        self.durations = list(durations)
        self.overhead_s = overhead_s
        self.calls = 0
        self._now = 0.0

    def measure(self, fn, args, kwargs) -> float:
        fn(*args, **kwargs)
        d = self.durations[self.calls % len(self.durations)]
        self.calls += 1
        self._now += d + self.overhead_s
        return d

    def wall(self) -> float:
        return self._now

    def sync(self) -> None:
        return None


@dataclass(frozen=True)
class BenchResult:
    """The samples of one benchmark and their statistics.

    Attributes
    ----------
    samples_s : tuple of float
        Every timed sample, in order [s].
    median_s, min_s, mean_s, stdev_s, iqr_s : float
        Statistics of the samples [s] (stdev is the sample standard deviation, IQR = Q3 - Q1).
    n_samples : int
        Number of samples.
    rse : float
        Relative standard error of the median at the end (see module docstring).
    stop_reason : str
        ``"converged"``, ``"plateau"``, ``"timeout"`` or ``"max_samples"``.
    warmup_calls : int
        Calls made before timing.
    first_call_s : float
        Duration of the first (cold) call [s], host clock, compilation included.
    device : str
        ``"cpu"`` or ``"cuda"``.
    flushed : bool
        Whether the cache was flushed before each sample.
    flags : tuple of str
        Warnings about the measurement (low SM clock, throttling, timeout).
    sm_clock_mhz : tuple of float
        SM clock read after each sample (empty without NVML).
    nvml_before, nvml_after : dict
        Clocks [MHz], power [W], temperature [C] and throttle reasons around the run.
    """

    samples_s: tuple[float, ...]
    median_s: float
    min_s: float
    mean_s: float
    stdev_s: float
    iqr_s: float
    n_samples: int
    rse: float
    stop_reason: str
    warmup_calls: int = 0
    first_call_s: float = float("nan")
    device: str = "cpu"
    flushed: bool = False
    flags: tuple[str, ...] = ()
    sm_clock_mhz: tuple[float, ...] = ()
    nvml_before: dict = field(default_factory=dict)
    nvml_after: dict = field(default_factory=dict)

    def rate(self, amount: float) -> float:
        """``amount`` (FLOP or bytes) divided by the median time [amount/s]."""
        return amount / self.median_s if self.median_s > 0 else float("nan")

    def to_dict(self) -> dict:
        """Statistics as a flat dict (the result columns of the store)."""
        return {
            "median_s": self.median_s,
            "min_s": self.min_s,
            "mean_s": self.mean_s,
            "stdev_s": self.stdev_s,
            "iqr_s": self.iqr_s,
            "n_samples": self.n_samples,
            "samples_s": list(self.samples_s),
        }

    def __repr__(self) -> str:
        return (
            f"BenchResult(median={self.median_s * 1e6:.3f} us, min={self.min_s * 1e6:.3f} us, "
            f"n={self.n_samples}, rse={self.rse:.2%}, stop={self.stop_reason!r}, "
            f"device={self.device!r}, flags={list(self.flags)})"
        )


def _quantile(sorted_x: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (NumPy's default) of sorted data."""
    n = len(sorted_x)
    if n == 1:
        return float(sorted_x[0])
    pos = q * (n - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, n - 1)
    frac = pos - lo
    return float(sorted_x[lo] + (sorted_x[hi] - sorted_x[lo]) * frac)


def median_rse(samples: Sequence[float]) -> float:
    """Relative standard error of the median of ``samples`` (robust, MAD-based).

    ``sqrt(pi/2) * 1.4826 * MAD / sqrt(n) / median``; ``inf`` for fewer than 2 samples.
    """
    import numpy as np

    n = len(samples)
    if n < 2:
        return math.inf
    x = np.asarray(samples, dtype=float)
    med = float(np.median(x))
    if med <= 0:
        return math.inf
    mad = float(np.median(np.abs(x - med)))
    q75, q25 = np.percentile(x, [75, 25])
    iqr = float(q75 - q25)
    # two robust estimates of sigma; the larger guards against one that happens to be small
    # in a short sample (which would stop sampling too early)
    sigma = max(_MAD_TO_SIGMA * mad, iqr / _IQR_TO_SIGMA)
    return _MEDIAN_SE_FACTOR * sigma / math.sqrt(n) / med


def summarize(samples: Sequence[float]) -> dict:
    """Median, min, mean, stdev, IQR and count of ``samples`` [s]."""
    if not samples:
        raise ValueError("no samples to summarize")
    xs = sorted(float(x) for x in samples)
    n = len(xs)
    return {
        "median_s": float(statistics.median(xs)),
        "min_s": xs[0],
        "mean_s": float(statistics.fmean(xs)),
        "stdev_s": float(statistics.stdev(xs)) if n > 1 else 0.0,
        "iqr_s": _quantile(xs, 0.75) - _quantile(xs, 0.25),
        "n_samples": n,
    }


def _is_gpu_array(obj: Any) -> str | None:
    mod = type(obj).__module__ or ""
    if mod.startswith("cupy"):
        return "cupy"
    if mod.startswith("numba.cuda") or mod.startswith("numba_cuda"):
        return "numba"
    return None


def _default_clock(device: str | None, args: tuple) -> Clock:
    apis = {a for a in (_is_gpu_array(x) for x in args) if a}
    if device is None:
        device = "cuda" if apis else "cpu"
    if device == "cpu":
        return CpuClock()
    if device == "cuda":
        return CudaEventClock("numba" if apis == {"numba"} else "cupy")
    raise ValueError(f"unknown device {device!r}; use None (auto), 'cpu' or 'cuda'")


def _cpu_llc_bytes(default: int = 32 * 2**20) -> int:
    """Size of the CPU's last-level cache from sysfs [B] (``default`` when unreadable)."""
    from pathlib import Path

    best = 0
    for p in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        try:
            txt = p.read_text().strip().upper()
            mult = {"K": 2**10, "M": 2**20, "G": 2**30}.get(txt[-1:], 1)
            val = int(txt.rstrip("KMG")) * mult
            best = max(best, val)
        except (OSError, ValueError):
            continue
    return best or default


#: the CPU flush buffer is capped: a VM may report a host-wide L3 of hundreds of MB, and
#: writing that before every sample would dominate the run time
CPU_FLUSH_CAP_BYTES = 32 * 2**20


def make_flusher(device: str) -> tuple[Callable[[], None], int]:
    """Return ``(flush, nbytes)``: a callable that writes a cache-sized buffer.

    On CUDA the buffer is twice the L2 size read off the device (``cudaDevAttrL2CacheSize``);
    on the CPU it is the last-level cache size from sysfs, capped at
    :data:`CPU_FLUSH_CAP_BYTES`.
    """
    if device == "cuda":
        import cupy

        l2 = int(cupy.cuda.Device().attributes.get("L2CacheSize", 0)) or 64 * 2**20
        nbytes = 2 * l2
        buf = cupy.empty(nbytes // 4, dtype=cupy.int32)

        def flush() -> None:
            buf.fill(0)

        return flush, nbytes
    import numpy as np

    nbytes = min(_cpu_llc_bytes(), CPU_FLUSH_CAP_BYTES)
    hbuf = np.empty(nbytes // 8, dtype=np.float64)

    def flush_cpu() -> None:
        hbuf.fill(1.0)

    return flush_cpu, nbytes


def _memset_flusher() -> Callable[[], None]:
    """L2 flush for Numba device arrays without a backend's flush kernel: a driver memset of
    a buffer twice the L2 size."""
    import numpy as np
    from numba import cuda
    from numba.cuda.cudadrv.driver import device_memset

    l2 = int(getattr(cuda.get_current_device(), "L2_CACHE_SIZE", 0) or 0)
    nbytes = 2 * (l2 or 64 * 2**20)
    buf = cuda.device_array(nbytes, dtype=np.uint8)

    def flush() -> None:
        device_memset(buf, 0, nbytes)

    return flush


@runtime_checkable
class BatchClock(Clock, Protocol):
    """A clock that can queue several samples and synchronize once (a GPU clock)."""

    def measure_batch(self, fn: Callable, args: tuple, kwargs: dict, count: int,
                      flush: Callable[[], None] | None = None) -> list[float]:
        """``count`` samples queued back to back (each after ``flush``), one synchronize."""


def benchmark(
    fn: Callable,
    *args: Any,
    kwargs: dict | None = None,
    warmup: int = DEFAULT_WARMUP,
    warmup_s: float | None = None,
    min_samples: int = 10,
    max_samples: int = 10_000,
    min_time_s: float = 0.1,
    max_time_s: float = 5.0,
    rsd_target: float = DEFAULT_RSD_TARGET,
    flush_l2: bool = True,
    device: str | None = None,
    clock: Clock | None = None,
    flusher: Callable[[], None] | None = None,
    nvml: bool = True,
) -> BenchResult:
    """Time ``fn(*args, **kwargs)`` with warm-up, cache flush and adaptive stopping.

    Parameters
    ----------
    fn : callable
        The operation. On a GPU pass device arrays; ``fn`` may return before the device
        finishes (CUDA events time the device work).
    *args
        Positional arguments of ``fn``.
    kwargs : dict, optional
        Keyword arguments of ``fn``.
    warmup : int
        Untimed calls before sampling (>= 0).
    warmup_s : float, optional [s]
        Keep warming up (after ``warmup`` calls) until this much time has passed, so that a GPU
        reaches its sustained clocks and power before sampling (as ``triton.testing.do_bench``
        warms up for 25 ms and samples for 100 ms). None: :data:`GPU_WARMUP_S` on CUDA, 0 on CPU.
    min_samples : int
        Fewest samples (>= 1).
    max_samples : int
        Most samples.
    min_time_s : float [s]
        Least total measured time before stopping.
    max_time_s : float [s]
        Hard wall-clock limit of the sampling loop (warm-up excluded).
    rsd_target : float
        Stop once the relative standard error of the median is below this (0.005 = 0.5 %).
    flush_l2 : bool
        Flush the last-level cache before every sample, outside the timed region.
    device : {None, "cpu", "cuda"}
        None picks "cuda" when an argument is a CuPy or Numba device array.
    clock : Clock, optional
        Replaces the clock (tests pass a :class:`FakeClock`; a backend passes its own
        :class:`CudaEventClock`).
    flusher : callable, optional
        Replaces the cache flush.
    nvml : bool
        Read clocks, power and temperature through NVML (CUDA only, when nvidia-ml-py is
        installed) before, during and after.

    Returns
    -------
    BenchResult

    Raises
    ------
    ValueError
        For out-of-range arguments.
    """
    if not callable(fn):
        raise ValueError(f"fn must be callable, got {type(fn).__name__}")
    rule = StoppingRule(min_samples=min_samples, max_samples=max_samples, min_time_s=min_time_s,
                        max_time_s=max_time_s, rsd_target=rsd_target)
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    if warmup_s is not None and not warmup_s >= 0:
        raise ValueError(f"warmup_s must be >= 0 [s], got {warmup_s}")
    kwargs = dict(kwargs or {})

    clk = clock if clock is not None else _default_clock(device, args)
    dev = clk.device
    # a cache flush, NVML readings and the GPU warm-up time come with the real clocks; a custom
    # clock (a test's FakeClock) gets a flush only through ``flusher=``
    real_clock = isinstance(clk, (CpuClock, CudaEventClock))
    flush = _choose_flush(clk, flush_l2, flusher)
    monitor = _open_monitor() if (nvml and dev == "cuda" and real_clock) else None
    nvml_before = monitor.snapshot() if monitor else {}
    if warmup_s is None:
        warmup_s = GPU_WARMUP_S if (dev == "cuda" and real_clock) else 0.0
    warmup_calls, first_call_s = _warm_up(fn, args, kwargs, clk, warmup, warmup_s)

    samples, clocks, stop_reason = _sample(fn, args, kwargs, clk, flush, monitor, rule)
    nvml_after = monitor.snapshot() if monitor else {}
    final_rse = median_rse(samples)
    flags = _flags(samples, clocks, stop_reason, final_rse, rule, monitor,
                   (nvml_before, nvml_after))
    stats = summarize(samples)
    return BenchResult(
        samples_s=tuple(samples),
        median_s=stats["median_s"],
        min_s=stats["min_s"],
        mean_s=stats["mean_s"],
        stdev_s=stats["stdev_s"],
        iqr_s=stats["iqr_s"],
        n_samples=stats["n_samples"],
        rse=final_rse,
        stop_reason=stop_reason,
        warmup_calls=warmup_calls,
        first_call_s=first_call_s,
        device=dev,
        flushed=flush is not None,
        flags=tuple(flags),
        sm_clock_mhz=tuple(clocks),
        nvml_before=nvml_before,
        nvml_after=nvml_after,
    )


@dataclass
class StoppingRule:
    """When the sampling loop stops (see the module docstring), one sample at a time.

    Parameters are :func:`benchmark`'s; they are checked here (ValueError when out of range).
    :meth:`after` is called after each sample and returns the stop reason or None.
    """

    min_samples: int = 10
    max_samples: int = 10_000
    min_time_s: float = 0.1
    max_time_s: float = 5.0
    rsd_target: float = DEFAULT_RSD_TARGET
    total_s: float = 0.0
    best_rse: float = math.inf
    best_at: int = 0
    below: int = 0

    def __post_init__(self) -> None:
        if self.min_samples < 1:
            raise ValueError(f"min_samples must be >= 1, got {self.min_samples}")
        if self.max_samples < self.min_samples:
            raise ValueError(f"max_samples ({self.max_samples}) must be >= min_samples "
                             f"({self.min_samples})")
        if self.min_time_s < 0 or self.max_time_s <= 0:
            raise ValueError("min_time_s must be >= 0 and max_time_s > 0 [s]")
        if not self.rsd_target > 0:
            raise ValueError(f"rsd_target must be > 0, got {self.rsd_target}")

    def after(self, samples: Sequence[float], elapsed_s: float) -> str | None:
        """The stop reason after the latest sample (``samples[-1]``), or None to go on.

        ``elapsed_s`` is the wall time since sampling started [s].
        """
        self.total_s += samples[-1]
        n = len(samples)
        if elapsed_s >= self.max_time_s:
            return "timeout"
        reason = self._rule(samples)
        if reason is None and n >= self.max_samples:
            return "max_samples"
        return reason

    def _rule(self, samples: Sequence[float]) -> str | None:
        n = len(samples)
        if n < self.min_samples or self.total_s < self.min_time_s:
            return None
        if n > _EVAL_EVERY_FROM and n % (n // 50):
            return None  # past 500 samples, apply the rule every n/50 samples (it costs O(n))
        rse = median_rse(samples)
        if rse < self.rsd_target:
            self.below += 1
            if self.below >= _CONFIRM:
                return "converged"
        else:
            self.below = 0
        if n < _PLATEAU_FROM * self.min_samples:
            return None  # too few samples for the noise estimate to be trusted as a baseline
        if rse < self.best_rse * _IMPROVE_FACTOR:
            self.best_rse, self.best_at = rse, n
        elif n - self.best_at >= max(3 * self.min_samples, 3 * self.best_at):
            return "plateau"
        return None


def _choose_flush(clk: Clock, flush_l2: bool,
                  flusher: Callable[[], None] | None) -> Callable[[], None] | None:
    """The cache flush before each sample: the caller's, else the real clock's, else none."""
    if not flush_l2:
        return None
    if flusher is not None:
        return flusher
    if isinstance(clk, CudaEventClock):
        return clk.l2_flusher()
    if isinstance(clk, CpuClock):
        return make_flusher("cpu")[0]
    return None


def _open_monitor():
    from ._context import NvmlMonitor

    return NvmlMonitor.open()


def _warm_up(fn: Callable, args: tuple, kwargs: dict, clk: Clock, warmup: int,
             warmup_s: float) -> tuple[int, float]:
    """Untimed calls: ``warmup`` of them, then on until ``warmup_s`` has passed.

    Returns ``(calls, first_call_s)``; the first call is timed on the host clock (compile time
    is of interest in itself). On a GPU the calls go on until the clocks and power have
    settled: a power-capped GEMM runs several percent faster in its first milliseconds than
    sustained (seen on the H200, docs/benchmarks.md).
    """
    first_call_s = float("nan")
    t_warm = time.perf_counter()
    i = 0
    while i < warmup or (warmup_s > 0 and time.perf_counter() - t_warm < warmup_s):
        t0 = time.perf_counter()
        fn(*args, **kwargs)
        if i == 0 or warmup_s > 0:
            clk.sync()
        if i == 0:
            first_call_s = time.perf_counter() - t0
        i += 1
        if i >= 100_000:
            break
    clk.sync()
    return i, first_call_s


def _batch_size(samples: Sequence[float], rule: StoppingRule) -> int:
    """How many samples a GPU clock queues next: ``min_samples`` first, then up to half the
    samples so far, :data:`_BATCH_MAX` and :data:`_BATCH_TIME_S` of GPU time."""
    n_now = len(samples)
    if n_now == 0:
        k = rule.min_samples
    else:
        med = statistics.median(samples)
        k = max(1, min(_BATCH_MAX, n_now // 2 or 1,
                       int(_BATCH_TIME_S / med) if med > 0 else _BATCH_MAX))
    return max(1, min(k, rule.max_samples - n_now))


def _sample(fn: Callable, args: tuple, kwargs: dict, clk: Clock,
            flush: Callable[[], None] | None, monitor,
            rule: StoppingRule) -> tuple[list[float], list[float], str]:
    """The sampling loop: ``(samples [s], SM clocks [MHz], stop reason)``.

    A batch clock queues several samples at once; the rule still sees them one by one, and
    samples queued past the stopping point are dropped.
    """
    samples: list[float] = []
    clocks: list[float] = []
    t_start = clk.wall()
    while True:
        if isinstance(clk, BatchClock):
            xs = clk.measure_batch(fn, args, kwargs, _batch_size(samples, rule), flush)
        else:
            if flush is not None:
                flush()
            xs = [clk.measure(fn, args, kwargs)]
        c = monitor.sm_clock_mhz() if monitor is not None else None
        for x in xs:
            samples.append(float(x))
            if c is not None:
                clocks.append(c)
            reason = rule.after(samples, clk.wall() - t_start)
            if reason is not None:
                clk.sync()
                return samples, clocks, reason


def _flags(samples: Sequence[float], clocks: Sequence[float], stop_reason: str, final_rse: float,
           rule: StoppingRule, monitor, snapshots: tuple[dict, dict]) -> list[str]:
    """Warnings about a measurement: timeout, noise, low SM clock, throttling."""
    flags: list[str] = []
    if stop_reason == "timeout" and len(samples) < rule.min_samples:
        flags.append(f"timeout after {len(samples)} of {rule.min_samples} samples")
    if stop_reason in ("timeout", "plateau", "max_samples") and final_rse > rule.rsd_target:
        flags.append(f"noisy: rse {final_rse:.2%} > target {rule.rsd_target:.2%}")
    if monitor is not None and clocks and monitor.max_sm_clock_mhz:
        limit = LOW_CLOCK_FRACTION * monitor.max_sm_clock_mhz
        low = sum(1 for c in clocks if c < limit)
        if low:
            flags.append(
                f"low_sm_clock: {low}/{len(clocks)} samples below {limit:.0f} MHz "
                f"({LOW_CLOCK_FRACTION:.0%} of max {monitor.max_sm_clock_mhz:.0f} MHz)"
            )
    for snap in snapshots:
        reasons = snap.get("throttle_reasons") or []
        hard = [r for r in reasons if r not in ("gpu_idle", "applications_clocks_setting", "none")]
        if hard:
            flags.append("throttle: " + ",".join(hard))
            break
    return flags
