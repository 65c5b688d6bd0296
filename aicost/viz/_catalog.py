"""Plotly figures of the catalog: prices per GPU-hour and per unit of work, spot against
on-demand, accelerator specs, storage tiers and fabrics.

Every function takes an optional ``catalog`` (default ``aicost.catalog.load()``) and returns a
``plotly.graph_objects.Figure``; plotly is imported inside the functions.
"""

from __future__ import annotations

import math

from ._colors import accelerator_color, log_ticks, usd_tick

__all__ = [
    "accelerator_specs_figure",
    "best_offer_figure",
    "fabrics_figure",
    "price_per_gpu_hour_figure",
    "spot_vs_on_demand_figure",
    "storage_tiers_figure",
]

#: the figures' look, shared so notebooks and reports match
TEMPLATE = "plotly_white"

#: readable labels of the per-work metrics
_METRICS = {
    "price_usd_per_gpu_hour": "USD per GPU-hour (on demand)",
    "price_spot_usd_per_gpu_hour": "USD per GPU-hour (spot)",
    "price_reserved_1y_usd_per_gpu_hour": "USD per GPU-hour (1-year reserved)",
    "usd_per_bf16_pflop_hour": "USD per bf16 PFLOP/s-hour at peak (on demand)",
    "usd_per_bf16_pflop_hour_spot": "USD per bf16 PFLOP/s-hour at peak (spot)",
    "usd_per_tb_s_hour": "USD per TB/s of memory bandwidth per hour (on demand)",
    "usd_per_tb_s_hour_spot": "USD per TB/s of memory bandwidth per hour (spot)",
}

#: capacity at which per-TiB storage tiers are drawn [TiB]
STORAGE_FIGURE_CAPACITY_TIB = 10


def _catalog(catalog):
    if catalog is None:
        from ..catalog import load

        return load()
    return catalog


def _instances(cat, providers=None, accelerators=None):
    """The instance table, optionally only some providers and accelerators (any alias)."""
    df = cat.instances
    if providers is not None:
        if isinstance(providers, str):
            providers = [providers]
        known = {p.lower(): p for p in cat.providers}
        wanted = set()
        for p in providers:
            if str(p).lower() not in known:
                from .._errors import UnknownNameError

                raise UnknownNameError("provider", str(p), cat.providers)
            wanted.add(str(p).lower())
        df = df[df["provider"].str.lower().isin(wanted)]
    if accelerators is not None:
        if isinstance(accelerators, str):
            accelerators = [accelerators]
        names = {cat.accelerator(a).name for a in accelerators}
        df = df[df["accelerator"].isin(names)]
    return df


_LABEL_POSITIONS = ("top center", "bottom center", "middle right", "middle left", "top right",
                    "bottom left")


def _label_positions(xs, ys, x_resolution: float = 0.35, y_resolution: float = 0.12) -> list[str]:
    """Text positions for labelled markers on log axes: markers that nearly coincide (within
    ``x_resolution`` / ``y_resolution`` decades; labels are wide) get different positions, so
    labels do not overprint."""
    placed: list[tuple[float, float]] = []
    out = []
    for x, y in zip(xs, ys):
        lx, ly = math.log10(max(float(x), 1e-12)), math.log10(max(float(y), 1e-12))
        near = sum(1 for px, py in placed
                   if abs(px - lx) < x_resolution and abs(py - ly) < y_resolution)
        out.append(_LABEL_POSITIONS[near % len(_LABEL_POSITIONS)])
        placed.append((lx, ly))
    return out


def _order_by_best(df, col):
    return list(df.groupby("accelerator")[col].min().sort_values().index)


