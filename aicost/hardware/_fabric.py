"""Fabrics: the numbers a cluster's interconnect gets, and collectives over catalog fabrics.

One home for

* the per-message latencies and bandwidths used when the catalog's fabric or instance row has
  none (``DEFAULT_SCALE_UP_LATENCY_S``, ``DEFAULT_SCALE_OUT_LATENCY_S``,
  ``DEFAULT_SCALE_OUT_BW_BYTES_PER_S``, ``PCIE4_BW_BYTES_PER_S``): ``resolve_hardware`` (and so
  ``estimate_training``) and the planner's offers table both read them here;
* collective times over catalog fabrics (:func:`fabric_collective_time`,
  :func:`hierarchical_collective_time`), built on ``aicost.network.collective_time`` (the
  alpha-beta models) with the efficiency factors of ``aicost.calibrate``.

The hierarchical all-reduce (as NCCL and Horovod run it across nodes) is

1. reduce-scatter inside each node over the scale-up fabric (``g`` GPUs, the full buffer),
2. all-reduce between nodes over the scale-out fabric on ``1/g`` of the buffer, the ``g``
   GPUs of a node each driving their own share of the node's network (rail-optimized),
3. all-gather inside each node.

All-gather, reduce-scatter and broadcast use the matching halves; all-to-all sends the
intra-node part over the scale-up fabric and the rest over the scale-out fabric. Each step is a
:func:`aicost.network.collective_time` with the fabric's per-GPU, per-direction bandwidth times
an efficiency factor (achieved busbw / link bandwidth).
"""

from __future__ import annotations

import numpy as np

from ..calibrate import DEFAULT_COLLECTIVE_EFFICIENCY, collective_efficiency
from ..network import collective_time, normalize_op

__all__ = [
    "DEFAULT_SCALE_OUT_BW_BYTES_PER_S",
    "DEFAULT_SCALE_OUT_LATENCY_S",
    "DEFAULT_SCALE_UP_LATENCY_S",
    "PCIE4_BW_BYTES_PER_S",
    "fabric_collective_time",
    "hierarchical_collective_time",
]

#: small-message latency when a fabric row gives none [s]: an NVLink/NVSwitch hop (~3 us; NVIDIA
#: nccl-tests report 5-10 us per small all-reduce step) and InfiniBand/RoCE/EFA (~5 us + software)
DEFAULT_SCALE_UP_LATENCY_S = 5e-6
DEFAULT_SCALE_OUT_LATENCY_S = 10e-6
#: scale-out bandwidth per node when the catalog row has no network figure [B/s]: 100 Gbps Ethernet
DEFAULT_SCALE_OUT_BW_BYTES_PER_S = 100e9 / 8
#: GPU-to-GPU bandwidth inside a node without a scale-up fabric [B/s]: PCIe 4.0 x16 carries
#: ~25 GB/s one way in practice (32 GB/s raw; PCI-SIG spec, NCCL tests on PCIe systems)
PCIE4_BW_BYTES_PER_S = 25e9


def _fabric(fabric, catalog):
    if isinstance(fabric, str):
        if catalog is None:
            from .. import catalog as _catalog

            catalog = _catalog.load()
        return catalog.fabric(fabric)
    return fabric


def _per_gpu(fabric, gpus_per_node):
    bw = float(fabric.bandwidth_bytes_per_s)
    if getattr(fabric, "basis", "per_gpu") == "per_node":
        bw = bw / np.asarray(gpus_per_node, dtype=float)
    lat = getattr(fabric, "latency_s", None)
    return bw, float(lat) if lat is not None and lat == lat else 0.0


def _eff_pair(efficiency, fabrics=(), store=None):
    if isinstance(efficiency, str):
        if efficiency != "calibrated":
            raise ValueError(f"efficiency must be a number, a pair or 'calibrated', got {efficiency!r}")
        vals = [float(collective_efficiency(getattr(f, "name", f), store=store).value) for f in fabrics]
        return (vals[0], vals[-1]) if vals else _eff_pair(None)
    if efficiency is None:
        return DEFAULT_COLLECTIVE_EFFICIENCY, DEFAULT_COLLECTIVE_EFFICIENCY
    if isinstance(efficiency, tuple):
        up, out = efficiency
    else:
        up = out = efficiency
    for e in (up, out):
        if not 0 < float(e) <= 1.5:
            raise ValueError(f"efficiency must be in (0, 1.5], got {e!r}")
    return float(up), float(out)


