"""Hardware: what a cluster gets - accelerator, fabrics, efficiencies, price - with sources.

The one home for resolving hardware, used by ``aicost.model`` (``estimate_training``,
``estimate_inference``) and ``aicost.plan`` alike:

* `Cluster` (the question) and `resolve_hardware` -> `Hardware` (SI numbers and the source of
  each) for one cluster;
* `offers_table`: the planner's search space, every catalog offer x pricing in SI units, with
  `normalize_pricings` over aicost's one pricing vocabulary (``aicost.catalog.PRICINGS``);
* `resolve_efficiencies` -> `AcceleratorEfficiency`: compute and collective efficiencies per
  accelerator; the numbers and defaults themselves belong to ``aicost.calibrate``;
  `shape_aware_efficiency`: the training compute efficiency of a layout (GEMM curve + layer
  kernel-time model, ``aicost.calibrate_curves``), the default of both ``estimate_training`` and
  the planner;
* fabrics: default latencies and bandwidths (``DEFAULT_SCALE_UP_LATENCY_S``, ...) and collective
  times over catalog fabrics (`fabric_collective_time`, `hierarchical_collective_time`).

Layering: ``catalog``, ``store``, ``calibrate`` and ``network`` -> ``hardware`` -> ``model`` ->
``plan``.
"""

from __future__ import annotations

from ._cluster import Cluster, Hardware, load_catalog, pick_instance, resolve_hardware
from ._efficiency import (
    AcceleratorEfficiency,
    resolve_efficiencies,
    shape_aware_efficiency,
    shape_aware_moe_sublayer_shares,
    shape_aware_source,
    shape_aware_weight_grad_share,
)
from ._fabric import (
    DEFAULT_SCALE_OUT_BW_BYTES_PER_S,
    DEFAULT_SCALE_OUT_LATENCY_S,
    DEFAULT_SCALE_UP_LATENCY_S,
    PCIE4_BW_BYTES_PER_S,
    fabric_collective_time,
    hierarchical_collective_time,
)
from ._offers import normalize_pricings, offers_table

__all__ = [
    "AcceleratorEfficiency",
    "Cluster",
    "DEFAULT_SCALE_OUT_BW_BYTES_PER_S",
    "DEFAULT_SCALE_OUT_LATENCY_S",
    "DEFAULT_SCALE_UP_LATENCY_S",
    "Hardware",
    "PCIE4_BW_BYTES_PER_S",
    "fabric_collective_time",
    "hierarchical_collective_time",
    "load_catalog",
    "normalize_pricings",
    "offers_table",
    "pick_instance",
    "resolve_efficiencies",
    "resolve_hardware",
    "shape_aware_efficiency",
    "shape_aware_moe_sublayer_shares",
    "shape_aware_source",
    "shape_aware_weight_grad_share",
]