def price_per_gpu_hour_figure(catalog=None, metric: str = "price_usd_per_gpu_hour",
                              accelerators=None, log_y: bool = True, providers=None):
    """Every offer's price per GPU-hour (or another per-GPU metric), by accelerator and provider.

    Parameters
    ----------
    catalog : Catalog, optional
    metric : str
        An instance column: ``price_usd_per_gpu_hour`` (on demand, default),
        ``price_spot_usd_per_gpu_hour``, ``usd_per_bf16_pflop_hour``, ``usd_per_tb_s_hour``, ...
    accelerators : list of str, optional
        Only these accelerators (any alias).
    log_y : bool
        Logarithmic y axis (prices span two orders of magnitude).
    providers : list of str, optional
        Only these providers.

    Returns
    -------
    plotly.graph_objects.Figure
        One marker per offer, accelerators ordered by their cheapest offer.
    """
    import plotly.graph_objects as go

    cat = _catalog(catalog)
    if metric not in cat.instances.columns:
        raise ValueError(f"unknown instance column {metric!r}; use one of {', '.join(_METRICS)}")
    df = _instances(cat, providers, accelerators)
    df = df[df[metric].notna()]
    order = _order_by_best(df, metric)
    fig = go.Figure()
    for provider, part in df.groupby("provider", sort=True):
        fig.add_trace(go.Scatter(
            x=part["accelerator"], y=part[metric], mode="markers", name=provider,
            marker={"size": 10, "opacity": 0.8, "line": {"width": 0.5, "color": "white"}},
            customdata=list(zip(part["instance_type"], part["region"], part["accelerator_count"])),
            hovertemplate=("%{x} on " + provider + " %{customdata[0]} (%{customdata[2]} GPUs, "
                           "%{customdata[1]})<br>%{y:$.3f}<extra></extra>"),
        ))
    fig.update_layout(
        template=TEMPLATE, title=_METRICS.get(metric, metric) + ", every offer",
        xaxis={"title": "accelerator (cheapest first)", "categoryorder": "array",
               "categoryarray": order},
        yaxis={"title": _METRICS.get(metric, metric), "type": "log" if log_y else "linear"},
        legend_title="provider", height=480,
    )
    if log_y:  # 1-2-5 ticks labelled in full ("$0.5", "$2"): plotly's minor log labels are bare digits
        usd = "usd" in metric
        fig.update_yaxes(**log_ticks(df[metric], usd_tick if usd else None))
    return fig


def best_offer_figure(catalog=None, metric: str = "usd_per_bf16_pflop_hour", providers=None,
                      accelerators=None):
    """The cheapest offer per accelerator for ``metric``, as horizontal bars labelled with the offer.

    Parameters
    ----------
    catalog : Catalog, optional
    metric : str
        ``usd_per_bf16_pflop_hour`` (default), ``usd_per_tb_s_hour``, ``price_usd_per_gpu_hour``
        or their ``_spot`` variants.
    providers, accelerators : list of str, optional
        Only offers of these providers / accelerators.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    import plotly.graph_objects as go

    cat = _catalog(catalog)
    if metric not in cat.instances.columns:
        raise ValueError(f"unknown instance column {metric!r}; use one of {', '.join(_METRICS)}")
    df = _instances(cat, providers, accelerators)
    df = df[df[metric].notna()]
    best = df.loc[df.groupby("accelerator")[metric].idxmin()]
    best = best.sort_values(metric, ascending=False)
    labels = [f"{p} {t}" for p, t in zip(best["provider"], best["instance_type"])]
    fig = go.Figure(go.Bar(
        x=best[metric], y=best["accelerator"], orientation="h", text=labels,
        textposition="auto", textfont={"size": 12},
        # explicit colours: a numeric colour array with bar text made plotly.js log "Invalid
        # color specifier" once per bar and redraw; the colour is the accelerator's, as elsewhere
        marker={"color": [accelerator_color(a) for a in best["accelerator"]]},
        hovertemplate="%{y}: %{x:$.3f} (%{text})<extra></extra>",
    ))
    fig.update_layout(template=TEMPLATE, title=f"Best offer per accelerator: {_METRICS.get(metric, metric)}",
                      xaxis_title=_METRICS.get(metric, metric), yaxis_title="",
                      height=max(320, 26 * len(best) + 120), showlegend=False)
    return fig


def spot_vs_on_demand_figure(catalog=None, providers=None, accelerators=None):
    """On-demand against spot price per GPU-hour for every offer that has both.

    Points far below the diagonal are deep spot discounts; the dotted lines mark 50% and 75% off.
    ``providers`` / ``accelerators`` keep only those offers.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    import plotly.graph_objects as go

    cat = _catalog(catalog)
    df = _instances(cat, providers, accelerators)
    df = df[df["price_spot_usd_per_gpu_hour"].notna()]
    fig = go.Figure()
    for provider, part in df.groupby("provider", sort=True):
        fig.add_trace(go.Scatter(
            x=part["price_usd_per_gpu_hour"], y=part["price_spot_usd_per_gpu_hour"],
            mode="markers", name=provider, marker={"size": 10, "opacity": 0.85},
            text=[f"{a} {t} ({r})" for a, t, r in zip(part["accelerator"], part["instance_type"],
                                                       part["region"])],
            customdata=part["spot_discount"] * 100,
            hovertemplate=("%{text}<br>on demand %{x:$.2f}, spot %{y:$.2f} per GPU-hour"
                           "<br>%{customdata:.0f}% off<extra></extra>"),
        ))
    hi = float(df["price_usd_per_gpu_hour"].max()) * 1.05 if len(df) else 1.0
    for frac, dash in ((1.0, "solid"), (0.5, "dot"), (0.25, "dot")):
        fig.add_trace(go.Scatter(x=[0, hi], y=[0, hi * frac], mode="lines", showlegend=False,
                                 line={"color": "grey", "width": 1, "dash": dash},
                                 hoverinfo="skip"))
        fig.add_annotation(x=hi, y=hi * frac, text="same price" if frac == 1 else
                           f"{(1 - frac) * 100:.0f}% off", showarrow=False, xanchor="right",
                           yanchor="bottom", font={"color": "grey"})
    fig.update_layout(template=TEMPLATE, title="Spot against on-demand price per GPU-hour",
                      xaxis_title="on demand [USD per GPU-hour]",
                      yaxis_title="spot [USD per GPU-hour]", legend_title="provider", height=480)
    return fig


