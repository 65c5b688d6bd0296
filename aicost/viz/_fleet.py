"""Plotly figures of a fleet benchmark: a nodes x GPUs heatmap per metric, box plots per SKU,
and a table of the slow units (from :func:`aicost.fleet.analyze`)."""

from __future__ import annotations

__all__ = ["fleet_box_figure", "fleet_heatmap_figure", "fleet_slow_table_figure"]

TEMPLATE = "plotly_white"


def _records(records):
    import pandas as pd

    if hasattr(records, "records") and not isinstance(records, pd.DataFrame):
        records = records.records
    if len(records) == 0:
        raise ValueError("no fleet records to draw (did every unit fail?)")
    return records


def _pick_metric(recs, metric):
    metrics = list(dict.fromkeys(recs["metric"]))
    if metric is None:
        for prefix in ("gemm bf16", "gemm fp32", "triad", "copy"):
            hit = [m for m in metrics if m.startswith(prefix)]
            if hit:
                return hit[0]
        return metrics[0]
    if metric not in metrics:
        import difflib

        hint = difflib.get_close_matches(str(metric), metrics, n=1, cutoff=0.3)
        raise ValueError(f"no metric {metric!r} in these records"
                         + (f"; did you mean {hint[0]!r}?" if hint else
                            f" (metrics: {', '.join(metrics[:6])} ...)"))
    return metric


def _scale(unit: str):
    return {"FLOP/s": (1e12, "TFLOP/s"), "OP/s": (1e12, "TOP/s"), "B/s": (1e9, "GB/s"),
            "s": (1e-6, "us"), "B": (2**30, "GiB")}.get(str(unit), (1.0, str(unit)))


def fleet_heatmap_figure(records, metric: str | None = None, *, relative: bool = True,
                         max_nodes: int = 64):
    """Nodes (rows) x GPUs (columns), coloured by one metric.

    Parameters
    ----------
    records : DataFrame or FleetRun
        Fleet records (:data:`aicost.fleet.RECORD_COLUMNS`).
    metric : str, optional
        Default: the bf16 (else fp32) GEMM, else the STREAM triad.
    relative : bool
        Colour by percent of the SKU's median (100 = median; red is slower), else the value.
    max_nodes : int
        Show the slowest ``max_nodes`` nodes (by their worst unit) when there are more.
    """
    import numpy as np
    import plotly.graph_objects as go

    recs = _records(records)
    metric = _pick_metric(recs, metric)
    d = recs[recs["metric"] == metric].copy()
    unit = str(d["unit"].iloc[0])
    d["value"] = d["value"].astype(float)
    med = d.groupby("sku")["value"].transform("median")
    higher = unit != "s"
    d["pct"] = 100 * (d["value"] / med if higher else med / d["value"])
    d["col"] = d["gpu_index"].apply(lambda g: "cpu" if g is None or g != g else f"gpu{int(g)}")
    worst = d.groupby("host")["pct"].min().sort_values()
    hosts = list(worst.index[:max_nodes])
    hosts = sorted(hosts)
    d = d[d["host"].isin(hosts)]
    cols = sorted(d["col"].unique(), key=lambda c: (len(c), c))
    scale, label = _scale(unit)
    z = d.pivot_table(index="host", columns="col", values="pct" if relative else "value",
                      aggfunc="first").reindex(index=hosts, columns=cols)
    raw = d.pivot_table(index="host", columns="col", values="value",
                        aggfunc="first").reindex(index=hosts, columns=cols) / scale
    zz = z.to_numpy(dtype=float) if relative else z.to_numpy(dtype=float) / scale
    fig = go.Figure(go.Heatmap(
        z=zz, x=cols, y=hosts, customdata=raw.to_numpy(dtype=float),
        colorscale="RdYlGn" if (relative or higher) else "RdYlGn_r",
        zmid=100 if relative else None,
        colorbar={"title": "% of SKU median" if relative else label},
        hovertemplate=("%{y} %{x}: %{customdata:,.4g} " + label
                       + (" (%{z:.1f}% of median)" if relative else "") + "<extra></extra>")))
    more = f" (slowest {max_nodes} of {worst.size} nodes)" if worst.size > max_nodes else ""
    fig.update_layout(template=TEMPLATE, height=max(300, 24 * len(hosts) + 160),
                      title=f"{metric}: every unit{' relative to its SKU median' if relative else ''}"
                            + more,
                      xaxis_title="GPU (or CPU worker)", yaxis_title="node")
    fig.update_yaxes(autorange="reversed", type="category")
    if np.isnan(zz).all():
        raise ValueError(f"metric {metric!r} has no values to draw")
    return fig


