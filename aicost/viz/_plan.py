"""Figures of planner results (`aicost.plan.Plan`): the Pareto frontier, the step-time
breakdown, cost against deadline, and for serving plans latency against batch, replicas against
request rate, $ per 1M tokens across offers and the daily demand curve.

Every function takes a `Plan` and returns a ``plotly.graph_objects.Figure``; plotly is imported
inside the functions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._markup import mathjax_safe
from ._colors import (
    accelerator_color,
    accelerator_colors,
    log_annotation_coord,
    log_ticks,
    usd_tick,
)

__all__ = [
    "cost_per_million_tokens_figure",
    "cost_vs_deadline_figure",
    "demand_figure",
    "latency_vs_batch_figure",
    "pareto_figure",
    "replicas_vs_rate_figure",
    "step_time_figure",
    "step_time_rows",
]

_DAY = 86400.0
#: the step-time parts of a training candidate, in stacking order, with their labels
_STEP_PARTS = (
    ("compute_s", "compute"),
    ("tp_comm_s", "tensor-parallel comm"),
    ("pp_comm_s", "pipeline sends"),
    ("bubble_s", "pipeline bubble"),
    ("dp_exposed_s", "data-parallel comm (exposed)"),
    ("optimizer_s", "optimizer step"),
)


def _go():
    import plotly.graph_objects as go

    return go


def _label(row) -> str:
    if "nodes" in row:
        return (f"{int(row['gpus'])}x {row['accelerator']} {row['provider']} {row['instance_type']} "
                f"({row['pricing']})")
    return f"{row['accelerator']} {row['provider']} {row['instance_type']} ({row['pricing']})"


def _vline(fig, x: float, text: str, axis_type: str | None, **line) -> None:
    """A dashed vertical line at data ``x`` with its label at the top.

    Not ``fig.add_vline(annotation_text=...)``: on a log axis plotly reads an annotation's x
    in log10 units, so the label lands at 10**x and stretches the axis to it.
    """
    fig.add_shape(type="line", xref="x", yref="paper", x0=x, x1=x, y0=0, y1=1,
                  line={"dash": "dash", "color": "#c33", "width": 1.5, **line})
    fig.add_annotation(x=log_annotation_coord(x, axis_type), xref="x", y=1, yref="paper",
                       text=text, showarrow=False, xanchor="left", yanchor="bottom",
                       font={"color": "#c33"})


def _hline(fig, y: float, text: str, axis_type: str | None, **line) -> None:
    """A dotted horizontal line at data ``y`` with its label at the right end (see `_vline`)."""
    fig.add_shape(type="line", xref="paper", yref="y", x0=0, x1=1, y0=y, y1=y,
                  line={"dash": "dot", "color": "#c33", "width": 1.5, **line})
    fig.add_annotation(x=1, xref="paper", y=log_annotation_coord(y, axis_type), yref="y",
                       text=text, showarrow=False, xanchor="right", yanchor="bottom",
                       font={"color": "#c33"})


def _check_kind(plan, kind: str, what: str) -> None:
    if plan.kind != kind:
        raise ValueError(f"{what} needs a {kind} plan, got a {plan.kind} plan")


def pareto_figure(plan, max_points: int = 3000):
    """Every feasible candidate as time against cost, the Pareto frontier as a line, the
    recommendation starred, and the deadline / budget / latency targets as dashed lines.

    Parameters
    ----------
    plan : aicost.plan.Plan
    max_points : int
        Feasible candidates drawn at most (the fastest and cheapest are always kept).
    """
    go = _go()
    training = plan.kind == "training"
    scale, tunit = (_DAY, "days") if training else (1.0, "s")
    cost_title = "expected cost [USD]" if training else "cost [USD/h]"
    time_title = (f"expected wall time [{tunit}]" if training else "request latency (TTFT + output x TPOT) [s]")
    ok = plan.feasible
    if len(ok) > max_points:
        ok = pd.concat([ok.head(max_points // 2),
                        ok.sort_values(plan.time_col).head(max_points // 2)]).drop_duplicates()
    fig = go.Figure()
    for acc, part in ok.groupby("accelerator", sort=True):
        fig.add_trace(go.Scatter(
            x=part[plan.time_col] / scale, y=part[plan.cost_col], mode="markers", name=str(acc),
            marker={"size": 6, "opacity": 0.55, "color": accelerator_color(acc)},
            text=[_label(r) for _, r in part.iterrows()],
            hovertemplate="%{text}<br>%{x:.3g} " + tunit + ", $%{y:,.0f}<extra></extra>"))
    front = plan.pareto
    if not front.empty:
        fig.add_trace(go.Scatter(
            x=front[plan.time_col] / scale, y=front[plan.cost_col], mode="lines+markers",
            name="Pareto frontier", line={"color": "black", "shape": "hv"}, marker={"size": 8},
            text=[_label(r) for _, r in front.iterrows()],
            hovertemplate="%{text}<br>%{x:.3g} " + tunit + ", $%{y:,.0f}<extra>frontier</extra>"))
    best = plan.best
    if best is not None:
        fig.add_trace(go.Scatter(x=[best.time_s / scale], y=[best.cost], mode="markers",
                                 name="recommended", marker={"symbol": "star", "size": 16, "color": "gold",
                                                             "line": {"color": "black", "width": 1}},
                                 text=[best.headline], hovertemplate="%{text}<extra></extra>"))
    req = plan.request
    if training and req.get("deadline_s"):
        _vline(fig, req["deadline_s"] / scale, "deadline", "log")
    if training and req.get("budget_usd"):
        _hline(fig, req["budget_usd"], "budget", "log")
    fig.update_layout(title=f"{plan.kind.capitalize()} plans for {req.get('model')}: time against cost",
                      xaxis_title=time_title, yaxis_title=cost_title, xaxis_type="log", yaxis_type="log",
                      legend_title="accelerator", template="plotly_white")
    # 1-2-5 ticks labelled in full ("$20k", "0.2"): plotly's "D2" minor labels were bare digits
    times = [*(ok[plan.time_col] / scale), *(front[plan.time_col] / scale),
             *([req["deadline_s"] / scale] if training and req.get("deadline_s") else [])]
    costs = [*ok[plan.cost_col], *front[plan.cost_col],
             *([req["budget_usd"]] if training and req.get("budget_usd") else [])]
    fig.update_xaxes(**log_ticks(times))
    fig.update_yaxes(**log_ticks(costs, usd_tick))
    return fig


def _step_label(r) -> str:
    """A row label that tells offers apart: GPUs, accelerator, provider, instance, layout, pricing."""
    return (f"{int(r['gpus'])}x {r['accelerator']} {r['provider']} {r['instance_type']} "
            f"tp{int(r['tp'])} pp{int(r['pp'])} dp{int(r['dp'])} ({r['pricing']})")


def step_time_rows(plan, n: int = 12, which: str = "fastest"):
    """The candidates `step_time_figure` draws, one row each, with a ``label`` column.

    The recommended plan comes first (labelled ``recommended:``), then distinct candidates
    (`Plan.distinct_by`, then distinct labels) until there are ``n`` rows.

    Parameters
    ----------
    plan : aicost.plan.Plan
        A training plan.
    n : int
        Rows at most (fewer only when the plan has fewer distinct feasible candidates).
    which : {"fastest", "pareto", "best"}
        After the recommendation: the fastest candidates, the Pareto frontier (fastest first)
        or the best by the plan's objective.

    Returns
    -------
    pandas.DataFrame
    """
    _check_kind(plan, "training", "step_time_rows")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if which == "pareto":
        pool = plan.pareto.sort_values(plan.time_col, kind="stable")
    elif which == "fastest":
        pool = plan.feasible.sort_values([plan.time_col, plan.cost_col], kind="stable")
    elif which == "best":
        pool = plan.feasible
    else:
        raise ValueError(f"which must be 'fastest', 'pareto' or 'best', got {which!r}")
    key = [c for c in getattr(plan, "distinct_by", ()) if c in pool.columns]
    if key:
        pool = pool.drop_duplicates(subset=key, keep="first")
    best = plan.best
    parts = []
    if best is not None:
        parts.append(pd.DataFrame([best.row]))
    parts.append(pool)
    df = pd.concat(parts, ignore_index=True) if parts else pool
    if df.empty:
        return df.assign(label=pd.Series(dtype=str))
    labels = [_step_label(r) for _, r in df.iterrows()]
    df = df.assign(label=labels).drop_duplicates(subset=["label"], keep="first").head(n)
    if best is not None:
        df.loc[df.index[0], "label"] = "recommended: " + df.loc[df.index[0], "label"]
    return df.reset_index(drop=True)


def step_time_figure(plan, n: int = 12, which: str = "fastest"):
    """Stacked step-time breakdown (compute, communication, bubble, optimizer) of ``n``
    training candidates: the recommended plan first, then the fastest distinct ones (or the
    Pareto frontier, ``which="pareto"``, or the best by the objective, ``"best"``).

    Each row names GPUs, accelerator, provider, instance type, layout and pricing, so two
    offers never share a bar. See `step_time_rows` for the rows.
    """
    go = _go()
    df = step_time_rows(plan, n=n, which=which)
    labels = list(df["label"]) if len(df) else []
    fig = go.Figure()
    palette = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
    for (col, name), color in zip(_STEP_PARTS, palette):
        if col in df.columns:
            fig.add_trace(go.Bar(y=labels, x=df[col].astype(float), name=name, orientation="h",
                                 marker_color=color,
                                 hovertemplate="%{y}<br>" + name + ": %{x:.3g} s<extra></extra>"))
    fig.update_layout(barmode="stack", title="Where a training step goes (recommended plan first)",
                      xaxis_title="time per optimizer step [s]",
                      yaxis={"autorange": "reversed", "automargin": True},
                      height=max(360, 120 + 28 * len(labels)),
                      template="plotly_white", legend_title="part")
    return fig


def cost_vs_deadline_figure(plan, deadlines_s=None):
    """The cheapest feasible cost for each deadline: a staircase from the plan's candidates.

    Parameters
    ----------
    plan : aicost.plan.Plan
        A training plan (best made without a deadline, so every candidate is kept).
    deadlines_s : array_like, optional
        Deadlines [s] (default: 60 points from the fastest candidate to the slowest).
    """
    _check_kind(plan, "training", "cost_vs_deadline_figure")
    go = _go()
    table = plan.cost_by_deadline(deadlines_s)
    fig = go.Figure()
    # "any" (the cheapest over every pricing) coincides with one of the others everywhere: drawn
    # first, wide and pale, so it shows as a band under them instead of vanishing behind them
    groups = sorted(table.groupby("pricing", sort=True), key=lambda kv: kv[0] != "any")
    for pricing, part in groups:
        line = ({"shape": "hv", "width": 9, "color": "rgba(120,120,120,0.35)"} if pricing == "any"
                else {"shape": "hv", "width": 2})
        fig.add_trace(go.Scatter(x=part["deadline_s"] / _DAY, y=part["cost_usd"], mode="lines",
                                 name=str(pricing),
                                 line=line, text=part["plan"],
                                 hovertemplate="%{x:.1f} d: $%{y:,.0f}<br>%{text}<extra></extra>"))
    fig.update_layout(title=f"Cheapest plan against the deadline ({plan.request.get('model')})",
                      xaxis_title="deadline [days]", xaxis_type="log", yaxis_title="expected cost [USD]",
                      yaxis_type="log", template="plotly_white", legend_title="pricing (any: cheapest of all)")
    fig.update_xaxes(**log_ticks(table["deadline_s"] / _DAY))
    fig.update_yaxes(**log_ticks(table["cost_usd"], usd_tick))
    return fig


def latency_vs_batch_figure(plan, offer: dict | None = None):
    """TTFT and TPOT against batch size for one serving configuration (default: the
    recommendation's offer, pricing and tensor parallelism), with the targets."""
    _check_kind(plan, "inference", "latency_vs_batch_figure")
    from plotly.subplots import make_subplots

    go = _go()
    df = plan.latency_by_batch(offer)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=df["batch"], y=df["ttft_s"] * 1e3, name="TTFT (left axis)",
                             mode="lines+markers", line={"color": "#1f77b4"}), secondary_y=False)
    fig.add_trace(go.Scatter(x=df["batch"], y=df["tpot_s"] * 1e3, name="TPOT (right axis)",
                             mode="lines+markers", line={"color": "#ff7f0e"}), secondary_y=True)
    req = plan.request
    # shapes and labels placed by hand: add_hline(secondary_y=True) puts its label against the
    # primary axis, so the TPOT label floated at the wrong height
    if req.get("ttft_s"):
        y = req["ttft_s"] * 1e3
        fig.add_shape(type="line", xref="paper", x0=0, x1=1, yref="y", y0=y, y1=y,
                      line={"dash": "dash", "color": "#1f77b4", "width": 1.5})
        fig.add_annotation(xref="paper", x=0, yref="y", y=log_annotation_coord(y, "log"),
                           text=f"TTFT target {y:g} ms",
                           showarrow=False, xanchor="left", yanchor="bottom",
                           font={"color": "#1f77b4"})
    if req.get("tpot_s"):
        y = req["tpot_s"] * 1e3
        fig.add_shape(type="line", xref="paper", x0=0, x1=1, yref="y2", y0=y, y1=y,
                      line={"dash": "dot", "color": "#ff7f0e", "width": 1.5})
        fig.add_annotation(xref="paper", x=1, yref="y2", y=log_annotation_coord(y, "log"),
                           text=f"TPOT target {y:g} ms",
                           showarrow=False, xanchor="right", yanchor="bottom",
                           font={"color": "#ff7f0e"})
    title = df.attrs.get("title", "")
    fig.update_layout(title=f"Latency against batch size {title}", xaxis_title="concurrent sequences (batch)",
                      xaxis_type="log", template="plotly_white")
    # log latency axes: the targets (often 10-100x the unloaded latency) and the curves both
    # stay readable; a linear axis stretched to the target squashed the curves flat
    ttft_ms = [*(df["ttft_s"] * 1e3), *([req["ttft_s"] * 1e3] if req.get("ttft_s") else [])]
    tpot_ms = [*(df["tpot_s"] * 1e3), *([req["tpot_s"] * 1e3] if req.get("tpot_s") else [])]
    fig.update_yaxes(title_text="time to first token [ms]", type="log", secondary_y=False,
                     **log_ticks(ttft_ms))
    fig.update_yaxes(title_text="time per output token [ms]", type="log", showgrid=False,
                     secondary_y=True, **log_ticks(tpot_ms))
    return fig


