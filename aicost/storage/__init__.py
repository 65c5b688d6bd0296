"""Storage: fio-like measurement and models of data loading, checkpoints and storage cost.

Measure a file system the way fio does (:func:`measure`, :class:`Workspace`), and model the
catalog's storage tiers: can a tier feed the GPUs (:func:`data_loading`, MLPerf Storage
accelerator utilization), how long a checkpoint takes (:func:`checkpoint_time`), what storage
costs over time (:func:`storage_cost`, :func:`storage_cost_over_time`).
"""

from __future__ import annotations

from ._measure import (
    DIRECT_IO_ALIGNMENT,
    FIO_RW,
    PATTERNS,
    InsufficientSpaceError,
    StorageResult,
    Workspace,
    filesystem_type,
    measure,
    quick_check,
    results_frame,
    save_results,
)
from ._model import (
    HOURS_PER_MONTH,
    MLPERF_STORAGE_AU_THRESHOLDS,
    PAGE_CACHE_FRACTION,
    CheckpointEstimate,
    DataLoadingEstimate,
    StorageCost,
    checkpoint_estimate,
    checkpoint_time,
    data_loading,
    storage_cost,
    storage_cost_over_time,
    tier_iops,
    tier_throughput,
)

__all__ = [  # noqa: RUF022 - plain sorted(), as tests/test_exports.py checks
    "CheckpointEstimate",
    "DIRECT_IO_ALIGNMENT",
    "DataLoadingEstimate",
    "FIO_RW",
    "HOURS_PER_MONTH",
    "InsufficientSpaceError",
    "MLPERF_STORAGE_AU_THRESHOLDS",
    "PAGE_CACHE_FRACTION",
    "PATTERNS",
    "StorageCost",
    "StorageResult",
    "Workspace",
    "checkpoint_estimate",
    "checkpoint_time",
    "data_loading",
    "filesystem_type",
    "measure",
    "quick_check",
    "results_frame",
    "save_results",
    "storage_cost",
    "storage_cost_over_time",
    "tier_iops",
    "tier_throughput",
]