def fabric_collective_time(op: str, nbytes, n, fabric, *, gpus_per_node=8, efficiency=None,
                           algorithm: str = "ring", catalog=None, store=None):
    """:func:`collective_time` on one catalog fabric (bandwidth per GPU x efficiency) [s].

    Parameters
    ----------
    op : str
    nbytes : float or array [B]
    n : int or array
        Ranks.
    fabric : Fabric or str
        Catalog record or name (``nvlink4``, ``ib-ndr``, ``efa``, ...).
    gpus_per_node : int
        Shares a ``per_node`` fabric's bandwidth among a node's GPUs.
    efficiency : float or "calibrated", optional
        Achieved / link bandwidth (default :data:`DEFAULT_COLLECTIVE_EFFICIENCY`);
        ``"calibrated"`` takes it from measured busbw in the results store
        (:func:`aicost.calibrate.collective_efficiency`).
    algorithm : str
    store : aicost.store.Store, optional
        For ``efficiency="calibrated"``.
    """
    fab = _fabric(fabric, catalog)
    bw, lat = _per_gpu(fab, gpus_per_node)
    eff, _ = _eff_pair(efficiency, (fab,), store)
    return collective_time(op, nbytes, n, bandwidth_bytes_per_s=bw * eff, latency_s=lat,
                           algorithm=algorithm)


def hierarchical_collective_time(
    op: str,
    nbytes,
    gpus_per_node,
    nodes,
    *,
    scale_up="nvlink4",
    scale_out="ib-ndr",
    catalog=None,
    efficiency=None,
    algorithm: str = "ring",
    store=None,
):
    """Time of a collective over ``nodes`` nodes of ``gpus_per_node`` GPUs each [s].

    Parameters
    ----------
    op : {"all_reduce", "all_gather", "reduce_scatter", "broadcast", "all_to_all"}
    nbytes : float or array [B]
        Message size as nccl-tests counts it for ``gpus_per_node * nodes`` ranks.
    gpus_per_node : int or array
    nodes : int or array
    scale_up, scale_out : Fabric or str
        Catalog fabrics (records or names) inside and between nodes.
    catalog : aicost.catalog.Catalog, optional
        Where names are looked up (default ``aicost.catalog.load()``).
    efficiency : float, (float, float) or "calibrated", optional
        Achieved busbw / link bandwidth, one value or ``(scale_up, scale_out)``; default
        :data:`DEFAULT_COLLECTIVE_EFFICIENCY` for both; ``"calibrated"``: each fabric's factor
        from measured busbw in the results store (``aicost.calibrate.collective_efficiency``), the
        default where nothing is measured.
    algorithm : str
        Algorithm of each step (``ring`` by default, as NCCL uses for large messages).
    store : aicost.store.Store, optional
        For ``efficiency="calibrated"`` (default: the user's store).

    Returns
    -------
    float or numpy.ndarray [s]
        Vectorized over ``nbytes``, ``gpus_per_node`` and ``nodes``.

    Examples
    --------
    With one node it is the plain scale-up collective; with one GPU per node, the plain
    scale-out one.
    """
    op = normalize_op(op)
    if catalog is None and (isinstance(scale_up, str) or isinstance(scale_out, str)):
        from .. import catalog as _catalog

        catalog = _catalog.load()
    up, out = _fabric(scale_up, catalog), _fabric(scale_out, catalog)
    g = np.asarray(gpus_per_node, dtype=float)
    m = np.asarray(nodes, dtype=float)
    if np.any(g < 1) or np.any(m < 1) or np.any(g != np.floor(g)) or np.any(m != np.floor(m)):
        raise ValueError("gpus_per_node and nodes must be whole numbers >= 1")
    n = np.asarray(nbytes, dtype=float)
    eff_up, eff_out = _eff_pair(efficiency, (up, out), store)
    bw_up, lat_up = _per_gpu(up, g)
    bw_out, lat_out = _per_gpu(out, g)
    bw_up, bw_out = bw_up * eff_up, bw_out * eff_out

    def t_up(o, size, p):
        return collective_time(o, size, p, bandwidth_bytes_per_s=bw_up, latency_s=lat_up,
                               algorithm=algorithm)

    def t_out(o, size, p):
        return collective_time(o, size, p, bandwidth_bytes_per_s=bw_out, latency_s=lat_out,
                               algorithm=algorithm)

    if op == "all_reduce":
        t = t_up("reduce_scatter", n, g) + t_out("all_reduce", n / g, m) + t_up("all_gather", n, g)
    elif op == "reduce_scatter":
        t = t_up("reduce_scatter", n, g) + t_out("reduce_scatter", n / g, m)
    elif op == "all_gather":
        t = t_out("all_gather", n / g, m) + t_up("all_gather", n, g)
    elif op == "broadcast":
        t = t_out("broadcast", n, m) + t_up("broadcast", n, g)
    else:  # all_to_all: each rank sends n/(g m) to every other rank
        p = g * m
        intra = (g - 1) * lat_up + n * (g - 1) / p / bw_up
        inter = np.where(m > 1, (p - g) * lat_out + n * (p - g) / p / bw_out, 0.0)
        t = intra + inter
    t = np.asarray(t, dtype=float)
    return float(t) if np.ndim(t) == 0 else t
