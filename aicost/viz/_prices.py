"""Plotly figure of the price history: how $/GPU-hour of offers moved over refreshes."""

from __future__ import annotations

from ._catalog import TEMPLATE
from ._colors import accelerator_color

__all__ = ["price_history_figure"]


def price_history_figure(history, *, title: str | None = None, spot: bool = False):
    """Price per accelerator-hour over time, one line per provider and accelerator.

    Parameters
    ----------
    history : pandas.DataFrame
        :func:`aicost.catalog.price_history`'s result (``time``, ``provider``,
        ``accelerator``, ``price_usd_per_gpu_hour``, ...).
    title : str, optional
    spot : bool
        Draw the spot price instead of the on-demand one.

    Returns
    -------
    plotly.graph_objects.Figure
        The cheapest offer of each (provider, accelerator) at each time [USD per GPU-hour];
        hover names the instance type and region.
    """
    import plotly.graph_objects as go

    col = "price_spot_usd_per_gpu_hour" if spot else "price_usd_per_gpu_hour"
    fig = go.Figure()
    df = history.dropna(subset=[col])
    if len(df):
        best = df.loc[df.groupby(["provider", "accelerator", "time"])[col].idxmin()]
        for (prov, acc), grp in best.groupby(["provider", "accelerator"], sort=True):
            grp = grp.sort_values("time")
            fig.add_trace(go.Scatter(
                x=grp["time"], y=grp[col], mode="lines+markers", name=f"{prov} {acc}",
                line={"color": accelerator_color(acc), "shape": "hv"},
                customdata=grp[["instance_type", "region", "source"]].to_numpy(),
                hovertemplate="%{x|%Y-%m-%d}<br>$%{y:.2f} per GPU-hour<br>%{customdata[0]} "
                              "(%{customdata[1]})<br>source: %{customdata[2]}<extra>%{fullData.name}"
                              "</extra>"))
    kind = "spot" if spot else "on demand"
    fig.update_layout(
        template=TEMPLATE, title=title or f"Price per GPU-hour ({kind}), cheapest offer per "
                                          "provider",
        xaxis_title="price as of", yaxis_title=f"USD per GPU-hour ({kind})",
        legend_title="provider, accelerator")
    if not len(df):
        fig.add_annotation(text="no prices recorded; run `aicost catalog refresh`",
                           showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    return fig
