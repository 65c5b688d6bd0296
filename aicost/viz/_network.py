"""Plotly figures of collectives: modelled time (or bus bandwidth) against message size per
fabric, with measured NCCL results on top when given."""

from __future__ import annotations

import numpy as np

__all__ = ["collective_time_figure", "tcp_throughput_figure"]

TEMPLATE = "plotly_white"
#: default message sizes: 1 KiB to 8 GiB [B]
DEFAULT_SIZES = 2.0 ** np.arange(10, 34)


def collective_time_figure(
    fabrics=("nvlink4", "ib-ndr", "efa"),
    *,
    op: str = "all_reduce",
    n_ranks: int = 8,
    sizes=None,
    algorithm: str = "ring",
    gpus_per_node: int = 8,
    efficiency=None,
    y: str = "time",
    measured=None,
    catalog=None,
):
    """Collective time (or bus bandwidth) against message size, one line per fabric.

    Parameters
    ----------
    fabrics : iterable of str or Fabric
        Catalog fabrics; each line runs the whole collective over that fabric.
    op : str
        Collective (``all_reduce``, ``all_gather``, ...).
    n_ranks : int
        Ranks taking part.
    sizes : array [B], optional
        Message sizes (nccl-tests' counting); default 1 KiB to 8 GiB.
    algorithm : str
        Alpha-beta algorithm (``ring``, ``tree``, ``recursive_doubling``, ``rabenseifner``).
    gpus_per_node : int
        Shares per-node fabrics' bandwidth.
    efficiency : float, optional
        Achieved / link bandwidth (default: the documented default factor).
    y : {"time", "busbw"}
        Plot time [s] or bus bandwidth [GB/s].
    measured : pandas.DataFrame, optional
        Rows of :func:`aicost.network.nccl_collectives` (``name``, ``size_bytes``,
        ``median_s``, ``value``) drawn as markers.
    catalog : Catalog, optional

    Returns
    -------
    plotly.graph_objects.Figure
    """
    import plotly.graph_objects as go

    from ..hardware import fabric_collective_time
    from ..network import busbw_factor, normalize_op

    if y not in ("time", "busbw"):
        raise ValueError("y must be 'time' or 'busbw'")
    op = normalize_op(op)
    if catalog is None and any(isinstance(f, str) for f in fabrics):
        from ..catalog import load

        catalog = load()
    sizes = DEFAULT_SIZES if sizes is None else np.asarray(sizes, dtype=float)
    fig = go.Figure()
    for fab in fabrics:
        rec = catalog.fabric(fab) if isinstance(fab, str) else fab
        t = fabric_collective_time(op, sizes, n_ranks, rec, gpus_per_node=gpus_per_node,
                                   efficiency=efficiency, algorithm=algorithm)
        vals = t if y == "time" else sizes / t * busbw_factor(op, n_ranks) / 1e9
        fig.add_trace(go.Scatter(
            x=sizes, y=vals, mode="lines", name=f"{rec.name} (model)",
            hovertemplate="%{x:.3s}B: %{y:.3s}" + (" s" if y == "time" else " GB/s")
            + f"<extra>{rec.name}</extra>"))
    if measured is not None and len(measured):
        m = measured[measured["name"] == op]
        if len(m):
            vals = m["median_s"] if y == "time" else m["value"] / 1e9
            fig.add_trace(go.Scatter(x=m["size_bytes"], y=vals, mode="markers",
                                     name="measured (NCCL)", marker={"size": 8}))
    title = op.replace("_", "-") + f" over {n_ranks} ranks ({algorithm}, alpha-beta model)"
    fig.update_layout(
        template=TEMPLATE, title=title, xaxis_title="message size [B]",
        yaxis_title="time [s]" if y == "time" else "bus bandwidth [GB/s]",
        legend_title="fabric", height=420)
    fig.update_xaxes(type="log")
    fig.update_yaxes(type="log" if y == "time" else "linear")
    return fig


def tcp_throughput_figure(results, reference_gbit_s=None):
    """Measured TCP throughput (bars, Gbit/s), optionally next to reference values.

    Parameters
    ----------
    results : iterable of NetworkResult
    reference_gbit_s : dict of str -> float, optional
        Other numbers to draw, e.g. ``{"iperf3": 25.1, "EFA per GPU": 400}``.
    """
    import plotly.graph_objects as go

    labels, vals = [], []
    for r in results:
        labels.append(f"aicost {r.host} x{r.streams}")
        vals.append(r.bits_per_s / 1e9)
    for k, v in (reference_gbit_s or {}).items():
        labels.append(k)
        vals.append(float(v))
    fig = go.Figure(go.Bar(x=vals, y=labels, orientation="h",
                           hovertemplate="%{y}: %{x:.2f} Gbit/s<extra></extra>"))
    fig.update_layout(template=TEMPLATE, title="TCP throughput", xaxis_title="Gbit/s",
                      height=200 + 30 * len(labels))
    return fig
