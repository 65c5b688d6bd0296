"""Efficiencies per accelerator for a search: compute and collective, with their provenance.

The numbers and their defaults belong to ``aicost.calibrate`` (measured GEMM rate / peak and
NCCL busbw / link bandwidth when the results store has them, documented defaults otherwise);
this module only applies them to a set of accelerators the way `resolve_hardware` applies
them to one cluster, so that the planner and ``estimate_training`` agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..calibrate import TRAINING_KERNEL_FACTOR, Efficiency, collective_efficiency, gemm_efficiency
from ..calibrate_curves import GemmCurve, compute_units, gemm_curve, layout_compute_efficiency

__all__ = [
    "AcceleratorEfficiency",
    "resolve_efficiencies",
    "shape_aware_efficiency",
    "shape_aware_moe_sublayer_shares",
    "shape_aware_source",
    "shape_aware_weight_grad_share",
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
    gemm_curve : aicost.calibrate_curves.GemmCurve or None
        The accelerator's GEMM curve (fitted to its measurements, else the default family);
        None when the caller gave the efficiency (then ``compute`` is used for every layout).
    peak_flops_per_s, attn_peak_flops_per_s, mem_bw_bytes_per_s : float
        Dense peak in the compute dtype, the bf16 peak the attention core runs at, and the
        memory bandwidth [FLOP/s], [B/s] (NaN when the catalog has none).
    compute_units : int
        SMs / CUs (``aicost.calibrate_curves.compute_units``).
    """

    compute: float
    compute_source: str
    comm: float
    comm_source: str
    gemm_curve: GemmCurve | None = None
    peak_flops_per_s: float = float("nan")
    attn_peak_flops_per_s: float = float("nan")
    mem_bw_bytes_per_s: float = float("nan")
    compute_units: int = 132

    @property
    def shape_aware(self) -> bool:
        """True when training efficiency follows the layout's GEMM shapes (`shape_aware_efficiency`)."""
        return self.gemm_curve is not None


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
        peak, attn_peak, bw = _peaks(a, dtype, catalog)
        curve = gemm_curve(a, dtype, store=store, catalog=catalog) if np.isfinite(peak) and np.isfinite(bw) \
            else None
        out[a] = AcceleratorEfficiency(
            value * kernel_factor, f"{kind}: GEMM efficiency {value:.2f} x kernel factor {kernel_factor} ({src})",
            ce, csrc, gemm_curve=curve, peak_flops_per_s=peak, attn_peak_flops_per_s=attn_peak,
            mem_bw_bytes_per_s=bw, compute_units=compute_units(a))
    return out


def _peaks(name: str, dtype: str, catalog) -> tuple[float, float, float]:
    """(dtype peak, attention peak, memory bandwidth) of a catalog accelerator; NaN where unknown.
    The attention core runs at the bf16 peak in FP8/int8 training, else at the dtype's (as
    `resolve_hardware`)."""
    from ._cluster import load_catalog

    nan = float("nan")
    try:
        acc = load_catalog(catalog).accelerator(name)
    except LookupError:  # not in the catalog: no shape-aware efficiency
        return nan, nan, nan

    def peak(d):
        try:
            v = acc.peak_flops_per_s(d)
        except (ValueError, KeyError, LookupError):  # no peak for this dtype
            return nan
        return float(v) if v else nan

    p = peak(dtype)
    attn = peak("bf16") if dtype in ("fp8", "int8") else p  # the attention core stays in bf16
    bw = float(acc.mem_bw_bytes_per_s or nan)
    return p, (attn if np.isfinite(attn) else p), bw


def shape_aware_efficiency(eff, spec, *, dtype: str, seq_len, tp=1, micro_batch=1, ep=1, cp=1,
                           recompute_code=1, attention: str = "flash"):
    """Training compute efficiency of a layout on one accelerator (arrays broadcast).

    The one rule ``aicost.model.estimate_training`` and the planner share: with a GEMM curve
    (``eff.gemm_curve``, from `resolve_efficiencies` or `resolve_hardware`) the layer kernel-time
    model of :func:`aicost.calibrate_curves.layout_compute_efficiency` over the layout's per-GPU
    GEMM shapes (``micro_batch * seq_len / cp`` rows, widths split by ``tp``, ``ep`` experts'
    tokens gathered per expert) and the non-GEMM work (attention core, norms, activations, FP8
    casts) modelled in it, so no kernel factor on top; without one (an efficiency the caller gave)
    ``eff.compute`` for every layout.

    Parameters
    ----------
    eff : AcceleratorEfficiency or aicost.hardware.Hardware
        Anything with ``gemm_curve``, ``compute`` or ``compute_efficiency``, ``peak_flops_per_s``,
        ``attn_peak_flops_per_s``, ``mem_bw_bytes_per_s`` and ``compute_units``.
    spec : aicost.model.ModelSpec
    dtype : str
    seq_len : int [tokens]
    tp, micro_batch, ep, cp, recompute_code : int or array

    Returns
    -------
    numpy.ndarray
        Fraction of the dense peak [-], the broadcast shape of the layout arguments.
    """
    curve = getattr(eff, "gemm_curve", None)
    shape = np.broadcast_shapes(*(np.shape(x) for x in (tp, micro_batch, ep, cp, recompute_code)))
    if curve is None:
        value = getattr(eff, "compute", None)
        if value is None:
            value = eff.compute_efficiency
        return np.full(shape, float(value))
    return np.broadcast_to(_layer_model(eff, curve, spec, dtype=dtype, seq_len=seq_len, tp=tp, micro_batch=micro_batch,
                                        ep=ep, cp=cp, recompute_code=recompute_code, attention=attention), shape)


