"""Network: iperf3-like TCP measurement, NCCL collectives, alpha-beta collective models."""

from __future__ import annotations

from ._model import (
    ALGORITHMS,
    COLLECTIVES,
    DEFAULT_COLLECTIVE_EFFICIENCY,
    algbw_busbw,
    busbw_factor,
    collective_time,
    normalize_op,
)
from ._tcp import (
    DEFAULT_BUFFER_BYTES,
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
    "NetworkResult",
    "PortInUseError",
    "algbw_busbw",
    "busbw_factor",
    "collective_time",
    "measure_tcp",
    "normalize_op",
    "quick_check",
    "results_frame",
    "save_results",
]
