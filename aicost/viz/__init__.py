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
from ._plan import (
    cost_per_million_tokens_figure,
    cost_vs_deadline_figure,
    demand_figure,
    latency_vs_batch_figure,
    pareto_figure,
    replicas_vs_rate_figure,
    step_time_figure,
)

__all__ = [
    "accelerator_specs_figure",
    "best_offer_figure",
    "cost_per_million_tokens_figure",
    "cost_vs_deadline_figure",
    "demand_figure",
    "fabrics_figure",
    "latency_vs_batch_figure",
    "pareto_figure",
    "price_per_gpu_hour_figure",
    "replicas_vs_rate_figure",
    "spot_vs_on_demand_figure",
    "step_time_figure",
    "storage_tiers_figure",
]
