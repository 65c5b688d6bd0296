"""Alpha-beta (Hockney) cost models of collectives, nccl-tests' bus-bandwidth factors.

A message of ``n`` bytes between two ranks costs ``alpha + n * beta``: ``alpha`` is the latency
[s] and ``beta = 1 / bandwidth`` [s/B] (Hockney 1994). A collective over ``p`` ranks costs
``a(p) * alpha + b(p) * n * beta``; the coefficients below are the standard ones of

- R. Thakur, R. Rabenseifner, W. Gropp, "Optimization of Collective Communication Operations in
  MPICH", IJHPCA 19(1), 2005 (ring, recursive doubling/halving, Rabenseifner's all-reduce,
  Bruck's all-to-all);
- E. Chan, M. Heimlich, A. Purkayastha, R. van de Geijn, "Collective communication: theory,
  practice, and experience", CCPE 19(13), 2007 (minimum-spanning-tree, i.e. binomial-tree,
  broadcast/reduce/scatter/gather and their compositions).

``n`` is the message size exactly as nccl-tests counts it (its "size" column): the buffer
each rank reduces for all-reduce, the *total* (gathered) size for all-gather and
reduce-scatter, the buffer for broadcast, and each rank's whole send buffer for all-to-all.
The computation term (gamma) of reductions is neglected: on GPUs it overlaps with transfers.
Recursive algorithms use ``ceil(log2 p)`` steps, exact for powers of two and a close
approximation otherwise. Each rank is assumed to send and receive at the link bandwidth at once
(full duplex), as nccl-tests' bus bandwidth assumes.

Everything is vectorized: ``nbytes`` and ``n`` broadcast against each other as NumPy arrays, so
a planner can evaluate millions of candidates in one call.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ALGORITHMS",
    "COLLECTIVES",
    "algbw_busbw",
    "busbw_factor",
    "collective_time",
    "normalize_op",
]

#: canonical collective names
COLLECTIVES = ("all_reduce", "all_gather", "reduce_scatter", "broadcast", "all_to_all")
#: algorithms of :func:`collective_time`
ALGORITHMS = ("ring", "tree", "recursive_doubling", "rabenseifner")

#: (The efficiency factor of large collectives, achieved busbw / link bandwidth, is
#: ``aicost.calibrate.DEFAULT_COLLECTIVE_EFFICIENCY`` and measured busbw in the store.)

_OP_ALIASES = {
    "all_reduce": ("all_reduce", "allreduce", "all-reduce", "ar"),
    "all_gather": ("all_gather", "allgather", "all-gather", "ag"),
    "reduce_scatter": ("reduce_scatter", "reducescatter", "reduce-scatter", "rs"),
    "broadcast": ("broadcast", "bcast"),
    "all_to_all": ("all_to_all", "alltoall", "all-to-all", "a2a"),
}
_OP_LOOKUP = {alias: canon for canon, aliases in _OP_ALIASES.items() for alias in aliases}
_ALGO_ALIASES = {
    "ring": "ring", "tree": "tree", "binomial": "tree", "mst": "tree",
    "recursive_doubling": "recursive_doubling", "recursive-doubling": "recursive_doubling",
    "recursive_halving": "recursive_doubling", "rd": "recursive_doubling", "bruck": "recursive_doubling",
    "rabenseifner": "rabenseifner",
}


def normalize_op(op: str) -> str:
    """Return the canonical collective name (``"allreduce"`` -> ``"all_reduce"``).

    Raises
    ------
    aicost.UnknownNameError
        For an unknown collective, with the closest names.
    """
    key = str(op).strip().lower().replace(" ", "_")
    try:
        return _OP_LOOKUP[key]
    except KeyError:
        from .._errors import UnknownNameError

        raise UnknownNameError("collective", str(op), list(_OP_LOOKUP)) from None


def _normalize_algorithm(algorithm: str) -> str:
    key = str(algorithm).strip().lower()
    try:
        return _ALGO_ALIASES[key]
    except KeyError:
        from .._errors import UnknownNameError

        raise UnknownNameError("algorithm", str(algorithm), ALGORITHMS) from None


def busbw_factor(op: str, n):
    """Bus-bandwidth factor of nccl-tests: ``busbw = algbw * busbw_factor(op, n)``.

    all-reduce ``2(n-1)/n``; all-gather, reduce-scatter and all-to-all ``(n-1)/n``;
    broadcast ``1`` (NVIDIA nccl-tests, doc/PERFORMANCE.md).

    Parameters
    ----------
    op : str
        Collective name.
    n : int or array of int
        Number of ranks (>= 1).

    Returns
    -------
    float or numpy.ndarray
    """
    op = normalize_op(op)
    p = np.asarray(n, dtype=float)
    if np.any(p < 1) or np.any(p != np.floor(p)):
        raise ValueError(f"the number of ranks must be a whole number >= 1, got {n!r}")
    if op == "all_reduce":
        f = 2.0 * (p - 1.0) / p
    elif op in ("all_gather", "reduce_scatter", "all_to_all"):
        f = (p - 1.0) / p
    else:  # broadcast
        f = np.ones_like(p)
    return float(f) if np.ndim(f) == 0 else f


def algbw_busbw(op: str, nbytes, time_s, n):
    """Return ``(algbw, busbw)`` [B/s] as nccl-tests computes them.

    ``algbw = nbytes / time``, ``busbw = algbw * busbw_factor(op, n)``, with ``nbytes`` counted
    as nccl-tests does (see the module docstring).
    """
    t = np.asarray(time_s, dtype=float)
    if np.any(t <= 0):
        raise ValueError("time must be positive")
    alg = np.asarray(nbytes, dtype=float) / t
    bus = alg * busbw_factor(op, n)
    if np.ndim(alg) == 0 and np.ndim(bus) == 0:
        return float(alg), float(bus)
    return alg, bus


def _coefficients(op: str, algorithm: str, p: np.ndarray):
    """Return ``(a, b)`` with ``time = a * alpha + b * nbytes * beta`` for ``p`` ranks."""

    def L():  # steps of recursive and tree algorithms
        return np.ceil(np.log2(np.maximum(p, 1.0)))

    def frac():
        return (p - 1.0) / p

    table = {
        "ring": {
            "all_reduce": lambda: (2 * (p - 1), 2 * frac()),
            "all_gather": lambda: (p - 1, frac()),
            "reduce_scatter": lambda: (p - 1, frac()),
            # pipelined chain, large-message limit: (p-1) startups, the message crosses once
            "broadcast": lambda: (p - 1, np.ones_like(p)),
            "all_to_all": lambda: (p - 1, frac()),  # pairwise exchange
        },
        "tree": {  # binomial (minimum spanning) trees, Chan et al. 2007
            "all_reduce": lambda: (2 * L(), 2 * L()),  # reduce + broadcast
            "all_gather": lambda: (2 * L(), frac() + L()),  # gather + broadcast
            "reduce_scatter": lambda: (2 * L(), L() + frac()),  # reduce + scatter
            "broadcast": lambda: (L(), L()),
        },
        "recursive_doubling": {  # Thakur et al. 2005
            "all_reduce": lambda: (L(), L()),
            "all_gather": lambda: (L(), frac()),
            "reduce_scatter": lambda: (L(), frac()),  # recursive halving
            "broadcast": lambda: (L(), L()),  # binomial tree
            "all_to_all": lambda: (L(), L() / 2),  # Bruck
        },
        "rabenseifner": {
            # reduce-scatter by recursive halving + all-gather by recursive doubling
            "all_reduce": lambda: (2 * L(), 2 * frac()),
            "all_gather": lambda: (L(), frac()),
            "reduce_scatter": lambda: (L(), frac()),
            # scatter + all-gather (van de Geijn), Thakur et al. 2005
            "broadcast": lambda: (2 * L(), 2 * frac()),
        },
    }
    try:
        return table[algorithm][op]()
    except KeyError:
        ok = sorted(a for a, ops in table.items() if op in ops)
        raise ValueError(
            f"{algorithm!r} is not a {op} algorithm here; use one of {', '.join(ok)}"
        ) from None


def collective_time(op: str, nbytes, n, *, bandwidth_bytes_per_s, latency_s,
                    algorithm: str = "ring"):
    """Time of one collective under the alpha-beta (Hockney) model.

    Parameters
    ----------
    op : {"all_reduce", "all_gather", "reduce_scatter", "broadcast", "all_to_all"}
        Collective (aliases such as ``"allreduce"`` accepted).
    nbytes : float or array [B]
        Message size as nccl-tests counts it (see the module docstring).
    n : int or array of int
        Number of ranks (>= 1); ``n = 1`` costs nothing.
    bandwidth_bytes_per_s : float or array [B/s]
        Per-rank, per-direction link bandwidth (``1 / beta``); multiply by an efficiency factor
        beforehand to model achieved rather than peak bandwidth.
    latency_s : float or array [s]
        Per-message latency ``alpha``.
    algorithm : {"ring", "tree", "recursive_doubling", "rabenseifner"}
        ``tree`` is the binomial (MST) tree of Chan et al.; ``recursive_doubling`` covers
        recursive halving (reduce-scatter) and Bruck's all-to-all; ``rabenseifner`` is
        reduce-scatter + all-gather (all-reduce) and scatter + all-gather (broadcast).

    Returns
    -------
    float or numpy.ndarray [s]
        Broadcast shape of the array arguments.

    Examples
    --------
    Ring all-reduce of 1 GB over 8 ranks at 100 GB/s and 10 us:
    2*7*10e-6 + 2*7/8 * 1e9/100e9 = 0.01764 s

    >>> round(collective_time("all_reduce", 1e9, 8, bandwidth_bytes_per_s=100e9,
    ...                       latency_s=10e-6), 6)
    0.01764
    """
    op = normalize_op(op)
    algorithm = _normalize_algorithm(algorithm)
    size = np.asarray(nbytes, dtype=float)
    p = np.asarray(n, dtype=float)
    bw = np.asarray(bandwidth_bytes_per_s, dtype=float)
    alpha = np.asarray(latency_s, dtype=float)
    if np.any(size < 0) or not np.all(np.isfinite(size)):
        raise ValueError("nbytes must be finite and >= 0")
    if np.any(p < 1) or np.any(p != np.floor(p)):
        raise ValueError(f"the number of ranks must be a whole number >= 1, got {n!r}")
    if np.any(bw <= 0) or not np.all(np.isfinite(bw)):
        raise ValueError("bandwidth_bytes_per_s must be positive and finite")
    if np.any(alpha < 0) or not np.all(np.isfinite(alpha)):
        raise ValueError("latency_s must be finite and >= 0")
    a, b = _coefficients(op, algorithm, p)
    t = a * alpha + b * size / bw
    t = np.where(p > 1, t, 0.0)
    return float(t) if np.ndim(t) == 0 else t
