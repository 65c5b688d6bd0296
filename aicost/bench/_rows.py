"""Result rows and what every measurement shares: the backend, the catalog peaks, the memory
check, the timer defaults, the error that says which backend offers what."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence

import numpy as np

from .._errors import InfeasibleError
from .._units import format_bytes
from ._backends import BACKENDS, backend_status, get_backend
from ._protocol import BenchBackend
from ._timer import BenchResult, summarize

__all__ = [
    "COLUMNS",
    "JSON_FIELDS",
    "MEMORY_HEADROOM",
    "catalog_accelerator",
    "check_supported",
    "ensure_fits",
    "peak_bw",
    "peak_flops",
    "per_call",
    "resolve_backend",
    "result_row",
    "timer_kwargs",
    "unsupported_reason",
]

#: result columns (aicost.store)
COLUMNS = ["kind", "name", "backend", "device", "dtype", "shape", "size_bytes", "flops",
           "bytes_moved", "median_s", "min_s", "mean_s", "stdev_s", "iqr_s", "n_samples",
           "value", "unit", "peak", "pct_of_peak", "params", "samples_s", "flags"]
#: fields every JSON record carries (`aicost bench compute --json`)
JSON_FIELDS = ["kernel", "backend", "device", "dtype", "shape", "size_bytes", "flops",
               "bytes_moved", "median_s", "min_s", "mean_s", "stdev_s", "iqr_s", "n_samples",
               "value", "unit", "peak", "pct_of_peak"]

#: fraction of free device memory a benchmark may take
MEMORY_HEADROOM = 0.9


def resolve_backend(backend) -> BenchBackend:
    """The backend object for a name (``"auto"``, ``"cupy"``, ...), or the object itself."""
    return get_backend(backend) if isinstance(backend, str) else backend


def timer_kwargs(overrides: dict | None) -> dict:
    """The timer settings of a measurement: the defaults updated with ``overrides``."""
    kw = {"min_samples": 10, "min_time_s": 0.05, "max_time_s": 2.0}
    kw.update(overrides or {})
    return kw


@functools.lru_cache(maxsize=16)
def catalog_accelerator(device_name: str):
    """The catalog row for the name CUDA reports, or None (CPUs have no row)."""
    from .. import catalog

    try:
        return catalog.load().accelerator(device_name)
    except LookupError:  # UnknownNameError: a device the catalog does not list
        return None


def peak_flops(be, dtype: str) -> float | None:
    if be.device_kind != "cuda":
        return None
    acc = catalog_accelerator(be.device_name())
    if acc is None:
        return None
    try:
        p = float(acc.peak_flops_per_s(dtype))
    except ValueError:  # the catalog has no peak for this dtype on this chip
        return None
    return p if p > 0 and math.isfinite(p) else None


def peak_bw(be) -> float | None:
    if be.device_kind != "cuda":
        return None
    acc = catalog_accelerator(be.device_name())
    if acc is None:
        return None
    p = float(acc.mem_bw_bytes_per_s)
    return p if p > 0 and math.isfinite(p) else None


def ensure_fits(be, nbytes: int, what: str) -> None:
    """Refuse, before allocating, a benchmark that would not fit in free memory."""
    free = be.mem_free_bytes()
    if nbytes > MEMORY_HEADROOM * free:
        raise InfeasibleError(
            f"{what} needs {format_bytes(nbytes)} but {be.device_name()} has "
            f"{format_bytes(free)} free ({MEMORY_HEADROOM:.0%} usable); use a smaller size")


def result_row(be, name: str, dtype: str, res, *, value: float, unit: str, flops: float = 0.0,
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


def unsupported_reason(be, what: str, dtype: str | None = None) -> str:
    table = be.unsupported
    return (table.get(f"{what}:{dtype}") or table.get(what)
            or f"{what} is not implemented for backend {be.name!r}")


def check_supported(be, what: str, dtype: str, offered: Sequence[str]) -> None:
    if dtype not in offered:
        others = []
        for b in BACKENDS:
            st = backend_status(b)
            if b != be.name:
                others.append(f"{b}: {'available' if st.available else st.reason}")
        raise ValueError(
            f"{what} in {dtype} is not available on backend {be.name!r}: "
            f"{unsupported_reason(be, what, dtype)}. This backend offers {what} in "
            f"{', '.join(offered) or 'no dtype'}. Other backends: {'; '.join(others)}")


def per_call(res: BenchResult, rep: int) -> BenchResult:
    """A BenchResult whose samples are per call (each sample covered ``rep`` calls)."""
    from dataclasses import replace

    samples = tuple(s / rep for s in res.samples_s)
    stats = summarize(samples)
    return replace(res, samples_s=samples, **{k: stats[k] for k in
                                              ("median_s", "min_s", "mean_s", "stdev_s", "iqr_s")})
