"""Plotly figures. plotly is imported inside the functions, so ``import aicost.viz`` is cheap.

Each area adds its own import lines below and its names to ``__all__`` (kept sorted).
"""

from __future__ import annotations

from ._catalog import (
    accelerator_specs_figure,
    best_offer_figure,
    fabrics_figure,
    price_per_gpu_hour_figure,
    spot_vs_on_demand_figure,
    storage_tiers_figure,
)
from ._colors import ACCELERATOR_COLORS, accelerator_color, accelerator_colors
from ._fleet import fleet_box_figure, fleet_heatmap_figure, fleet_slow_table_figure
from ._network import collective_time_figure, tcp_throughput_figure
from ._plan import (
    cost_per_million_tokens_figure,
    cost_vs_deadline_figure,
    demand_figure,
    latency_vs_batch_figure,
    pareto_figure,
    replicas_vs_rate_figure,
    step_time_figure,
    step_time_rows,
)
from ._prices import price_history_figure
from ._roofline import roofline
from ._spend import (
    commitment_risk_figure,
    cost_by_pricing_category_figure,
    demand_duration_figure,
    portfolio_cost_figure,
    waste_by_team_figure,
)
from ._storage import (
    accelerator_utilization_figure,
    checkpoint_time_figure,
    measured_vs_tiers_figure,
)

__all__ = [
    "ACCELERATOR_COLORS",
    "accelerator_color",
    "accelerator_colors",
    "accelerator_specs_figure",
    "accelerator_utilization_figure",
    "best_offer_figure",
    "checkpoint_time_figure",
    "collective_time_figure",
    "commitment_risk_figure",
    "cost_by_pricing_category_figure",
    "cost_per_million_tokens_figure",
    "cost_vs_deadline_figure",
    "demand_duration_figure",
    "demand_figure",
    "fabrics_figure",
    "fleet_box_figure",
    "fleet_heatmap_figure",
    "fleet_slow_table_figure",
    "latency_vs_batch_figure",
    "measured_vs_tiers_figure",
    "pareto_figure",
    "portfolio_cost_figure",
    "price_history_figure",
    "price_per_gpu_hour_figure",
    "replicas_vs_rate_figure",
    "roofline",
    "spot_vs_on_demand_figure",
    "step_time_figure",
    "step_time_rows",
    "storage_tiers_figure",
    "tcp_throughput_figure",
    "waste_by_team_figure",
]


def _escaping(fn):
    """Wrap a figure function so that user strings in its figure show as text (issue 11)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from .._markup import escape_figure

        out = fn(*args, **kwargs)
        return escape_figure(out) if hasattr(out, "data") and hasattr(out, "layout") else out

    return wrapper


# every public figure function escapes catalog/user strings in labels, hover text and legends
for _name in __all__:
    if _name.endswith("_figure") or _name == "roofline":
        globals()[_name] = _escaping(globals()[_name])
del _name
