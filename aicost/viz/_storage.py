"""Plotly figures of storage: checkpoint time across tiers, accelerator utilization against the
number of GPUs, and measured throughput next to the catalog's tiers."""

from __future__ import annotations

import numpy as np

__all__ = ["accelerator_utilization_figure", "checkpoint_time_figure", "measured_vs_tiers_figure"]

TEMPLATE = "plotly_white"


def _catalog(catalog):
    if catalog is None:
        from ..catalog import load

        return load()
    return catalog


def _tier_names(cat, tiers):
    if tiers is None:
        return list(cat.storage_tiers["name"])
    return [t if isinstance(t, str) else t.name for t in tiers]


def checkpoint_time_figure(tiers=None, *, checkpoint_bytes=None, n_writers: int = 64,
                           writers_per_node: int = 8, catalog=None):
    """Checkpoint write time against checkpoint size, one line per storage tier.

    Parameters
    ----------
    tiers : iterable of str, optional
        Catalog tier names (default: all).
    checkpoint_bytes : array [B], optional
        Sizes (default 10 GB to 10 TB).
    n_writers : int
        Writers in parallel (e.g. one per GPU).
    writers_per_node : int
    catalog : Catalog, optional
    """
    import plotly.graph_objects as go

    from ..storage import checkpoint_time

    cat = _catalog(catalog)
    sizes = np.logspace(10, 13, 31) if checkpoint_bytes is None else np.asarray(checkpoint_bytes, float)
    fig = go.Figure()
    for name in _tier_names(cat, tiers):
        tier = cat.storage_tier(name)
        t = checkpoint_time(sizes, tier, n_writers=n_writers, writers_per_node=writers_per_node)
        fig.add_trace(go.Scatter(x=sizes / 1e9, y=t, mode="lines", name=name,
                                 hovertemplate="%{x:,.0f} GB: %{y:,.1f} s<extra>" + name + "</extra>"))
    fig.update_layout(
        template=TEMPLATE, height=440, legend_title="storage tier",
        title=f"Checkpoint write time, {n_writers} writers ({writers_per_node} per node)",
        xaxis_title="checkpoint size [GB]", yaxis_title="write time [s]")
    fig.update_xaxes(type="log")
    fig.update_yaxes(type="log")
    return fig


def accelerator_utilization_figure(tiers=None, *, sample_bytes: float, step_time_s: float,
                                   samples_per_step: float, dataset_bytes: float,
                                   gpus=None, gpus_per_node: int = 8, threshold: float = 0.9,
                                   reads_per_sample: float = 1.0, catalog=None):
    """MLPerf Storage accelerator utilization against the number of GPUs, one line per tier.

    Parameters are those of :func:`aicost.storage.data_loading`; ``gpus`` is the x axis
    (default 8 to 1024). A dashed line marks the pass threshold.
    """
    import plotly.graph_objects as go

    from ..storage import data_loading

    cat = _catalog(catalog)
    gpus = np.array([8, 16, 32, 64, 128, 256, 512, 1024]) if gpus is None else np.asarray(gpus)
    fig = go.Figure()
    for name in _tier_names(cat, tiers):
        tier = cat.storage_tier(name)
        au = [data_loading(tier, dataset_bytes=dataset_bytes, sample_bytes=sample_bytes,
                           n_gpus=int(n), step_time_s=step_time_s,
                           samples_per_step=samples_per_step, gpus_per_node=gpus_per_node,
                           reads_per_sample=reads_per_sample,
                           au_threshold=threshold).au_first_epoch for n in gpus]
        fig.add_trace(go.Scatter(x=gpus, y=np.asarray(au) * 100, mode="lines+markers", name=name,
                                 hovertemplate="%{x} GPUs: AU %{y:.1f}%<extra>" + name + "</extra>"))
    fig.add_hline(y=threshold * 100, line_dash="dash", annotation_text=f"{threshold:.0%} target")
    fig.update_layout(template=TEMPLATE, height=440, legend_title="storage tier",
                      title="Can the tier feed the GPUs? Accelerator utilization (MLPerf Storage)",
                      xaxis_title="GPUs", yaxis_title="AU [%]", yaxis_range=[0, 105])
    fig.update_xaxes(type="log")
    return fig


def measured_vs_tiers_figure(results, tiers=None, *, capacity_tib: float = 10.0, catalog=None):
    """Measured throughput (this machine) next to the catalog tiers' throughput [GB/s].

    Parameters
    ----------
    results : iterable of StorageResult
    tiers : iterable of str, optional
        Catalog tier names (default: all). ``per_tib`` tiers are drawn at ``capacity_tib``;
        ``per_node`` tiers for one client node.
    """
    import plotly.graph_objects as go

    from ..storage import tier_throughput

    cat = _catalog(catalog)
    labels, vals, colors = [], [], []
    for name in _tier_names(cat, tiers):
        tier = cat.storage_tier(name)
        labels.append(f"{name} ({tier.throughput_basis})")
        vals.append(tier_throughput(tier, capacity_bytes=capacity_tib * 2**40) / 1e9)
        colors.append("#9aa5b1")
    for r in results:
        io = "direct" if r.direct else "buffered"
        labels.append(f"this machine: {r.pattern} {r.block_size_bytes // 1024} KiB ({io})")
        vals.append(r.bytes_per_s / 1e9)
        colors.append("#d62728")
    order = np.argsort(vals)
    fig = go.Figure(go.Bar(
        x=[vals[i] for i in order], y=[labels[i] for i in order], orientation="h",
        marker_color=[colors[i] for i in order],
        hovertemplate="%{y}: %{x:.3f} GB/s<extra></extra>"))
    fig.update_layout(template=TEMPLATE, height=260 + 24 * len(labels),
                      title=f"Measured throughput against catalog tiers (per-TiB tiers at {capacity_tib:g} TiB)",
                      xaxis_title="GB/s")
    fig.update_xaxes(type="log")
    return fig
