"""Interruption rates of training jobs per fleet class (``data/failure_rates.csv``).

A synchronous job on ``n`` GPUs stops when any of them fails, and also when its own software
does: ``rate(n) = failures_per_gpu_hour * n + job_failures_per_hour`` [1/h]. The first term is
the fleet's hardware (it scales with the GPUs the job holds, so the job's MTBF falls as ``1/n``);
the second does not scale with ``n`` (bugs, collective hangs, dependencies), which is why a
published per-GPU rate read as ``total / (GPUs x hours)`` overstates small jobs' reliability
under a pure ``1/n`` law and understates it nowhere. Each class names its source in the CSV.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass

import numpy as np

__all__ = ["DEFAULT_FLEET_CLASS", "FailureRates", "failure_rates", "interruption_rate_per_hour",
           "load_failure_rates"]

#: the class used when a plan names none (the only hyperscale H100 measurement published)
DEFAULT_FLEET_CLASS = "hyperscale-h100"


@dataclass(frozen=True)
class FailureRates:
    """Interruption rates of one fleet class.

    Parameters
    ----------
    fleet_class : str
    failures_per_gpu_hour : float [1/(GPU h)]
        Hardware interruptions per GPU-hour (scale with the job's GPUs).
    job_failures_per_hour : float [1/h]
        Interruptions per job-hour that do not scale with the job's size.
    source, as_of : str
    """

    fleet_class: str
    failures_per_gpu_hour: float
    job_failures_per_hour: float
    source: str
    as_of: str

    def rate_per_hour(self, n_gpus):
        """Interruptions per hour of a job on ``n_gpus`` GPUs [1/h] (arrays broadcast)."""
        return interruption_rate_per_hour(n_gpus, self.failures_per_gpu_hour, self.job_failures_per_hour)

    def mtbf_s(self, n_gpus):
        """Mean time between interruptions of a job on ``n_gpus`` GPUs [s]."""
        return 3600.0 / self.rate_per_hour(n_gpus)


def interruption_rate_per_hour(n_gpus, failures_per_gpu_hour, job_failures_per_hour=0.0):
    """``failures_per_gpu_hour * n_gpus + job_failures_per_hour`` [1/h] (arrays broadcast)."""
    n = np.asarray(n_gpus, dtype=float)
    out = np.asarray(failures_per_gpu_hour, float) * n + np.asarray(job_failures_per_hour, float)
    return float(out) if out.ndim == 0 else out


@functools.lru_cache(maxsize=2)
def _load(path: str | None) -> dict[str, FailureRates]:
    from .._errors import CatalogError
    from .._paths import data_dir

    p = data_dir() / "failure_rates.csv" if path is None else path
    out = {}
    with open(p, encoding="utf-8") as f:
        lines = [(i + 1, ln) for i, ln in enumerate(f) if ln.strip() and not ln.lstrip().startswith("#")]
    reader = csv.DictReader(ln for _, ln in lines)
    for (lineno, _), row in zip(lines[1:], reader):
        try:
            rates = FailureRates(row["fleet_class"], float(row["failures_per_gpu_hour"]),
                                 float(row["job_failures_per_hour"]), row["source"], row["as_of"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CatalogError(f"bad failure-rate row: {exc}", path=str(p), row=lineno) from None
        if rates.failures_per_gpu_hour < 0 or rates.job_failures_per_hour < 0:
            raise CatalogError("rates must be >= 0", path=str(p), row=lineno)
        out[rates.fleet_class] = rates
    return out


def load_failure_rates(path=None) -> dict[str, FailureRates]:
    """Fleet classes and their rates (default: the shipped ``data/failure_rates.csv``)."""
    return dict(_load(None if path is None else str(path)))


def failure_rates(fleet_class: str = DEFAULT_FLEET_CLASS) -> FailureRates:
    """The rates of one fleet class; unknown names raise with the known ones suggested."""
    from .._errors import UnknownNameError

    table = _load(None)
    if fleet_class not in table:
        raise UnknownNameError("fleet class", fleet_class, list(table),
                               hint="(data/failure_rates.csv lists them with their sources)")
    return table[fleet_class]
