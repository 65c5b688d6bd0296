"""The roofline: measured ceilings, catalog peaks and measured points, machines side by side."""

from __future__ import annotations

import math

import numpy as np

from ..store import decode_params

__all__ = ["roofline"]

TEMPLATE = "plotly_white"
#: one colour per dtype, the same on every panel
_COLORS = {"fp64": "#1f77b4", "fp32": "#2ca02c", "tf32": "#17becf", "bf16": "#d62728",
           "fp16": "#ff7f0e", "fp8": "#9467bd", "int8": "#8c564b", "none": "#7f7f7f"}


def _as_frame(obj):
    """A DataFrame of result rows and a label from a Run, a DataFrame or a JSON path."""
    import pandas as pd

    if isinstance(obj, (str,)) or hasattr(obj, "__fspath__"):
        from ..bench import load_results

        run = load_results(obj)
        return run.df, run.context.get("device")
    if hasattr(obj, "df") and hasattr(obj, "context"):
        return obj.df, obj.context.get("device")
    if isinstance(obj, pd.DataFrame):
        dev = obj["device"].dropna().iloc[0] if "device" in obj and obj["device"].notna().any() else None
        return obj, dev
    raise TypeError(f"roofline needs a Run, a DataFrame of results or a JSON path, got "
                    f"{type(obj).__name__}")


_params = decode_params


def _flagged(df):
    """A boolean Series: rows whose measurement carries a flag (noisy, timeout, throttle)."""
    import pandas as pd

    if "flags" not in df.columns:
        return pd.Series(False, index=df.index)
    return df["flags"].fillna("").astype(str).str.strip().ne("")


def _short(text, n: int = 60) -> str:
    import html

    text = html.escape(str(text or ""))
    return text if len(text) <= n else text[: n - 1] + "…"


def _catalog_accelerator(device):
    if not device:
        return None
    from .. import catalog

    try:
        return catalog.load().accelerator(str(device))
    except LookupError:  # UnknownNameError: a device the catalog does not list (a CPU)
        return None


