"""Hardware numbers the models need, behind small functions that say where each came from.

* peak FLOP/s, memory, memory bandwidth: ``aicost.catalog`` (or explicit overrides);
* compute efficiency: ``aicost.calibrate.gemm_efficiency`` (measured GEMM rate / peak when the
  results store has it, a documented default otherwise), with a local fallback constant only
  when the calibration layer cannot be imported;
* collective times: ``aicost.network.collective_time`` (alpha-beta models), with the same
  ring formula locally only when the network layer cannot be imported.

Every function here accepts numpy arrays and broadcasts.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "FALLBACK_GEMM_EFFICIENCY",
    "allreduce_time",
    "collective_efficiency",
    "collective_time",
    "gemm_efficiency",
    "hierarchical_allreduce_time",
    "p2p_time",
]

#: Used only when ``aicost.calibrate`` is unavailable: large bf16 GEMMs reach 70-73% of the
#: dense peak on an H200 measured for this project (690-720 of 989 TFLOP/s, design.md) and
#: ~75-80% on A100 (cuBLAS, NVIDIA's published GEMM results); 0.72 is the conservative middle.
FALLBACK_GEMM_EFFICIENCY = 0.72


def gemm_efficiency(accelerator: str, dtype: str = "bf16", store=None, shape=None) -> tuple[float, str]:
    """GEMM efficiency (achieved / peak) and where it came from.

    Returns
    -------
    (value, source) : (float, str)
    """
    try:
        from .. import calibrate
    except ImportError:  # the calibration layer is not installed in this tree
        return FALLBACK_GEMM_EFFICIENCY, (
            f"aicost.model fallback default {FALLBACK_GEMM_EFFICIENCY} (aicost.calibrate unavailable)")
    eff = calibrate.gemm_efficiency(accelerator, dtype, store=store, shape=shape)
    return float(eff.value), str(eff.source)


def _local_collective_time(op, nbytes, n, bandwidth_bytes_per_s, latency_s):
    """Alpha-beta ring model (Thakur, Rabenseifner & Gropp 2005; Patarasuk & Yuan 2009)."""
    n = np.asarray(n, dtype=float)
    nbytes = np.asarray(nbytes, dtype=float)
    steps = {"allreduce": 2.0, "all_reduce": 2.0, "reduce_scatter": 1.0, "allgather": 1.0,
             "all_gather": 1.0}[op]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = steps * (n - 1.0) * (latency_s + nbytes / (n * bandwidth_bytes_per_s))
    return np.where(n > 1, t, 0.0)


def collective_time(op: str, nbytes, n, bandwidth_bytes_per_s, latency_s):
    """Time of a ring collective ``op`` of ``nbytes`` [B] among ``n`` ranks [s] (arrays broadcast).

    Uses ``aicost.network.collective_time`` (the project's alpha-beta models; ``nbytes`` as
    nccl-tests counts it). Its model is ``a(p) * alpha + b(p) * nbytes / bandwidth``; for large
    arrays the coefficients are taken from it once per distinct rank count (a table over
    ``1..max(n)``) and applied here, which gives the same numbers at a fraction of the cost.
    Ranks of 1 cost 0.
    """
    try:
        from ..network import collective_time as _net
    except ImportError:  # pragma: no cover - the network layer ships with aicost
        return _local_collective_time(op, nbytes, n, bandwidth_bytes_per_s, latency_s)
    n_arr = np.asarray(n, dtype=float)
    if n_arr.size < 4096:
        return _net(op, nbytes, n_arr, bandwidth_bytes_per_s=bandwidth_bytes_per_s, latency_s=latency_s,
                    algorithm="ring")
    if np.any(n_arr < 1) or np.any(n_arr != np.floor(n_arr)):
        raise ValueError(f"the number of ranks must be a whole number >= 1, got {n!r}")
    ranks = np.arange(1, int(n_arr.max()) + 1, dtype=float)
    a = np.asarray(_net(op, 0.0, ranks, bandwidth_bytes_per_s=1.0, latency_s=1.0, algorithm="ring"))
    b = np.asarray(_net(op, 1.0, ranks, bandwidth_bytes_per_s=1.0, latency_s=0.0, algorithm="ring"))
    idx = n_arr.astype(np.int64) - 1
    return (a[idx] * np.asarray(latency_s, dtype=float)
            + b[idx] * np.asarray(nbytes, dtype=float) / np.asarray(bandwidth_bytes_per_s, dtype=float))


def collective_efficiency(accelerator: str | None = None, store=None) -> tuple[float, str]:
    """Achieved / link bandwidth of large collectives, and its source."""
    try:
        from .. import calibrate

        fn = calibrate.collective_efficiency
    except (ImportError, AttributeError):
        fn = None
    if fn is not None:
        try:
            eff = fn(accelerator, store=store)
            return float(eff.value), str(eff.source)
        except TypeError:
            pass
    try:
        from ..network import DEFAULT_COLLECTIVE_EFFICIENCY as d
    except ImportError:  # pragma: no cover
        d = 0.8
    return float(d), f"aicost.network.DEFAULT_COLLECTIVE_EFFICIENCY ({d})"


def allreduce_time(nbytes, n, bandwidth_bytes_per_s, latency_s):
    """Ring all-reduce time [s]: ``2(n-1)(alpha + nbytes/(n*beta))``."""
    return collective_time("allreduce", nbytes, n, bandwidth_bytes_per_s, latency_s)


def hierarchical_allreduce_time(nbytes, n_local, n_nodes, local_bw, local_lat, remote_bw, remote_lat):
    """Two-level all-reduce [s]: reduce-scatter inside the node, all-reduce of the
    ``1/n_local`` shard across nodes (each GPU on its own NIC share), all-gather inside the node.

    ``remote_bw`` is per GPU [B/s].
    """
    nbytes = np.asarray(nbytes, dtype=float)
    n_local = np.asarray(n_local, dtype=float)
    t_local = (collective_time("reduce_scatter", nbytes, n_local, local_bw, local_lat)
               + collective_time("allgather", nbytes, n_local, local_bw, local_lat))
    t_remote = collective_time("allreduce", nbytes / np.maximum(n_local, 1.0), n_nodes,
                               remote_bw, remote_lat)
    return t_local + t_remote


def p2p_time(nbytes, bandwidth_bytes_per_s, latency_s):
    """Point-to-point send time [s]: ``alpha + nbytes/beta``."""
    return np.asarray(latency_s, dtype=float) + np.asarray(nbytes, dtype=float) / bandwidth_bytes_per_s
