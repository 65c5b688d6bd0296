"""Network: iperf3-like TCP measurement, NCCL collectives, alpha-beta collective models.

Measure (:func:`measure_tcp`, :func:`nccl_collectives` on hosts with two or more GPUs) and
model (:func:`collective_time` for ring, tree, recursive doubling and Rabenseifner;
:func:`hierarchical_collective_time` over the catalog's scale-up and scale-out fabrics;
:func:`busbw_factor` as nccl-tests defines it).
"""

from __future__ import annotations

from ._fabric import collective_efficiency, fabric_collective_time, hierarchical_collective_time
from ._model import (
    ALGORITHMS,
    COLLECTIVES,
    DEFAULT_COLLECTIVE_EFFICIENCY,
    algbw_busbw,
    busbw_factor,
    collective_time,
    normalize_op,
)
from ._nccl import (
    DEFAULT_NCCL_SIZES,
    collective_rows,
    gpu_count,
    nccl_collectives,
    round_nbytes,
    save_collectives,
)
from ._tcp import (
    DEFAULT_BUFFER_BYTES,
    MeasurementError,
    NetworkResult,
    PortInUseError,
    measure_tcp,
    quick_check,
    results_frame,
    save_results,
)

__all__ = [
    "ALGORITHMS",
    "COLLECTIVES",
    "DEFAULT_BUFFER_BYTES",
    "DEFAULT_COLLECTIVE_EFFICIENCY",
    "DEFAULT_NCCL_SIZES",
    "MeasurementError",
    "NetworkResult",
    "PortInUseError",
    "algbw_busbw",
    "busbw_factor",
    "collective_efficiency",
    "collective_rows",
    "collective_time",
    "fabric_collective_time",
    "gpu_count",
    "hierarchical_collective_time",
    "measure_tcp",
    "nccl_collectives",
    "normalize_op",
    "quick_check",
    "results_frame",
    "round_nbytes",
    "save_collectives",
    "save_results",
]