def accelerator_specs_figure(catalog=None, dtype: str = "bf16", accelerators=None, providers=None):
    """Peak compute against memory bandwidth per accelerator; marker size shows memory.

    The dashed lines are constant ridge points (FLOP per byte): accelerators to the upper
    left need more arithmetic intensity to stay compute-bound.

    Parameters
    ----------
    catalog : Catalog, optional
    dtype : str
        Which peak to plot (any name ``aicost._units.normalize_dtype`` accepts).
    accelerators : list of str, optional
        Only these accelerators.
    providers : list of str, optional
        Only accelerators these providers offer.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    import plotly.graph_objects as go

    from .._units import normalize_dtype

    cat = _catalog(catalog)
    dt = normalize_dtype(dtype)
    col = "int8_tops" if dt == "int8" else f"{dt}_tflops"
    df = cat.accelerators[cat.accelerators[col].notna()]
    if accelerators is not None or providers is not None:
        offered = set(_instances(cat, providers, None)["accelerator"]) if providers is not None \
            else set(df["name"])
        if accelerators is not None:
            if isinstance(accelerators, str):
                accelerators = [accelerators]
            offered &= {cat.accelerator(a).name for a in accelerators}
        df = df[df["name"].isin(offered)]
    fig = go.Figure()
    positions = dict(zip(df["name"], _label_positions(df["mem_bw_gb_s"] / 1e3, df[col])))
    for vendor, part in df.groupby("vendor", sort=True):
        fig.add_trace(go.Scatter(
            x=part["mem_bw_gb_s"] / 1e3, y=part[col], mode="markers+text", name=vendor,
            text=part["name"], textposition=[positions[n] for n in part["name"]],
            marker={"size": [max(8.0, math.sqrt(m) * 2.2) for m in part["memory_gib"]],
                    "opacity": 0.75},
            customdata=part["memory_gib"],
            hovertemplate=("%{text}: %{y:,.0f} " + ("TOP/s" if dt == "int8" else "TFLOP/s")
                           + ", %{x:.2f} TB/s, %{customdata:.0f} GiB<extra></extra>"),
        ))
    if len(df):
        xs = [float(df["mem_bw_gb_s"].min()) / 1e3 * 0.8, float(df["mem_bw_gb_s"].max()) / 1e3 * 1.2]
        for ridge in (100, 300):
            fig.add_trace(go.Scatter(x=xs, y=[x * ridge for x in xs], mode="lines",
                                     line={"dash": "dash", "color": "lightgrey"},
                                     showlegend=False, hoverinfo="skip"))
            fig.add_annotation(x=math.log10(xs[0]), y=math.log10(xs[0] * ridge),
                               text=f"{ridge} FLOP/byte", showarrow=False, xanchor="left",
                               yanchor="bottom", font={"color": "grey", "size": 11})
    fig.update_layout(template=TEMPLATE,
                      title=f"Accelerators: dense {dt} peak against memory bandwidth",
                      xaxis={"title": "memory bandwidth [TB/s]", "type": "log"},
                      yaxis={"title": f"dense {dt} peak [{'TOP/s' if dt == 'int8' else 'TFLOP/s'}]",
                             "type": "log"},
                      legend_title="vendor", height=520)
    if len(df):  # ticks labelled in full over the data and the ridge lines
        fig.update_xaxes(**log_ticks([*(df["mem_bw_gb_s"] / 1e3), *xs]))
        fig.update_yaxes(**log_ticks([*df[col], xs[0] * 100, xs[1] * 300]))
    return fig


def storage_tiers_figure(catalog=None, capacity_tib: float = STORAGE_FIGURE_CAPACITY_TIB,
                         providers=None):
    """Read throughput against capacity price for each storage tier.

    Per-TiB tiers are evaluated at ``capacity_tib``; per-node tiers for one client node.
    ``providers`` keeps those providers' tiers (and provider-neutral ones such as local NVMe).

    Returns
    -------
    plotly.graph_objects.Figure
    """
    import plotly.graph_objects as go

    cat = _catalog(catalog)
    tiers = cat.storage_tiers
    if providers is not None:
        if isinstance(providers, str):
            providers = [providers]
        wanted = {str(p).lower() for p in providers} | {"any"}
        tiers = tiers[tiers["provider"].str.lower().isin(wanted)]
    rows = []
    for name in tiers["name"]:
        t = cat.storage_tier(name)
        rows.append((t, t.throughput_for(capacity_tib * 2**40, nodes=1) / 1e9))
    fig = go.Figure()
    positions = dict(zip([t.name for t, _ in rows], _label_positions(
        [max(t.price_usd_per_gb_month, 1e-3) for t, _ in rows], [bw for _, bw in rows])))
    for kind in ("local", "block", "file", "object"):
        sel = [(t, bw) for t, bw in rows if t.kind == kind]
        if not sel:
            continue
        fig.add_trace(go.Scatter(
            x=[max(t.price_usd_per_gb_month, 1e-3) for t, _ in sel], y=[bw for _, bw in sel],
            mode="markers+text", name=kind, text=[t.name for t, _ in sel],
            textposition=[positions[t.name] for t, _ in sel], marker={"size": 11},
            customdata=[t.throughput_basis for t, _ in sel],
            hovertemplate="%{text}: %{y:.2f} GB/s (%{customdata}), $%{x:.4f}/GB-month<extra></extra>",
        ))
    fig.update_layout(
        template=TEMPLATE,
        title=f"Storage tiers: read throughput ({capacity_tib:g} TiB, one client) against price",
        xaxis={"title": "capacity price [USD per GB-month] (local NVMe: included, drawn at 0.001)",
               "type": "log", "range": [-3.4, 0.4]},
        yaxis={"title": "read throughput [GB/s]", "type": "log"}, legend_title="kind", height=500)
    return fig


def fabrics_figure(catalog=None, gpus_per_node: int = 8, providers=None):
    """One-direction bandwidth per GPU of every fabric (per-node fabrics shared by ``gpus_per_node``).

    ``providers`` keeps the fabrics those providers' instances use.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    import plotly.graph_objects as go

    cat = _catalog(catalog)
    names = list(cat.fabrics["name"])
    if providers is not None:
        inst = _instances(cat, providers, None)
        used = set(inst["scale_up_fabric"].dropna()) | set(inst["scale_out_fabric"].dropna())
        names = [n for n in names if n in used]
    recs = [cat.fabric(n) for n in names]
    recs.sort(key=lambda f: f.bandwidth_per_gpu_bytes_per_s(gpus_per_node))
    fig = go.Figure()
    for kind, color in (("scale_up", "#636efa"), ("scale_out", "#ef553b")):
        sel = [f for f in recs if f.kind == kind]
        fig.add_trace(go.Bar(
            y=[f.name for f in sel], x=[f.bandwidth_per_gpu_bytes_per_s(gpus_per_node) / 1e9 for f in sel],
            orientation="h", name=kind.replace("_", "-"), marker_color=color,
            customdata=[f.basis for f in sel],
            hovertemplate="%{y}: %{x:.1f} GB/s per GPU (%{customdata})<extra></extra>"))
    fig.update_layout(template=TEMPLATE,
                      title=f"Fabrics: one-direction bandwidth per GPU ({gpus_per_node} GPUs per node)",
                      xaxis={"title": "GB/s per GPU, one direction", "type": "log"},
                      yaxis={"categoryorder": "array", "categoryarray": [f.name for f in recs]},
                      height=max(400, 18 * len(recs) + 120), barmode="overlay")
    return fig
