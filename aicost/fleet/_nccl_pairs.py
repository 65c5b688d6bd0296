"""All-pairs NCCL bandwidth between the GPUs of one node, and slow pairs flagged.

As nccl-tests users do to find a bad NVLink/PCIe path: an all-reduce between every pair of
GPUs of the node (``aicost.network.nccl_collectives`` with ``devices=[i, j]``), the bus
bandwidth at the largest message, and the pairs well under the node's median. GPU-only at run
time; importable without CuPy (imported inside :func:`aicost.network.nccl_collectives`).
"""

from __future__ import annotations

import itertools

__all__ = ["DEFAULT_PAIR_BYTES", "flag_slow_pairs", "nccl_pairs"]

#: one large message per pair: busbw plateaus from ~64 MiB on NVLink (nccl-tests)
DEFAULT_PAIR_BYTES = 256 * 2**20


def nccl_pairs(devices=None, *, op: str = "all_reduce", nbytes: int = DEFAULT_PAIR_BYTES,
               warmup: int = 5, iters: int = 20, measure=None):
    """Bus bandwidth of ``op`` between every pair of this node's GPUs.

    Parameters
    ----------
    devices : sequence of int, optional
        CUDA device ids (default: every GPU CuPy sees; needs two or more).
    op : str
        Collective (``all_reduce``).
    nbytes : int [B]
        Message size (nccl-tests counting).
    warmup, iters : int
        Untimed and timed launches.
    measure : callable, optional
        Stand-in for :func:`aicost.network.nccl_collectives` (tests).

    Returns
    -------
    pandas.DataFrame
        ``gpu_a, gpu_b, op, nbytes, busbw_bytes_per_s, algbw_bytes_per_s, time_s, device``.
    """
    import pandas as pd

    from .. import network

    if measure is None:
        measure = network.nccl_collectives
    if devices is None:
        n, why = network.gpu_count()
        devices = list(range(n))
    devices = [int(d) for d in devices]
    if len(devices) < 2:
        from .._errors import BackendUnavailableError

        raise BackendUnavailableError(f"all-pairs NCCL needs two GPUs on the node, found "
                                      f"{len(devices)}")
    rows = []
    for a, b in itertools.combinations(devices, 2):
        df = measure([op], [int(nbytes)], devices=[a, b], warmup=warmup, iters=iters)
        last = df.iloc[-1]
        params = last.get("params") or {}
        rows.append({"gpu_a": a, "gpu_b": b, "op": op, "nbytes": float(last["size_bytes"]),
                     "busbw_bytes_per_s": float(last["value"]),
                     "algbw_bytes_per_s": params.get("algbw_bytes_per_s"),
                     "time_s": float(last["median_s"]), "device": last.get("device")})
    return pd.DataFrame(rows)


def flag_slow_pairs(pairs, *, min_slower_pct: float = 10.0):
    """Mark pairs whose bus bandwidth is ``min_slower_pct`` or more under the node's median.

    Returns the frame with ``median_busbw_bytes_per_s``, ``slower_pct`` (median / busbw - 1
    [%]) and ``slow`` (SQL in DuckDB, like the rest of the fleet analysis).
    """
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        con.register("pairs", pairs)
        return con.execute("""
            WITH m AS (SELECT median(busbw_bytes_per_s) AS med FROM pairs)
            SELECT pairs.*, m.med AS median_busbw_bytes_per_s,
                   100.0 * (m.med / busbw_bytes_per_s - 1) AS slower_pct,
                   100.0 * (m.med / busbw_bytes_per_s - 1) >= $p AS slow
            FROM pairs, m ORDER BY slower_pct DESC, gpu_a, gpu_b""",
                           {"p": float(min_slower_pct)}).df()
    finally:
        con.close()
