"""Spend across a portfolio: commitments vs on-demand vs spot, and waste from bills and telemetry.

``optimize_portfolio(demand, offers)`` chooses committed GPUs per offer and term over a year of
hourly demand (a HiGHS linear or mixed-integer program through SciPy; needs the ``spend``
extra) and says what to commit to, the coverage and expected utilization, the total against
all on demand, the break-even utilization per offer and the unused-commitment risk under
forecast error. ``analyze_spend(focus, utilization)`` reads a FOCUS 1.0-1.3 bill through DuckDB
(CSV or Parquet, millions of rows, never loaded into pandas) with nvidia-smi / DCGM telemetry and
reports idle GPU-hours and their cost, unused commitments, effective $/GPU-hour against list and
the shortfall, per team. ``rightsize(workloads)`` asks the planner what each workload would run on
today.
"""

from __future__ import annotations

from ._demand import demand_from_bill, demand_from_plans
from ._focus import (
    FOCUS_MANDATORY_COLUMNS,
    FocusBill,
    focus_missing_columns,
    focus_summary,
    gpu_line_items,
    read_focus,
)
from ._inputs import SpendInputError, read_demand, validate_demand
from ._portfolio import (
    DEFAULT_FORECAST_ERRORS,
    DEFAULT_SPOT_SHARE_MAX,
    THREE_YEAR_DISCOUNT,
    Offer,
    Portfolio,
    catalog_offers,
    evaluate_commitments,
    newsvendor_commitment,
    optimize_portfolio,
    spot_overhead_factor,
)
from ._rightsize import rightsize
from ._synthetic import (
    synthetic_dcgm,
    synthetic_demand,
    synthetic_nvidia_smi,
    write_synthetic_focus,
)
from ._telemetry import read_dcgm, read_nvidia_smi, read_utilization
from ._waste import DEFAULT_IDLE_THRESHOLD, SpendAnalysis, analyze_spend

__all__ = [
    "DEFAULT_FORECAST_ERRORS",
    "DEFAULT_IDLE_THRESHOLD",
    "DEFAULT_SPOT_SHARE_MAX",
    "FOCUS_MANDATORY_COLUMNS",
    "FocusBill",
    "Offer",
    "Portfolio",
    "SpendAnalysis",
    "SpendInputError",
    "THREE_YEAR_DISCOUNT",
    "analyze_spend",
    "catalog_offers",
    "demand_from_bill",
    "demand_from_plans",
    "evaluate_commitments",
    "focus_missing_columns",
    "focus_summary",
    "gpu_line_items",
    "newsvendor_commitment",
    "optimize_portfolio",
    "read_dcgm",
    "read_demand",
    "read_focus",
    "read_nvidia_smi",
    "read_utilization",
    "rightsize",
    "spot_overhead_factor",
    "synthetic_dcgm",
    "synthetic_demand",
    "synthetic_nvidia_smi",
    "validate_demand",
    "write_synthetic_focus",
]