def _machine_traces(df, device, dtypes, show_peaks: bool):
    """(traces, x-range) for one machine."""
    import plotly.graph_objects as go

    df = df[df["value"].notna()].copy()
    df["_p"] = [_params(p) for p in df["params"]]
    traces = []
    xs_all: list[float] = []
    ys_all: list[float] = []

    # measured points --------------------------------------------------------------------------
    roof = df[(df["name"] == "roofline") & (df["flops"] > 0)]
    gemm = df[df["name"] == "gemm"]
    stream = df[df["name"].isin(["copy", "scale", "add", "triad", "dot"]) & (df["unit"] == "B/s")]
    bw_meas = float(stream["value"].max()) if len(stream) else None
    sweep_bw = [float(p.get("bandwidth_bytes_per_s") or 0) for p in roof["_p"]]
    if sweep_bw and (bw_meas is None or max(sweep_bw) > bw_meas):
        bw_meas = max(sweep_bw) if max(sweep_bw) > 0 else bw_meas

    for dt in [d for d in dtypes if d in set(roof["dtype"])]:
        sub = roof[roof["dtype"] == dt]
        x = (sub["flops"] / sub["bytes_moved"]).to_numpy(dtype=float)
        y = sub["value"].to_numpy(dtype=float)
        order = np.argsort(x)
        xs_all += list(x)
        ys_all += list(y)
        traces.append(go.Scatter(
            x=x[order], y=y[order], mode="lines+markers", name=f"{dt} sweep",
            legendgroup=dt, marker={"color": _COLORS.get(dt), "symbol": "circle"},
            line={"color": _COLORS.get(dt), "width": 1},
            hovertemplate=f"{dt} sweep<br>%{{x:.3g}} FLOP/B<br>%{{y:.3s}}FLOP/s<extra></extra>"))
    flagged = _flagged(df)
    for dt in [d for d in dtypes if d in set(gemm["dtype"])]:
        for noisy in (False, True):
            sub = gemm[(gemm["dtype"] == dt) & (flagged.loc[gemm.index] == noisy)]
            if sub.empty:
                continue
            x = (sub["flops"] / sub["bytes_moved"]).to_numpy(dtype=float)
            y = sub["value"].to_numpy(dtype=float)
            xs_all += list(x)
            ys_all += list(y)
            labels = [p.get("layer") or s for p, s in zip(sub["_p"], sub["shape"])]
            if noisy:
                labels = [f"{lab}<br>flagged: {_short(f)}" for lab, f in zip(labels, sub["flags"])]
            traces.append(go.Scatter(
                x=x, y=y, mode="markers", name=f"{dt} GEMM" + (" (flagged)" if noisy else ""),
                legendgroup=dt, text=labels,
                marker={"color": _COLORS.get(dt), "symbol": "diamond-open" if noisy else "diamond",
                        "size": 9},
                hovertemplate=f"{dt} GEMM %{{text}}<br>%{{x:.3g}} FLOP/B<br>%{{y:.3s}}FLOP/s"
                              "<extra></extra>"))
    if len(stream):
        s = stream[stream["flops"] > 0]
        x = (s["flops"] / s["bytes_moved"]).to_numpy(dtype=float)
        y = (s["value"] * s["flops"] / s["bytes_moved"]).to_numpy(dtype=float)
        xs_all += list(x)
        ys_all += list(y)
        traces.append(go.Scatter(
            x=x, y=y, mode="markers", name="STREAM", legendgroup="stream",
            text=[f"{n} {d}" for n, d in zip(s["name"], s["dtype"])],
            marker={"color": "#444", "symbol": "square", "size": 7},
            hovertemplate="%{text}<br>%{x:.3g} FLOP/B<br>%{y:.3s}FLOP/s<extra></extra>"))

    if not xs_all:
        return traces, None, None
    xmin = max(min(x for x in xs_all if x > 0) / 4, 1e-3)
    xmax = max(xs_all) * 4
    xgrid = np.logspace(math.log10(xmin), math.log10(xmax), 64)

    # measured ceilings ------------------------------------------------------------------------
    ceilings = {}
    for dt in dtypes:
        clean_gemm = gemm[~flagged.loc[gemm.index]]
        vals = (list(clean_gemm.loc[clean_gemm["dtype"] == dt, "value"])
                + list(roof.loc[roof["dtype"] == dt, "value"]))
        if vals:
            ceilings[dt] = max(float(v) for v in vals)
    if bw_meas:
        top = max(ceilings.values()) if ceilings else max(ys_all)
        xb = xgrid[xgrid * bw_meas <= top * 1.05]
        traces.append(go.Scatter(
            x=xb, y=xb * bw_meas, mode="lines", name=f"measured {bw_meas / 1e9:.0f} GB/s",
            line={"color": "black", "width": 2}, legendgroup="bw",
            hovertemplate="measured bandwidth roof<br>%{x:.3g} FLOP/B<br>%{y:.3s}FLOP/s<extra></extra>"))
    for dt, c in ceilings.items():
        x0 = c / bw_meas if bw_meas else xmin
        xr = xgrid[xgrid >= x0]
        traces.append(go.Scatter(
            x=xr, y=np.full(len(xr), c), mode="lines", name=f"{dt} measured {c / 1e12:.3g} T",
            line={"color": _COLORS.get(dt), "width": 2}, legendgroup=dt, showlegend=False,
            hovertemplate=f"{dt} measured ceiling %{{y:.3s}}FLOP/s<extra></extra>"))

    # catalog peaks -----------------------------------------------------------------------------
    acc = _catalog_accelerator(device) if show_peaks else None
    if acc is not None:
        bw = float(acc.mem_bw_bytes_per_s)
        peaks = {}
        for dt in dtypes:
            try:
                peaks[dt] = float(acc.peak_flops_per_s(dt))
            except ValueError:  # no catalog peak for this dtype on this chip
                continue
        top = max(peaks.values()) if peaks else None
        xb = xgrid[xgrid * bw <= (top or np.inf) * 1.05]
        traces.append(go.Scatter(
            x=xb, y=xb * bw, mode="lines", name=f"{acc.name} datasheet {bw / 1e9:.0f} GB/s",
            line={"color": "black", "dash": "dash", "width": 1}, legendgroup="peak",
            hovertemplate="datasheet bandwidth<br>%{x:.3g} FLOP/B<br>%{y:.3s}FLOP/s<extra></extra>"))
        for dt, p in peaks.items():
            if dt not in ceilings:
                continue
            xr = xgrid[xgrid >= p / bw]
            traces.append(go.Scatter(
                x=xr, y=np.full(len(xr), p), mode="lines", name=f"{dt} datasheet {p / 1e12:.3g} T",
                line={"color": _COLORS.get(dt), "dash": "dash", "width": 1}, legendgroup=dt,
                showlegend=False,
                hovertemplate=f"{dt} datasheet peak %{{y:.3s}}FLOP/s<extra></extra>"))
    return traces, (xmin, xmax), acc