def replicas_vs_rate_figure(plan, rates=None, top: int = 4):
    """Instances needed (and their cost per hour) against the request rate, for the ``top``
    cheapest offers of a serving plan."""
    _check_kind(plan, "inference", "replicas_vs_rate_figure")
    go = _go()
    df = plan.replicas_by_rate(rates, top=top)
    fig = go.Figure()
    for label, part in df.groupby("label", sort=False):
        fig.add_trace(go.Scatter(x=part["requests_per_s"], y=part["instances"], mode="lines",
                                 line={"shape": "hv"}, name=str(label),
                                 customdata=np.stack([part["cost_usd_per_hour"]], axis=-1),
                                 hovertemplate="%{x:.1f} req/s: %{y} instances, $%{customdata[0]:,.0f}/h"
                                               "<extra></extra>"))
    fig.update_layout(title="Instances needed against the request rate (latency targets held)",
                      xaxis_title="requests per second", yaxis_title="instances", template="plotly_white")
    return fig


def cost_per_million_tokens_figure(plan, top: int = 20):
    """The cheapest $ per 1M tokens of each offer that meets the targets (bar chart)."""
    _check_kind(plan, "inference", "cost_per_million_tokens_figure")
    go = _go()
    ok = plan.feasible
    col = "usd_per_million_tokens"
    best = ok.sort_values(col, kind="stable").drop_duplicates(
        subset=["provider", "instance_type", "pricing"], keep="first").head(top)
    labels = [f"{r['provider']} {r['instance_type']} ({r['accelerator']}, {r['pricing']})"
              for _, r in best.iterrows()]
    best = best.assign(_label=labels)
    fig = go.Figure()
    # one trace per accelerator, coloured by the fixed mapping, so the legend says what a colour
    # is; the bars keep their cheapest-first order through categoryarray
    for acc, color in accelerator_colors(best["accelerator"]).items():
        part = best[best["accelerator"].astype(str) == acc]
        fig.add_trace(go.Bar(x=part[col], y=part["_label"], orientation="h", name=acc,
                             marker_color=color, text=[f"${v:.3f}" for v in part[col]],
                             textposition="outside", textfont={"size": 12},
                             cliponaxis=False,
                             hovertemplate="%{y}<br>$%{x:.4f} per 1M tokens<extra></extra>"))
    xmax = float(best[col].max()) if len(best) else 1.0
    fig.update_layout(title=f"$ per 1M tokens (input + output) serving {plan.request.get('model')}",
                      xaxis={"title": "USD per 1M tokens", "range": [0, xmax * 1.18]},
                      yaxis={"autorange": "reversed", "categoryorder": "array",
                             "categoryarray": labels, "automargin": True, "dtick": 1,
                             "tickfont": {"size": 12}},
                      barmode="relative", height=max(360, 110 + 26 * len(labels)),
                      legend_title="accelerator", template="plotly_white")
    return fig


