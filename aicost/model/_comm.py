"""Collective and point-to-point times for the models' array kernels (arrays broadcast).

Built on ``aicost.network.collective_time`` (the alpha-beta models, ring algorithm); the
efficiency factors that scale the bandwidths come from ``aicost.hardware`` /
``aicost.calibrate`` and are applied by the caller.
"""

from __future__ import annotations

import numpy as np

from ..network import collective_time as _net

__all__ = [
    "allreduce_time",
    "collective_time",
    "hierarchical_allreduce_time",
    "p2p_time",
]


def collective_time(op: str, nbytes, n, bandwidth_bytes_per_s, latency_s):
    """Time of a ring collective ``op`` of ``nbytes`` [B] among ``n`` ranks [s] (arrays broadcast).

    Uses ``aicost.network.collective_time`` (the project's alpha-beta models; ``nbytes`` as
    nccl-tests counts it). Its model is ``a(p) * alpha + b(p) * nbytes / bandwidth``; for large
    arrays the coefficients are taken from it once per distinct rank count (a table over
    ``1..max(n)``) and applied here, which gives the same numbers at a fraction of the cost.
    Ranks of 1 cost 0.
    """
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