def _title(with_sheet, without_sheet) -> str:
    """Say which ceilings are drawn: datasheet ones only where the catalog knows the device."""
    if with_sheet and not without_sheet:
        return "Roofline: measured (solid) and datasheet (dashed) ceilings"
    if not with_sheet:
        return ("Roofline: measured ceilings (no catalog datasheet for "
                + ", ".join(sorted(set(without_sheet))) + ")")
    return ("Roofline: measured (solid) and datasheet (dashed) ceilings; no datasheet for "
            + ", ".join(sorted(set(without_sheet))))


def roofline(data, *, dtypes=("fp64", "fp32", "tf32", "bf16", "fp16", "int8"),
             catalog_peaks: bool = True, title: str | None = None, height: int = 480):
    """A roofline chart of measured results, one panel per machine.

    Parameters
    ----------
    data : Run, DataFrame, path, or a dict/list of these
        Results of :func:`aicost.bench.run` (or rows of the results store, or a JSON file of
        :func:`aicost.bench.load_results`). A dict ``{label: results}`` or a list draws several
        machines side by side on the same axes ranges.
    dtypes : sequence of str
        Which dtypes to draw.
    catalog_peaks : bool
        Draw the catalog's datasheet roofs (dashed) where the device has a catalog row.
    title : str, optional
    height : int [px]

    Returns
    -------
    plotly.graph_objects.Figure
        x: operational intensity [FLOP/B], y: [FLOP/s], both log. Solid lines: measured
        ceilings (best STREAM bandwidth, best GEMM or roofline-sweep rate per dtype); dashed:
        the datasheet; circles: the roofline sweep (K FMAs per element); diamonds: GEMMs (their
        intensity counts A, B and C once); squares: STREAM kernels.
    """
    from plotly.subplots import make_subplots

    if isinstance(data, dict):
        items = list(data.items())
    elif isinstance(data, (list, tuple)):
        items = [(None, d) for d in data]
    else:
        items = [(None, data)]
    panels = []
    for label, obj in items:
        df, device = _as_frame(obj)
        backend = ""
        if "backend" in df and df["backend"].notna().any():
            backend = ", ".join(sorted(set(df["backend"].dropna().astype(str))))
        panels.append((label or f"{device or 'unknown device'} ({backend})", df, device))
    if not panels:
        raise ValueError("roofline needs at least one set of results")
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p[0] for p in panels],
                        horizontal_spacing=0.08)
    seen = set()
    xr_all = []
    with_sheet, without_sheet = [], []
    for i, (_, df, device) in enumerate(panels, start=1):
        traces, xr, acc = _machine_traces(df, device, list(dtypes), catalog_peaks)
        if xr:
            xr_all.append(xr)
        (with_sheet if acc is not None else without_sheet).append(str(device or "unknown device"))
        for tr in traces:
            key = tr.name
            if key in seen:
                tr.showlegend = False
            seen.add(key)
            fig.add_trace(tr, row=1, col=i)
        # one tick per decade: the default minor labels (2, 5, 20G, 50G) crowd and overlap
        fig.update_xaxes(type="log", dtick=1, title_text="operational intensity [FLOP/byte]",
                         row=1, col=i)
        fig.update_yaxes(type="log", tickformat="~s", dtick=1, row=1, col=i,
                         title_text="attainable [FLOP/s]" if i == 1 else None)
    if not xr_all:
        fig.add_annotation(text="no roofline, GEMM or STREAM results to draw", showarrow=False,
                           xref="paper", yref="paper", x=0.5, y=0.5)
    fig.update_layout(template=TEMPLATE, height=height,
                      title=title or _title(with_sheet, without_sheet),
                      legend={"font": {"size": 10}})
    return fig