def demand_figure(plan):
    """A day of demand: request rate, autoscaled and static capacity, and their cost.

    Needs a serving plan made with ``demand=``.
    """
    _check_kind(plan, "inference", "demand_figure")
    from plotly.subplots import make_subplots

    go = _go()
    d = plan.extras.get("demand")
    if d is None:
        raise ValueError("this plan has no demand curve: call plan_inference(..., demand=<trace or DataFrame>)")
    curve = d["curve"]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    x = curve["hour"]
    fig.add_trace(go.Scatter(x=x, y=curve["requests_per_s"], name="demand [req/s]",
                             line={"color": "black"}), secondary_y=False)
    fig.add_trace(go.Scatter(x=x, y=curve["capacity_autoscaled_rps"], name="autoscaled capacity [req/s]",
                             line={"shape": "hv"}), secondary_y=False)
    fig.add_trace(go.Scatter(x=x, y=curve["capacity_static_rps"], name="static capacity [req/s]",
                             line={"shape": "hv", "dash": "dash"}), secondary_y=False)
    fig.add_trace(go.Bar(x=x, y=curve["instances_autoscaled"], name="autoscaled instances", opacity=0.25),
                  secondary_y=True)
    s = d["summary"]
    fig.update_layout(
        title=mathjax_safe(f"A day of demand: autoscaled ${s['autoscaled_usd_per_day']:,.0f}/day "
                           f"against static ${s['static_usd_per_day']:,.0f}/day"),
        xaxis_title="hour of day", template="plotly_white", barmode="overlay")
    fig.update_yaxes(title_text="requests per second", secondary_y=False)
    peak = int(np.nanmax(curve["instances_autoscaled"])) if len(curve) else 1
    step = max(1, int(np.ceil(max(peak, 1) / 8)))  # whole instances, at most about 8 ticks
    fig.update_yaxes(title_text="instances", secondary_y=True, tickmode="linear", tick0=0,
                     dtick=step, tickformat="d", range=[0, (peak + step) * 1.0], showgrid=False)
    return fig