def shape_aware_weight_grad_share(eff, spec, *, dtype: str, seq_len, tp=1, micro_batch=1, ep=1, cp=1,
                                  recompute_code=1, attention: str = "flash"):
    """Share of a layer's training kernel time its weight-gradient GEMMs take (arrays broadcast).

    The W pass of the ZB-H1 pipeline schedule (``aicost.model.TRAINING_SCHEDULES``): the GEMMs'
    share of the layer kernel-time model that `shape_aware_efficiency` uses, divided by the GEMM
    passes (forward, input gradients, weight gradients, and the forward again with full recompute:
    the same shapes, transposed, at the same efficiency); the attention core and the memory-bound
    work stay in F and B. NaN without a GEMM curve (an efficiency the caller gave: no kernel times;
    ``aicost.model.training_arrays`` then takes W's share of the FLOPs).

    Parameters
    ----------
    eff : AcceleratorEfficiency or aicost.hardware.Hardware
        As for `shape_aware_efficiency`.
    spec : aicost.model.ModelSpec
    dtype : str
    seq_len : int [tokens]
    tp, micro_batch, ep, cp, recompute_code : int or array

    Returns
    -------
    numpy.ndarray
        W's share of the layer's kernel time [-], the broadcast shape of the layout arguments.
    """
    curve = getattr(eff, "gemm_curve", None)
    shape = np.broadcast_shapes(*(np.shape(x) for x in (tp, micro_batch, ep, cp, recompute_code)))
    if curve is None:
        return np.full(shape, np.nan)
    gemm = _layer_model(eff, curve, spec, dtype=dtype, seq_len=seq_len, tp=tp, micro_batch=micro_batch, ep=ep,
                        cp=cp, recompute_code=recompute_code, attention=attention, part="gemm")
    passes = np.where(np.asarray(recompute_code) == 2, 4.0, 3.0)
    return np.broadcast_to(gemm / passes, shape)


def shape_aware_moe_sublayer_shares(eff, spec, *, dtype: str, seq_len, tp=1, micro_batch=1, ep=1, cp=1,
                                    recompute_code=1, attention: str = "flash"):
    """Kernel time of a MoE layer's attention sub-layer and of its MoE MLP over a layer's (arrays broadcast).

    The pieces the expert-parallel all-to-all overlap pairs the dispatch and combine transfers with
    (``aicost.model.EP_OVERLAP_PAIRING``): the layer kernel-time model of `shape_aware_efficiency`
    (``aicost.calibrate_curves.layout_compute_efficiency``, ``part="moe_attention"`` and
    ``"moe_mlp"``): attention projections, attention core and half the norm/residual traffic; routed
    and shared experts, their activation, the token permutes and the other half; all passes, over the
    mean layer's kernel time. NaN without a GEMM curve (an efficiency the caller gave: no kernel
    times; ``aicost.model.training_arrays`` then takes the FLOP shares).

    Parameters
    ----------
    eff : AcceleratorEfficiency or aicost.hardware.Hardware
        As for `shape_aware_efficiency`.
    spec : aicost.model.ModelSpec
    dtype : str
    seq_len : int [tokens]
    tp, micro_batch, ep, cp, recompute_code : int or array

    Returns
    -------
    numpy.ndarray
        Shape ``broadcast + (2,)``: the attention and the MoE MLP share [-] (0 for a dense model).
    """
    curve = getattr(eff, "gemm_curve", None)
    shape = np.broadcast_shapes(*(np.shape(x) for x in (tp, micro_batch, ep, cp, recompute_code)))
    if curve is None:
        return np.full(shape + (2,), np.nan)
    layout = dict(dtype=dtype, seq_len=seq_len, tp=tp, micro_batch=micro_batch, ep=ep, cp=cp,
                  recompute_code=recompute_code, attention=attention)
    return np.stack([np.broadcast_to(_layer_model(eff, curve, spec, part=p, **layout), shape)
                     for p in ("moe_attention", "moe_mlp")], axis=-1)


def _layer_model(eff, curve, spec, **layout):
    """`aicost.calibrate_curves.layout_compute_efficiency` on ``eff``'s peaks, bandwidth and units."""
    return layout_compute_efficiency(spec, curve=curve, peak_flops_per_s=eff.peak_flops_per_s,
                                     mem_bw_bytes_per_s=eff.mem_bw_bytes_per_s, n_units=eff.compute_units,
                                     attn_peak_flops_per_s=eff.attn_peak_flops_per_s, **layout)


def shape_aware_source(curve, value=None) -> str:
    """Where a shape-aware efficiency comes from, in a plan's words: ``"shape-aware GEMM
    efficiency from <curve source>: 0.xx at this layout"`` (without the number when None)."""
    text = f"shape-aware GEMM efficiency from {curve.source}"
    return text if value is None else f"{text}: {float(value):.2f} at this layout"