def fleet_box_figure(records, metrics=None, *, analysis=None):
    """Box plots per SKU of each metric relative to that SKU's median; slow units marked.

    Parameters
    ----------
    records : DataFrame or FleetRun
    metrics : list of str, optional
        Default: up to 6 GEMM and STREAM metrics.
    analysis : FleetAnalysis, optional
        Its slow units are drawn as red crosses (default: :func:`aicost.fleet.analyze`).
    """
    import plotly.graph_objects as go

    recs = _records(records)
    all_metrics = list(dict.fromkeys(recs["metric"]))
    if metrics is None:
        rank = {"gemm bf16": 0, "gemm fp16": 1, "gemm tf32": 2, "gemm fp32": 3, "triad": 4,
                "copy": 5, "dot": 6, "gemm fp64": 7}
        picked = [(min(v for k, v in rank.items() if m.startswith(k)), i, m)
                  for i, m in enumerate(all_metrics) if any(m.startswith(k) for k in rank)]
        metrics = [m for _, _, m in sorted(picked)][:6] or all_metrics[:6]
    d = recs[recs["metric"].isin(metrics)].copy()
    d["value"] = d["value"].astype(float)
    med = d.groupby(["sku", "metric"])["value"].transform("median")
    rate = d["unit"].astype(str) != "s"
    d["pct"] = 100 * d["value"].where(rate, med) / med.where(rate, d["value"])
    if analysis is None:
        from ..fleet import analyze

        analysis = analyze(d)
    slow = analysis.scores[analysis.scores["slow"]][["unit_id", "metric"]]
    d = d.merge(slow.assign(_slow=True), on=["unit_id", "metric"], how="left")
    d["_slow"] = d["_slow"].fillna(False).astype(bool)
    fig = go.Figure()
    for sku in sorted(d["sku"].astype(str).unique()):
        s = d[d["sku"].astype(str) == sku]
        fig.add_trace(go.Box(x=s["metric"], y=s["pct"], name=sku, boxpoints="outliers",
                             text=s["unit_id"], hovertemplate="%{text}: %{y:.1f}%<extra></extra>"))
        sl = s[s["_slow"]]
        if len(sl):
            fig.add_trace(go.Scatter(x=sl["metric"], y=sl["pct"], mode="markers",
                                     name=f"{sku}: slow units",
                                     marker={"symbol": "x", "size": 10, "color": "#d62728"},
                                     text=sl["unit_id"],
                                     hovertemplate="%{text}: %{y:.1f}% (slow)<extra></extra>"))
    fig.add_hline(y=100, line_dash="dot", line_color="gray")
    fig.update_xaxes(categoryorder="array", categoryarray=list(metrics))
    fig.update_layout(template=TEMPLATE, height=460, boxmode="group",
                      title="Spread within each SKU (100 = the SKU's median; lower is slower)",
                      xaxis_title="metric", yaxis_title="% of SKU median (speed)")
    return fig


def fleet_slow_table_figure(analysis, max_rows: int = 25):
    """A table of the slow units (stragglers), slowest first: how many metrics are slow, the
    worst one and how much slower it is than the SKU's median, and the largest score."""
    import plotly.graph_objects as go

    st = analysis.stragglers.head(max_rows)
    scores = analysis.scores
    if len(st) == 0:
        cells = [["no slow units"], [""], [""], [""], [""], [""]]
    else:
        n_metrics = scores.groupby("unit_id")["metric"].nunique()
        cells = [st["unit_id"], st["sku"],
                 [f"{n} of {n_metrics.get(u, n)}" for u, n in zip(st["unit_id"], st["n_slow"])],
                 st["worst_metric"], [f"{v:.1f}%" for v in st["worst_slower_pct"]],
                 [f"{v:.1f}" for v in st["max_score"]]]
    fig = go.Figure(go.Table(
        header={"values": ["unit", "SKU", "slow metrics", "worst metric", "slower by",
                           "max score"], "fill_color": "#eeeeee", "align": "left"},
        cells={"values": cells, "align": "left", "height": 26},
        columnwidth=[2.6, 2, 1.3, 3.6, 1.2, 1.1]))
    more = (f" ({len(analysis.stragglers)} in all, {max_rows} shown)"
            if len(analysis.stragglers) > max_rows else "")
    fig.update_layout(template=TEMPLATE, height=150 + 27 * max(1, len(st)),
                      margin={"t": 60, "b": 10},
                      title=(f"Slow units{more}: score > {analysis.threshold:g} (robust z, "
                             f"median/MAD) and >= {analysis.min_slower_pct:g}% slower"))
    return fig
