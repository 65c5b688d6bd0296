"""Figures of spend results (`aicost.spend`): the demand duration curve with the committed
baseline, cost by pricing category over time, waste by team, and the forecast-error risk.

Each function takes a `Portfolio` or a `SpendAnalysis` and returns a
``plotly.graph_objects.Figure``; plotly is imported inside the functions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "commitment_risk_figure",
    "cost_by_pricing_category_figure",
    "demand_duration_figure",
    "portfolio_cost_figure",
    "waste_by_team_figure",
]

#: one colour per pricing category (FOCUS PricingCategory and the portfolio's parts)
_CATEGORY_COLORS = {"Committed": "#2a6f97", "Standard": "#e07a5f", "Dynamic": "#81b29a",
                    "Other": "#9e9e9e", "Unknown": "#bdbdbd", "committed": "#2a6f97",
                    "on demand": "#e07a5f", "spot": "#81b29a", "unused commitment": "#f2cc8f"}


def _go():
    import plotly.graph_objects as go

    return go


def demand_duration_figure(portfolio, accelerator: str | None = None):
    """Hourly demand sorted from highest to lowest, with the committed baseline.

    The area under the committed line and the demand curve is used commitment; above the
    line, on demand or spot; under the line and above the curve, idle commitment.

    Parameters
    ----------
    portfolio : aicost.spend.Portfolio
    accelerator : str, optional
        One pool; default every pool summed.
    """
    go = _go()
    h = portfolio.hourly
    c = portfolio.commitments
    if accelerator is not None:
        h = h[h["accelerator"] == accelerator]
        c = c[c["accelerator"] == accelerator]
    g = h.groupby("timestamp")[["demand_gpus", "committed_gpus"]].sum()
    order = np.argsort(-g["demand_gpus"].to_numpy(), kind="stable")
    d = g["demand_gpus"].to_numpy()[order]
    flat = float(c.loc[c["term"] != "capacity_block", "committed_gpus"].sum())
    blocks = g["committed_gpus"].to_numpy()[order] - flat
    x = np.arange(1, len(d) + 1) / max(len(d), 1) * 100
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 100], y=[flat, flat], name="committed baseline (1y/3y)",
                             mode="lines", fill="tozeroy",
                             line={"color": _CATEGORY_COLORS["committed"], "width": 2},
                             fillcolor="rgba(42,111,151,0.25)",
                             hovertemplate=f"{flat:.1f} GPUs committed<extra></extra>"))
    if (blocks > 1e-9).any():
        m = blocks > 1e-9
        fig.add_trace(go.Scatter(x=x[m], y=(flat + blocks)[m], mode="markers",
                                 name="baseline + capacity blocks that hour",
                                 marker={"color": "#8ab6d6", "size": 3},
                                 hovertemplate="%{y:.0f} GPUs with blocks<extra></extra>"))
    fig.add_trace(go.Scatter(x=x, y=d, name="demand (sorted)", mode="lines",
                             line={"color": "#333", "width": 2},
                             hovertemplate="%{y:.0f} GPUs or more in %{x:.1f}% of hours"
                                           "<extra></extra>"))
    s = portfolio.summary
    title = ("Demand duration curve" + (f": {accelerator}" if accelerator else "")
             + f" (commitment utilization {s['commitment_utilization']:.0%}, "
               f"coverage {s['coverage']:.0%})")
    fig.update_layout(title=title, xaxis_title="share of hours with at least this demand [%]",
                      yaxis_title="GPUs", template="plotly_white", hovermode="x",
                      legend={"orientation": "h", "y": -0.2})
    return fig


def portfolio_cost_figure(portfolio, freq: str = "W"):
    """Stacked cost of the portfolio over time: committed (used and unused), on demand, spot.

    Parameters
    ----------
    portfolio : aicost.spend.Portfolio
    freq : str
        pandas period for the bars (``D``, ``W``, ``MS``).
    """
    go = _go()
    h = portfolio.hourly.copy()
    od = portfolio.inputs.get("on_demand", {})
    sp = portfolio.inputs.get("spot", {})
    c = portfolio.commitments
    T = max(int(portfolio.summary["hours"]), 1)
    # committed cost per hour of a pool: spread its commitments' cost over committed GPU-hours
    rate = {}
    for a, grp in h.groupby("accelerator"):
        ch = float(grp["committed_gpus"].sum())
        cost = float(c.loc[c["accelerator"] == a, "cost_usd"].sum())
        rate[a] = cost / ch if ch > 0 else 0.0
    r = h["accelerator"].map(rate).fillna(0.0)
    h["committed used"] = h["committed_used_gpus"] * r
    h["unused commitment"] = (h["committed_gpus"] - h["committed_used_gpus"]) * r
    h["on demand"] = h["on_demand_gpus"] * h["accelerator"].map(od).fillna(0.0)
    h["spot"] = h["spot_gpus"] * h["accelerator"].map(sp).fillna(0.0)
    cols = ["committed used", "unused commitment", "on demand", "spot"]
    g = h.set_index("timestamp")[cols].resample(freq).sum()
    fig = go.Figure()
    colors = {"committed used": _CATEGORY_COLORS["committed"], **_CATEGORY_COLORS}
    for col in cols:
        if g[col].sum() <= 0:
            continue
        fig.add_trace(go.Bar(x=g.index, y=g[col], name=col, marker_color=colors[col],
                             hovertemplate="%{x|%Y-%m-%d}: $%{y:,.0f}<extra>" + col + "</extra>"))
    fig.update_layout(barmode="stack", template="plotly_white", yaxis_title="USD",
                      title=f"Portfolio cost by category ({T:,} hours)",
                      legend={"orientation": "h", "y": -0.2})
    return fig


def cost_by_pricing_category_figure(analysis, freq: str = "D"):
    """Stacked cost from a bill by FOCUS ``PricingCategory`` over time.

    Parameters
    ----------
    analysis : aicost.spend.SpendAnalysis
    freq : str
        pandas period for the bars.
    """
    go = _go()
    df = analysis.by_category.copy()
    df["day"] = pd.to_datetime(df["day"], utc=True)
    wide = df.pivot_table(index="day", columns="pricing_category", values="effective_usd",
                          aggfunc="sum").fillna(0.0).resample(freq).sum()
    fig = go.Figure()
    for cat in wide.columns:
        fig.add_trace(go.Bar(x=wide.index, y=wide[cat], name=str(cat),
                             marker_color=_CATEGORY_COLORS.get(str(cat), None),
                             hovertemplate="%{x|%Y-%m-%d}: $%{y:,.0f}<extra>" + str(cat)
                                           + "</extra>"))
    fig.update_layout(barmode="stack", template="plotly_white", yaxis_title="effective cost [USD]",
                      title="Cost by pricing category (FOCUS EffectiveCost)",
                      legend={"orientation": "h", "y": -0.2})
    return fig


def waste_by_team_figure(analysis):
    """Idle GPU cost and unused commitments per team (or the analysis's tag)."""
    go = _go()
    t = analysis.waste_by_team
    tag = analysis.tag
    fig = go.Figure()
    fig.add_trace(go.Bar(y=t[tag], x=t["idle_usd"], name="idle GPU-hours", orientation="h",
                         marker_color="#e07a5f",
                         customdata=np.c_[t["idle_gpu_hours"]],
                         hovertemplate="%{y}: $%{x:,.0f} for %{customdata[0]:,.0f} idle GPU-h"
                                       "<extra></extra>"))
    fig.add_trace(go.Bar(y=t[tag], x=t["unused_commitment_usd"], name="unused commitments",
                         orientation="h", marker_color="#f2cc8f",
                         hovertemplate="%{y}: $%{x:,.0f}<extra>unused commitments</extra>"))
    thr = analysis.summary.get("idle_threshold", 0.1)
    fig.update_layout(barmode="stack", template="plotly_white", xaxis_title="USD",
                      title=f"Waste by {tag} (idle: under {thr:.0%} GPU utilization)",
                      yaxis={"autorange": "reversed"}, legend={"orientation": "h", "y": -0.2})
    return fig


def commitment_risk_figure(portfolio):
    """Unused commitments and savings against demand forecast error."""
    go = _go()
    r = portfolio.risk
    fig = go.Figure()
    x = r["forecast_error"] * 100
    fig.add_trace(go.Bar(x=x, y=r["unused_commitment_usd"], name="unused commitments",
                         marker_color="#f2cc8f",
                         hovertemplate="%{x:+.0f}%: $%{y:,.0f} unused<extra></extra>"))
    fig.add_trace(go.Scatter(x=x, y=r["savings_usd"], name="savings vs all on demand",
                             mode="lines+markers", line={"color": "#2a6f97"},
                             hovertemplate="%{x:+.0f}%: $%{y:,.0f} saved<extra></extra>"))
    fig.update_layout(template="plotly_white", xaxis_title="demand forecast error [%]",
                      yaxis_title="USD", title="Commitment risk under forecast error",
                      legend={"orientation": "h", "y": -0.2})
    return fig
