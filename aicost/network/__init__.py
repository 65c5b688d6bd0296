"""Network: iperf3-like TCP measurement, NCCL collectives, alpha-beta collective models.

Measure (:func:`measure_tcp`, :func:`nccl_collectives` on hosts with two or more GPUs) and
model (:func:`collective_time` for ring, tree, recursive doubling and Rabenseifner;
:func:`aicost.hardware.hierarchical_collective_time` builds on them over the catalog's fabrics;
:func:`busbw_factor` as nccl-tests defines it).
"""

from __future__ import annotations

from ._model import (
    ALGORITHMS,
    COLLECTIVES,
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
    MAX_STREAMS,
    MeasurementError,
    NetworkResult,
    PortInUseError,
    TcpReceiver,
    measure_tcp,
    quick_check,
    results_frame,
    save_results,
    send_tcp,
)

__all__ = [
    "ALGORITHMS",
    "COLLECTIVES",
    "DEFAULT_BUFFER_BYTES",
    "DEFAULT_NCCL_SIZES",
    "MAX_STREAMS",
    "MeasurementError",
    "NetworkResult",
    "PortInUseError",
    "TcpReceiver",
    "algbw_busbw",
    "busbw_factor",
    "collective_rows",
    "collective_time",
    "gpu_count",
    "measure_tcp",
    "nccl_collectives",
    "normalize_op",
    "quick_check",
    "results_frame",
    "round_nbytes",
    "save_collectives",
    "save_results",
    "send_tcp",
]
