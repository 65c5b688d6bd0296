"""Efficiencies per accelerator for a search: compute and collective, with their provenance.

The numbers and their defaults belong to ``aicost.calibrate`` (measured GEMM rate / peak and
NCCL busbw / link bandwidth when the results store has them, documented defaults otherwise);
this module only applies them to a set of accelerators the way `resolve_hardware` applies
them to one cluster, so that the planner and ``estimate_training`` agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..calibrate import TRAINING_KERNEL_FACTOR, Efficiency, collective_efficiency, gemm_efficiency

__all__ = [
    "AcceleratorEfficiency",
    "resolve_efficiencies",
]


@dataclass(frozen=True)
class AcceleratorEfficiency:
    """The efficiencies one accelerator gets in a search.

    Attributes
    ----------
    compute : float
        End-to-end compute efficiency [fraction of the dense peak]: the GEMM efficiency times
        the kernel factor, or the caller's number.
    compute_source : str
        Where ``compute`` came from ("measured: ...", "documented default: ...", "given by the
        caller").
    comm : float
        Achieved / link bandwidth of large collectives [-].
    comm_source : str
    """

    compute: float
    compute_source: str
    comm: float
    comm_source: str


def resolve_efficiencies(accelerators: Sequence[str], dtype: str, store=None, efficiency=None,
                         kernel_factor: float = TRAINING_KERNEL_FACTOR,
                         catalog=None) -> dict[str, AcceleratorEfficiency]:
    """Compute and collective efficiencies, with their sources, per accelerator name.

    Parameters
    ----------
    accelerators : sequence of str
        Catalog accelerator names.
    dtype : str
        Compute dtype whose GEMM efficiency is looked up.
    store : aicost.store.Store, optional
        Results store with measurements (default: the user's store when it exists).
    efficiency : float, Efficiency or dict, optional
        For every accelerator, or a dict by name (the others fall back to calibration). A plain
        number is the END-TO-END compute efficiency (fraction of the dense peak while
        computing, kernel factor included) and is used as given. An
        :class:`aicost.calibrate.Efficiency` (what ``aicost.calibrate.gemm_efficiency`` and
        ``aicost.fleet.efficiency`` return) is a GEMM efficiency (achieved GEMM rate / peak)
        and is multiplied by ``kernel_factor``, as a calibrated one is. None: the GEMM
        efficiency from ``aicost.calibrate`` times ``kernel_factor``, exactly as
        `resolve_hardware` does.
    kernel_factor : float
        ``aicost.calibrate.TRAINING_KERNEL_FACTOR`` (training) or ``INFERENCE_KERNEL_FACTOR``.
    catalog : aicost.catalog.Catalog, optional
        Where the accelerators' peaks come from (a measured rate is divided by this peak);
        default the shipped catalog.

    Returns
    -------
    dict
        name -> `AcceleratorEfficiency`.

    Raises
    ------
    ValueError
        For a given efficiency outside (0, 1].
    """
    per: dict = {}
    if isinstance(efficiency, dict):
        per = {str(k).lower(): v for k, v in efficiency.items()}
    elif efficiency is not None:
        per = {a.lower(): efficiency for a in accelerators}
    out: dict[str, AcceleratorEfficiency] = {}
    for a in accelerators:
        c = collective_efficiency(a, store=store, catalog=catalog)
        ce, csrc = float(c.value), str(c.source)
        if a.lower() in per:
            given = per[a.lower()]
            if isinstance(given, Efficiency):  # a GEMM efficiency (calibrate, fleet.efficiency)
                v = float(given.value)
                if not 0 < v <= 1:
                    raise ValueError(f"GEMM efficiency for {a} must be in (0, 1] (fraction of peak), "
                                     f"got {v!r} ({given.source})")
                kind = "measured" if given.measured else "given by the caller"
                out[a] = AcceleratorEfficiency(
                    v * kernel_factor,
                    f"{kind}: GEMM efficiency {v:.2f} x kernel factor {kernel_factor} ({given.source})",
                    ce, csrc)
                continue
            v = float(given)
            if not 0 < v <= 1:
                raise ValueError(f"efficiency for {a} must be in (0, 1] (fraction of peak), got {v!r}")
            out[a] = AcceleratorEfficiency(v, "given by the caller", ce, csrc)
            continue
        g = gemm_efficiency(a, dtype, store=store, catalog=catalog)
        value, src = float(g.value), str(g.source)
        kind = "measured" if src.lower().startswith("measured") else "documented default"
        out[a] = AcceleratorEfficiency(
            value * kernel_factor, f"{kind}: GEMM efficiency {value:.2f} x kernel factor {kernel_factor} ({src})",
            ce, csrc)
    return out
