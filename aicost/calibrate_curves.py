"""Size-aware compute efficiency: a GEMM efficiency curve and a per-layer kernel-time model.

One fixed fraction of peak for every matrix multiply makes small models too fast and the largest
too slow: a 2304-wide GEMM and a 25600-wide one do not reach the same fraction of peak, and the
memory-bound work between the GEMMs (norms, activations, residual adds, the softmax) weighs
``~1/d_model`` of a layer's time. This module models both from first principles and fits the two
free constants of the GEMM curve to measured shape sweeps.

GEMM curve
----------
A ``m x n x k`` GEMM (``2mnk`` FLOP, ``(mk + kn + mn) * bytes`` of operands) on a device with
peak ``P`` [FLOP/s], memory bandwidth ``B`` [B/s] and ``u`` compute units takes

``t = max( 2mnk / (P * e_max * w(m, n) * k / (k + k_half)),  bytes / (B * bw_eff) )``

* ``e_max``: the asymptotic fraction of peak a large GEMM reaches (clocks under the power cap,
  instruction issue); fitted;
* ``k / (k + k_half)``: a fixed per-output-tile cost (prologue, epilogue, pipeline fill) spread
  over the ``k`` loop; ``k_half`` [elements] fitted;
* ``w(m, n)``: wave quantization. The output is cut into tiles and tiles run in waves of ``u``;
  the last wave runs partly empty: ``w = tiles / (ceil(tiles / u) * u)``. cuBLAS picks among tile
  shapes, so ``w`` is the best over ``GEMM_TILES`` (smaller tiles reuse operands less: their
  ``tile_factor`` < 1);
* the second term is the roofline's memory side (skinny GEMMs: decode, small batches).

:func:`fit_gemm_curve` fits ``e_max`` and ``k_half`` per dtype to measured GEMMs (the shipped
H200 sweep in ``data/results/h200_2026-11.json`` or a user's store). Accelerators never measured
use :data:`DEFAULT_GEMM_CURVE` with their own peak, bandwidth and unit count: ``e_max`` is the
documented fallback GEMM efficiency (0.72 for bf16 on the H100 SXM, see :mod:`aicost.calibrate`),
scaled by the accelerator's published maximum-achievable-matmul efficiency relative to the H100
SXM's where ``data/published_gemm_peaks.csv`` lists it (A100 x1.08, MI300X x0.64, ...:
:func:`aicost.calibrate.default_gemm_efficiency`), and ``k_half`` the H200 fit, the only measured
value of it.

Layer kernel-time model
-----------------------
:func:`layer_compute_efficiency` adds up one transformer layer's time on one GPU: its GEMMs
(shapes from the architecture, tensor parallelism and the micro-batch: :func:`layer_gemm_shapes`;
mixture-of-experts layers run ``tokens * k / E`` tokens through each expert), the attention core
(FlashAttention: as GEMMs of ``s x s x head_dim``; the "materialized" kind of 2021-era Megatron adds
the memory-bound softmax over the ``s x s`` scores) and the memory-bound elementwise work
(:data:`ELEMENTWISE_TENSORS_PER_TOKEN` ``d_model``-sized tensors read or written per token per
pass). The result is the fraction of peak the layer's FLOPs run at: what
``aicost.model.Cluster(efficiency=...)`` takes.

Mixture-of-experts layers move every token ``k`` times outside the GEMMs: the dispatcher permutes
each token into expert order once per routed expert, sorts the received chunks by local expert,
and the combine reads the ``k`` expert outputs back, weights and sums them
(:data:`MOE_PERMUTE_TENSORS_PER_PAIR` ``d_model``-sized tensors per (token, expert) pair and pass,
the backward pass the same again: the gradient of a permutation is its inverse); in FP8 the routed
expert inputs are quantized per pair (:data:`MOE_FP8_CAST_TENSORS_PER_PAIR`). This traffic is
memory-bound and scales with ``tokens * k * d_model``, not with the FLOPs: it weighs most in
narrow, many-expert models (gpt-oss: ``d_model`` 2880, top-4 of 128). Each GPU shuffles the pairs
of the ``tokens / tp`` tokens it dispatches (sequence-parallel dispatch, expert TP 1 as current
Megatron-Core MoE recipes run); balanced routing, so it receives as many pairs as it sends.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "COMPUTE_UNITS",
    "DEFAULT_GEMM_CURVE",
    "ELEMENTWISE_TENSORS_PER_TOKEN",
    "FP8_CAST_TENSORS_PER_TOKEN",
    "GEMM_TILES",
    "GemmCurve",
    "MIN_POINTS_FOR_K_HALF",
    "MOE_FP8_CAST_TENSORS_PER_PAIR",
    "MOE_PERMUTE_TENSORS_PER_PAIR",
    "SPLIT_K_MIN_K",
    "SPLIT_K_SLICES",
    "compute_units",
    "default_gemm_curve",
    "fit_gemm_curve",
    "gemm_curve",
    "gemm_efficiency",
    "layer_compute_efficiency",
    "layer_gemm_shapes",
    "layout_compute_efficiency",
    "measured_gemm_points",
    "serving_gemm_efficiency",
]

#: (tile_m, tile_n, tile_factor): output-tile shapes cuBLAS/CUTLASS choose among on Hopper and
#: Ampere; smaller tiles reuse each loaded operand less, so they run below the large tile's rate.
GEMM_TILES = ((128, 256, 1.0), (128, 128, 0.92), (64, 128, 0.80))
#: Split-K (cuBLAS ``splitKMode`` / CUTLASS split-K and stream-K): a GEMM whose output tiles leave
#: streaming multiprocessors idle (decode: ``m`` = the batch, often one tile row) also cuts the
#: reduction dimension ``k`` into this many slices, each a work unit of its own, so skinny GEMMs
#: fill the machine (the slices' partial sums are reduced afterwards). Slices in powers of two as
#: cuBLAS's heuristics use them; a slice keeps at least ``SPLIT_K_MIN_K`` elements of ``k`` (four
#: 64-deep main-loop stages of a Hopper/Ampere CUTLASS kernel). Serving only
#: (:func:`serving_gemm_efficiency`); the fitted curve and the training layer model keep ``w(m, n)``.
SPLIT_K_SLICES = (1, 2, 4, 8, 16)
SPLIT_K_MIN_K = 256.0

#: d_model-sized tensors each token reads or writes per layer in one forward pass outside the
#: GEMMs (pre-norm block, fused kernels as Megatron-LM/TransformerEngine run them): two norms
#: (read + write: 4), two residual adds with bias/dropout (read 2, write 1: 6), the gated or plain
#: activation over the FFN width (counted separately, per FFN element: see _ACT_TENSORS_PER_FFN)
#: and the rotary/QKV split (2). Backward moves about twice the forward's bytes.
ELEMENTWISE_TENSORS_PER_TOKEN = 12.0
_ACT_TENSORS_PER_FFN = 3.0  # gated unit: read 2 halves, write 1 (plain GELU: read 1, write 1 ~ 2-3)
#: materialized attention (no FlashAttention): softmax, mask and dropout read/write the s x s
#: scores per head about this many times per forward pass
_SCORE_PASSES = 6.0
#: FP8 training: bytes per token and layer, in units of ``d_model``, of the casts that quantize the
#: GEMM inputs (one byte each: the inputs of the QKV, output, FFN-up and FFN-down GEMMs and the
#: two gradients of the backward pass, Transformer Engine's delayed-scaling recipe); the attention
#: core stays in bf16, at the bf16 peak.
FP8_CAST_TENSORS_PER_TOKEN = 6.0
#: MoE token shuffling, in ``d_model``-sized tensors read or written per routed (token, expert) pair
#: in one forward pass outside the GEMMs (Megatron-Core's MoE all-to-all dispatcher with the fused
#: permute kernels): the permute into expert order (read the token, write the pair: 2), the sort of
#: the received chunks by local expert and its inverse after the experts (read + write each: 4);
#: the unpermute that weights and sums a token's ``k`` outputs (read the pair, accumulate into the
#: token) is counted with the sort's inverse. The backward pass moves the same bytes again (not
#: twice: the gradient of a permutation is the inverse permutation).
MOE_PERMUTE_TENSORS_PER_PAIR = 6.0
#: FP8 training: one-byte casts per routed (token, expert) pair, in ``d_model``-sized tensors: the
#: routed expert's input and the gradient of its output are quantized per pair (the per-token
#: :data:`FP8_CAST_TENSORS_PER_TOKEN` stay for the attention, dense and shared-expert GEMMs).
MOE_FP8_CAST_TENSORS_PER_PAIR = 2.0
#: Fewer measured GEMMs than this (of one accelerator and dtype) fit only ``e_max``; ``k_half``
#: then keeps the default family's value (two free constants need shapes that vary ``k``).
MIN_POINTS_FOR_K_HALF = 8
#: Compute units (SMs / CUs) per accelerator family for wave quantization [count] (vendor
#: datasheets: A100 108 SMs, H100/H200/H800/GH200 SXM 132, B200 148, MI300X/MI325X 304 CUs; TPU: 2
#: TensorCores of 4 MXUs with 128x128 tiles, where wave effects are not modelled: 1 means "no
#: quantization"). Matched as a substring of the catalog name, first match wins; others: 132.
COMPUTE_UNITS = {"A100": 108, "H100": 132, "H200": 132, "H800": 132, "GH200": 132, "MI300X": 304,
                 "MI325X": 304, "B200": 148, "TPU": 1}
_DEFAULT_UNITS = 132


def compute_units(accelerator) -> int:
    """Compute units (SMs / CUs) of an accelerator name for wave quantization (:data:`COMPUTE_UNITS`)."""
    name = str(getattr(accelerator, "name", accelerator)).lower()
    for key, u in COMPUTE_UNITS.items():
        if key.lower() in name:
            return u
    return _DEFAULT_UNITS


@dataclass(frozen=True)
class GemmCurve:
    """The two fitted constants of the GEMM efficiency curve, for one dtype.

    Parameters
    ----------
    dtype : str
    e_max : float
        Asymptotic fraction of dense peak [-].
    k_half : float
        Reduction length at which the per-tile fixed cost halves the rate [elements].
    bw_efficiency : float
        Fraction of memory bandwidth a memory-bound GEMM reaches [-].
    source : str
        Where the constants come from (fit and its points, or the documented default).
    rms_error : float
        Root-mean-square relative error of the fit on its points [-] (nan for defaults).
    n_points : int
    """

    dtype: str
    e_max: float
    k_half: float
    bw_efficiency: float = 0.85
    source: str = ""
    rms_error: float = float("nan")
    n_points: int = 0

    def efficiency(self, m, n, k, *, peak_flops_per_s, mem_bw_bytes_per_s, dtype_bytes=2.0, n_units=132):
        """Fraction of ``peak_flops_per_s`` an ``m x n x k`` GEMM reaches (arrays broadcast)."""
        return gemm_efficiency(m, n, k, curve=self, peak_flops_per_s=peak_flops_per_s,
                               mem_bw_bytes_per_s=mem_bw_bytes_per_s, dtype_bytes=dtype_bytes,
                               n_units=n_units)


#: The curve for accelerators and dtypes never measured: the documented fallback GEMM efficiency as
#: the asymptote, the H200 bf16/fp16 fit's k_half (fit_gemm_curve on data/results/h200_2026-11.json).
DEFAULT_GEMM_CURVE = GemmCurve(
    dtype="any", e_max=0.72, k_half=139.0,
    source="default family: e_max = aicost.calibrate fallback GEMM efficiency 0.72; k_half from the "
           "H200 2026-11 bf16/fp16 sweep fit")


def default_gemm_curve(dtype: str = "bf16", accelerator=None, catalog=None) -> GemmCurve:
    """The default family for an accelerator never measured in ``dtype``: ``e_max`` is
    ``aicost.calibrate.default_gemm_efficiency(accelerator, dtype)`` (the documented large-GEMM
    fallback ``DEFAULT_GEMM_EFFICIENCY[dtype]``, scaled by the accelerator's published
    maximum-achievable-matmul efficiency relative to the H100 SXM's where it has one), ``k_half``
    and the bandwidth efficiency those of :data:`DEFAULT_GEMM_CURVE`.

    Parameters
    ----------
    dtype : str
    accelerator : str, Accelerator or None
        None: the unscaled default.
    catalog : aicost.catalog.Catalog, optional
    """
    from ._units import normalize_dtype
    from .calibrate import DEFAULT_GEMM_EFFICIENCY, default_gemm_efficiency

    dtype = normalize_dtype(dtype)
    if dtype not in DEFAULT_GEMM_EFFICIENCY:
        raise ValueError(f"no default GEMM efficiency for {dtype!r}; known: {', '.join(DEFAULT_GEMM_EFFICIENCY)}")
    d = default_gemm_efficiency(accelerator, dtype, catalog=catalog)
    e = d.value
    scale = d.details.get("scale", 1.0)
    what = (f"e_max {e:.2f} = aicost.calibrate.DEFAULT_GEMM_EFFICIENCY[{dtype!r}]" if scale == 1.0 else
            f"e_max {e:.2f} = aicost.calibrate.DEFAULT_GEMM_EFFICIENCY[{dtype!r}] x {scale:.3f}, "
            f"{d.details['accelerator']}'s published max achievable matmul efficiency relative to the H100 SXM's")
    return GemmCurve(dtype=dtype, e_max=e, k_half=DEFAULT_GEMM_CURVE.k_half,
                     bw_efficiency=DEFAULT_GEMM_CURVE.bw_efficiency,
                     source=(f"default family ({what}, k_half {DEFAULT_GEMM_CURVE.k_half:.0f} from the H200 "
                             f"2026-11 sweep fit)"))


def _wave_factor(m, n, n_units):
    m = np.asarray(m, dtype=float)
    n = np.asarray(n, dtype=float)
    best = np.zeros(np.broadcast(m, n).shape)
    for tm, tn, f in GEMM_TILES:
        tiles = np.ceil(m / tm) * np.ceil(n / tn)
        waves = np.ceil(tiles / n_units)
        best = np.maximum(best, f * tiles / (waves * n_units))
    return best


def gemm_efficiency(m, n, k, *, curve: GemmCurve = DEFAULT_GEMM_CURVE, peak_flops_per_s,
                    mem_bw_bytes_per_s, dtype_bytes=2.0, n_units=132):
    """Fraction of peak an ``m x n x k`` GEMM reaches under ``curve`` (module docstring).

    Parameters
    ----------
    m, n, k : int or array
        Output rows, output columns and reduction length [elements].
    curve : GemmCurve
    peak_flops_per_s : float [FLOP/s]
        Dense peak for the dtype.
    mem_bw_bytes_per_s : float [B/s]
    dtype_bytes : float [B]
    n_units : int
        Streaming multiprocessors / compute units (wave quantization).

    Returns
    -------
    numpy.ndarray
        Achieved FLOP/s divided by ``peak_flops_per_s``.
    """
    m = np.asarray(m, dtype=float)
    n = np.asarray(n, dtype=float)
    k = np.asarray(k, dtype=float)
    if np.any(m <= 0) or np.any(n <= 0) or np.any(k <= 0):
        raise ValueError("GEMM dimensions must be positive")
    flops = 2.0 * m * n * k
    rate = peak_flops_per_s * curve.e_max * _wave_factor(m, n, n_units) * k / (k + curve.k_half)
    t_compute = flops / rate
    t_memory = (m * k + k * n + m * n) * dtype_bytes / (mem_bw_bytes_per_s * curve.bw_efficiency)
    return flops / (np.maximum(t_compute, t_memory) * peak_flops_per_s)


# ---- measured points and the fit ---------------------------------------------------------------
def measured_gemm_points(source=None):
    """Measured GEMMs as a DataFrame (``device, dtype, m, n, k, efficiency, peak_flops_per_s,
    sm_count``).

    Parameters
    ----------
    source : path, dict, DataFrame or None
        A results JSON written by ``aicost bench`` / ``scripts/device_check.py`` (default: the
        shipped ``data/results/h200_2026-11.json``), its parsed dict, or a DataFrame with those
        columns (e.g. from the user's store).
    """
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return source
    if source is None:
        from ._paths import data_dir

        source = data_dir() / "results" / "h200_2026-11.json"
    if isinstance(source, (str, Path)):
        source = json.loads(Path(source).read_text(encoding="utf-8"))
    rows = []
    for run in source.get("runs", [source]):
        sm = (run.get("context") or {}).get("device_info", {}).get("sm_count", 132)
        for r in run.get("results", []):
            p = r.get("params") or {}
            if r.get("kernel") != "gemm" or not r.get("peak") or not r.get("value"):
                continue
            if not all(p.get(x) for x in ("m", "n", "k")):
                continue
            rows.append({"device": r.get("device"), "dtype": r.get("dtype"), "m": int(p["m"]),
                         "n": int(p["n"]), "k": int(p["k"]), "efficiency": r["value"] / r["peak"],
                         "peak_flops_per_s": float(r["peak"]), "sm_count": int(sm),
                         "layer": p.get("layer", "")})
    return pd.DataFrame(rows)


def fit_gemm_curve(points, dtype: str | tuple = ("bf16", "fp16"), *, mem_bw_bytes_per_s=4.8e12,
                   dtype_bytes=2.0, k_half: float | None = None) -> GemmCurve:
    """Fit ``e_max`` and ``k_half`` to measured GEMMs of ``dtype`` (least squares in log space).

    ``k_half`` is searched on a grid (0-4096 elements); for each value ``e_max`` is the closed-form
    least-squares scale. ``k_half`` given: only ``e_max`` is fitted (few points). Returns a
    :class:`GemmCurve` whose ``source`` names the points.
    """
    dtypes = (dtype,) if isinstance(dtype, str) else tuple(dtype)
    pts = points[points["dtype"].isin(dtypes)]
    if pts.empty:
        raise ValueError(f"no measured GEMMs of dtype {dtypes} to fit; measure with `aicost bench`")
    m, n, k = (pts[c].to_numpy(float) for c in ("m", "n", "k"))
    units = pts["sm_count"].to_numpy(float)
    peaks = pts["peak_flops_per_s"].to_numpy(float)
    y = pts["efficiency"].to_numpy(float)
    best = None
    grid = np.concatenate([[0.0], np.geomspace(8, 4096, 60)]) if k_half is None else [float(k_half)]
    for kh in grid:
        shape = _wave_factor(m, n, units) * k / (k + kh)
        scale = float(np.exp(np.mean(np.log(y) - np.log(shape))))
        trial = GemmCurve(dtype="/".join(dtypes), e_max=min(scale, 1.0), k_half=float(kh))
        pred = gemm_efficiency(m, n, k, curve=trial, peak_flops_per_s=peaks,
                               mem_bw_bytes_per_s=mem_bw_bytes_per_s, dtype_bytes=dtype_bytes, n_units=units)
        err = float(np.sqrt(np.mean((pred / y - 1.0) ** 2)))
        if best is None or err < best[0]:
            best = (err, trial)
    err, c = best
    devices = ", ".join(sorted(set(pts["device"].astype(str))))
    return GemmCurve(dtype=c.dtype, e_max=c.e_max, k_half=c.k_half, source=f"fit to {len(pts)} measured "
                     f"{'/'.join(dtypes)} GEMMs on {devices}", rms_error=err, n_points=len(pts))


# ---- the curve of an accelerator ----------------------------------------------------------------
def gemm_curve(accelerator, dtype: str = "bf16", store=None, catalog=None) -> GemmCurve:
    """The GEMM curve of ``accelerator`` in ``dtype``: fitted to its measured GEMMs, else the default family.

    Measured GEMMs come from ``aicost.calibrate.measured_gemm`` (the results store, then the
    shipped ``data/results``), each as achieved rate / the catalog's dense peak.
    :data:`MIN_POINTS_FOR_K_HALF` points or more (with at least three reduction lengths) fit both
    constants; fewer fit ``e_max`` only, with the default ``k_half``. Nothing measured:
    :func:`default_gemm_curve`.

    Parameters
    ----------
    accelerator : str or Accelerator
        Catalog name, alias or the name CUDA reports.
    dtype : str
    store : Store, None or False
        As ``aicost.calibrate.gemm_efficiency``.
    catalog : aicost.catalog.Catalog, optional

    Returns
    -------
    GemmCurve
        ``source`` names the fit and its points, or the default family.
    """
    import pandas as pd

    from ._units import normalize_dtype
    from .calibrate import dense_peak_flops, measured_gemm

    dtype = normalize_dtype(dtype)
    acc = _accelerator(accelerator, catalog)
    peak = dense_peak_flops(acc, dtype)
    if peak:
        df = measured_gemm(acc, dtype, store=store, catalog=catalog)
        if len(df):
            units = compute_units(acc.name)
            pts = pd.DataFrame({"device": df["device"].astype(str), "dtype": dtype,
                                "m": df["m"].astype(int), "n": df["n"].astype(int), "k": df["k"].astype(int),
                                "efficiency": pd.to_numeric(df["value"]).to_numpy(float) / peak,
                                "peak_flops_per_s": peak, "sm_count": units})
            pts = pts[(pts["m"] > 0) & (pts["n"] > 0) & (pts["k"] > 0)]
            if len(pts):
                where = sorted({"results store" if o == "store" else f"aicost data/results/{f}"
                                for o, f in zip(df["origin"], df.get("source_file", df["origin"]))})
                key = (dtype, float(acc.mem_bw_bytes_per_s or 0.0),
                       tuple(map(tuple, pts[["m", "n", "k", "efficiency", "sm_count"]].to_numpy(float))),
                       tuple(sorted(set(pts["device"]))), tuple(where))
                return _fit_cached(key)
    return default_gemm_curve(dtype, acc if acc is not None else accelerator, catalog=catalog)


def _accelerator(name, catalog):
    """A catalog Accelerator for a record, a catalog name, an alias or a CUDA device name (None
    when the catalog does not know it: nothing to fit against)."""
    if name is None or hasattr(name, "peak_flops_per_s"):
        return name
    if catalog is None:
        from . import catalog as _catalog

        catalog = _catalog.load()
    try:
        return catalog.accelerator(str(name))
    except LookupError:  # a device the catalog does not know
        return None


@functools.lru_cache(maxsize=64)
def _fit_cached(key) -> GemmCurve:
    import pandas as pd

    dtype, bw, rows, devices, where = key
    arr = np.array(rows, dtype=float)
    pts = pd.DataFrame({"device": devices[0], "dtype": dtype, "m": arr[:, 0], "n": arr[:, 1], "k": arr[:, 2],
                        "efficiency": arr[:, 3], "peak_flops_per_s": 1.0, "sm_count": arr[:, 4]})
    few = len(pts) < MIN_POINTS_FOR_K_HALF or pts["k"].nunique() < 3
    fit = fit_gemm_curve(pts, dtype, mem_bw_bytes_per_s=bw if bw > 0 else 4.8e12,
                         k_half=DEFAULT_GEMM_CURVE.k_half if few else None)
    what = "e_max" if few else "e_max and k_half"
    return GemmCurve(dtype=dtype, e_max=fit.e_max, k_half=fit.k_half, bw_efficiency=fit.bw_efficiency,
                     source=(f"{what} fitted to {len(pts)} measured {dtype} GEMMs on {', '.join(devices)} "
                             f"({'; '.join(where)}; rms error {fit.rms_error:.1%})"),
                     rms_error=fit.rms_error, n_points=len(pts))


# ---- per-layer shapes and the layer kernel-time model --------------------------------------------
def layer_gemm_shapes(spec, tokens, tp=1, ep=1):
    """Forward GEMMs of one transformer layer on one GPU: list of ``(name, m, n, k, count)``.

    ``tokens`` is the number of tokens in the micro-batch (``micro_batch * seq_len / cp``); tensor
    parallelism splits ``n`` of the column-parallel GEMMs and ``k`` of the row-parallel ones.
    MoE layers: with ``ep``-way expert parallelism each GPU holds ``n_experts / ep`` experts, each
    seeing ``tokens * ep * experts_per_token / n_experts`` tokens (balanced routing, the all-to-all
    gathers them from ``ep`` ranks), the shared experts all of them; the layer list is the mean over
    dense and MoE layers weighted by their counts. ``tokens``, ``tp`` and ``ep`` may be arrays
    (broadcast); with scalars the shapes are plain numbers.
    """
    scalar = all(np.ndim(x) == 0 for x in (tokens, tp, ep))
    tokens = np.asarray(tokens, dtype=float)
    t = np.maximum(np.floor(np.asarray(tp, dtype=float)), 1.0)
    e = np.maximum(np.floor(np.asarray(ep, dtype=float)), 1.0)
    d = spec.d_model
    if getattr(spec, "is_mla", False):
        qkv_w = spec.n_heads * (spec.d_head + spec.qk_rope_head_dim)
    else:
        qkv_w = spec.d_attn + 2 * spec.d_kv
    shapes = [("qkv", tokens, np.maximum(np.floor_divide(qkv_w, t), 1.0), d, 1.0),
              ("attn_out", tokens, d, np.maximum(np.floor_divide(spec.n_heads * spec.d_v_head, t), 1.0), 1.0)]
    gated = 2 if spec.ffn in ("swiglu", "geglu") else 1
    n_moe = spec.n_moe_layers
    frac_moe = n_moe / spec.n_layers
    if frac_moe < 1.0:
        f = np.floor_divide(spec.d_ff, t)
        shapes += [("ffn_up", tokens, gated * f, d, 1.0 - frac_moe), ("ffn_down", tokens, d, f, 1.0 - frac_moe)]
    if frac_moe > 0.0:
        fe = np.maximum(np.floor_divide(spec.expert_d_ff, t), 1.0)
        per_expert = np.maximum(np.round(tokens * e * spec.experts_per_token / spec.n_experts), 1.0)
        local = frac_moe * spec.n_experts / e
        shapes += [("expert_up", per_expert, gated * fe, d, local),
                   ("expert_down", per_expert, d, fe, local)]
        if spec.n_shared_experts:
            shapes += [("shared_up", tokens, gated * fe, d, frac_moe * spec.n_shared_experts),
                       ("shared_down", tokens, d, fe, frac_moe * spec.n_shared_experts)]
    if scalar:
        def num(x):
            x = float(x)
            return int(x) if x.is_integer() else x
        shapes = [(name, num(m), num(n), num(k), float(c)) for name, m, n, k, c in shapes]
    return shapes


def _split_k_efficiency(m, n, k, n_units, k_half):
    """Compute-side efficiency of an ``m x n x k`` GEMM with split-K, before ``e_max`` [-].

    The best over output tiles (:data:`GEMM_TILES`) and k-slices ``s`` (:data:`SPLIT_K_SLICES`,
    each slice at least :data:`SPLIT_K_MIN_K` long) of
    ``tile_factor * useful * w * (k/s) / (k/s + k_half)``: ``useful = m n / (tiles * tile area)``
    is the share of the tiles' rows and columns that are real (a batch of 160 on 128-row tiles
    computes 256 rows, a batch of 8 on the smallest, 64-row, tiles 64: Hopper's ``wgmma`` has 64
    rows), ``w = tiles s / (ceil(tiles s / u) u)`` the wave
    quantization of the ``tiles * s`` work units over ``u`` compute units, and each slice pays the
    per-tile fixed cost over its own ``k/s``. ``s = 1`` is :func:`_wave_factor` with the padding
    counted.
    """
    m = np.asarray(m, dtype=float)
    n = np.asarray(n, dtype=float)
    k = np.asarray(k, dtype=float)
    best = np.zeros(np.broadcast(m, n, k, n_units, k_half).shape)
    for tm, tn, f in GEMM_TILES:
        rows = np.ceil(m / tm)
        tiles = rows * np.ceil(n / tn)
        base = f * m / (rows * tm) * n / (np.ceil(n / tn) * tn)
        for s in SPLIT_K_SLICES:
            ks = k / s
            units = tiles * s
            e = base * units / (np.ceil(units / n_units) * n_units) * ks / (ks + k_half)
            best = np.maximum(best, e) if s == 1 else np.where(ks >= SPLIT_K_MIN_K, np.maximum(best, e), best)
    return best


def serving_gemm_efficiency(spec, tokens, tp=1, *, e_max, k_half, n_units=132):
    """Compute-side efficiency of one layer's forward GEMMs at ``tokens`` rows (serving).

    The FLOP-weighted harmonic mean over :func:`layer_gemm_shapes` (``ep = 1``: a replica holds
    every expert, so an expert sees ``tokens * experts_per_token / n_experts`` rows) of
    ``e_max * tile_factor * useful * w * (k/s) / (k/s + k_half)`` with split-K
    (:func:`_split_k_efficiency`): the compute side of :func:`gemm_efficiency` without its memory
    term, because the serving roofline (``aicost.model.prefill_arrays``, ``decode_step_arrays``)
    charges the weight and KV reads itself. Prefill GEMMs have the prompt's tokens as rows, a
    decode step's the batch.

    Split-K matters for decode: at a batch of 64 a layer's GEMMs have one 64-row tile row, e.g.
    ``(8192 + 2 x 1024) / 4 / 128 = 20`` tiles of Llama-2-70B's QKV GEMM at tensor parallelism 4
    on 132 SMs: without slicing ``k`` the GEMM would run on 20 SMs (15% of the machine) and the
    decode step would look compute-bound; cuBLAS and CUTLASS slice ``k`` (split-K, stream-K) so
    every SM streams weights, and the step stays memory-bound (the weights read once per step), as
    measured engines are up to a batch near the ridge point. Rows beyond the real ones count as
    work (a batch of 8 computes a 64-row tile; mixture-of-experts decode: an expert's 160 rows fill
    two 128-row tiles), so the compute time of a decode GEMM is flat up to 64 rows and its
    efficiency (FLOPs of the real rows) grows with the batch; the decode attention kernel runs
    over the context and has its own (``aicost.model.decode_step_arrays``).

    Parameters
    ----------
    spec : aicost.model.ModelSpec
    tokens : float or array
        Rows of the layer's GEMMs [tokens].
    tp : int or array
        Tensor parallelism (splits the widths).
    e_max, k_half : float or array
        The curve's constants (:class:`GemmCurve`), per accelerator when arrays.
    n_units : int or array
        :func:`compute_units`.

    Returns
    -------
    numpy.ndarray
        GEMM FLOPs / (GEMM time x peak) [-], the broadcast shape of the arguments.
    """
    e_max = np.asarray(e_max, dtype=float)
    k_half = np.asarray(k_half, dtype=float)
    units = np.asarray(n_units, dtype=float)
    flops = 0.0
    time = 0.0
    for _name, m, n, k, count in layer_gemm_shapes(spec, np.maximum(np.asarray(tokens, dtype=float), 1.0), tp):
        fl = 2.0 * m * n * k * count
        e = e_max * _split_k_efficiency(m, n, k, units, k_half)
        flops = flops + fl
        time = time + fl / e
    return np.asarray(flops / time)


def layer_compute_efficiency(spec, *, micro_batch, seq_len, tp=1, peak_flops_per_s, mem_bw_bytes_per_s,
                             n_units=132, dtype_bytes=2.0, curve: GemmCurve = DEFAULT_GEMM_CURVE,
                             attention="flash", attn_peak_flops_per_s=None, recompute="selective",
                             cast_bytes=0.0, context_parallel=1, expert_parallel=1) -> dict:
    """Fraction of peak one layer's training FLOPs run at on one GPU, from its kernels' times.

    Forward GEMMs at :func:`gemm_efficiency`; backward GEMMs (twice the FLOPs, same shapes
    transposed) at the same efficiency; the attention core as ``s x s x head_dim`` GEMMs per head
    at ``attn_peak_flops_per_s`` (bf16 even in FP8 training); elementwise work at memory
    bandwidth (3x the forward bytes for forward + backward, 4x with full recompute).
    ``cast_bytes``: extra bytes per token and layer for FP8 casts (quantize each GEMM input).
    ``context_parallel``: each GPU holds ``seq_len / cp`` tokens of every sequence and attends
    them to all ``seq_len`` keys. ``expert_parallel``: see :func:`layer_gemm_shapes`.
    Every layout argument may be an array (broadcast): :func:`layout_compute_efficiency` is the
    planner's entry.

    Returns
    -------
    dict
        ``efficiency`` (layer FLOPs / (time * peak)), the time shares ``gemm``, ``attention``,
        ``elementwise``, ``gemm_efficiency``, and a MoE layer's sub-layer times over the mean layer's
        ``moe_attention`` and ``moe_mlp`` (:func:`layout_compute_efficiency`'s ``part``); floats for
        scalar arguments, else arrays.
    """
    rc = {"none": 0, "selective": 1, "full": 2}[recompute] if isinstance(recompute, str) else recompute
    out = _layer_model(spec, micro_batch=micro_batch, seq_len=seq_len, tp=tp, cp=context_parallel,
                       ep=expert_parallel, recompute_code=rc, peak=peak_flops_per_s,
                       attn_peak=attn_peak_flops_per_s, bw=mem_bw_bytes_per_s, n_units=n_units,
                       dtype_bytes=dtype_bytes, curve=curve, attention=attention, cast_bytes=cast_bytes)
    if all(np.ndim(x) == 0 for x in (micro_batch, seq_len, tp, context_parallel, expert_parallel, rc)):
        out = {k: float(v) for k, v in out.items()}
    return out


def layout_compute_efficiency(spec, *, curve: GemmCurve, peak_flops_per_s, mem_bw_bytes_per_s, dtype="bf16",
                              seq_len, tp=1, micro_batch=1, ep=1, cp=1, recompute_code=1, n_units=132,
                              attn_peak_flops_per_s=None, attention="flash", part="efficiency"):
    """Training compute efficiency of a layout (arrays broadcast): the planner's and
    ``aicost.model.estimate_training``'s default.

    :func:`layer_compute_efficiency` with the dtype's conventions: FP8 (and int8) GEMMs move one
    byte per element and pay :data:`FP8_CAST_TENSORS_PER_TOKEN` ``d_model``-sized casts per token
    and layer, the attention core runs at ``attn_peak_flops_per_s`` (the bf16 peak).

    Parameters
    ----------
    spec : ModelSpec
    curve : GemmCurve
        The accelerator's curve (:func:`gemm_curve`).
    peak_flops_per_s, mem_bw_bytes_per_s : float [FLOP/s], [B/s]
    dtype : str
    seq_len : int [tokens]
    tp, micro_batch, ep, cp, recompute_code : int or array
        Layout (``recompute_code`` 0 none, 1 selective, 2 full).
    n_units : int
        :func:`compute_units`.
    attn_peak_flops_per_s : float, optional [FLOP/s]
        Default ``peak_flops_per_s``.
    attention : {"flash", "materialized"}
    part : {"efficiency", "gemm", "attention", "elementwise", "gemm_efficiency", "moe_attention", "moe_mlp"}
        Which of :func:`layer_compute_efficiency`'s numbers to return (default the efficiency;
        ``"gemm"``: the GEMMs' share of the layer's kernel time, which the ZB-H1 schedule's
        weight-gradient pass takes ``1/passes`` of; ``"moe_attention"`` and ``"moe_mlp"``: the kernel
        time of a MoE layer's attention sub-layer (projections, attention core, half the norm/residual
        traffic) and of its MoE MLP (routed and shared experts, their activation, the token permutes,
        the other half), all passes, over the mean layer's kernel time [-], 0 for a dense model: the
        pieces the expert-parallel all-to-all overlap pairs the transfers with,
        ``aicost.model.EP_OVERLAP_PAIRING``).

    Returns
    -------
    numpy.ndarray
        Model FLOPs of a layer / (kernel time x peak) [-] (or the ``part`` asked for [-]).
    """
    low = str(dtype).lower().startswith(("fp8", "int8"))
    return _layer_model(spec, micro_batch=micro_batch, seq_len=seq_len, tp=tp, cp=cp, ep=ep,
                        recompute_code=recompute_code, peak=peak_flops_per_s, attn_peak=attn_peak_flops_per_s,
                        bw=mem_bw_bytes_per_s, n_units=n_units, dtype_bytes=1.0 if low else 2.0, curve=curve,
                        attention=attention,
                        cast_bytes=FP8_CAST_TENSORS_PER_TOKEN * spec.d_model if low else 0.0)[part]


def _layer_model(spec, *, micro_batch, seq_len, tp, cp, ep, recompute_code, peak, attn_peak, bw, n_units,
                 dtype_bytes, curve, attention, cast_bytes) -> dict:
    """The layer kernel-time model on arrays (module docstring); one code path for every caller."""
    f = lambda x: np.asarray(x, dtype=float)  # noqa: E731
    b = np.floor(f(micro_batch))
    s = np.floor(f(seq_len))
    c = np.maximum(np.floor(f(cp)), 1.0)
    sq = np.floor_divide(s, c)  # queries (and tokens) on this GPU
    tokens = b * sq
    t = np.maximum(np.floor(f(tp)), 1.0)
    rc = np.asarray(recompute_code)
    passes = np.where(rc == 2, 4.0, 3.0)  # fwd + 2x bwd (+ fwd again)
    gemm_flops = 0.0
    gemm_time = 0.0
    attn_gemm_time = 0.0  # the attention projections (qkv, attn_out): the same in every layer
    moe_gemm_time = 0.0  # routed and shared experts, mean over layers (a MoE layer's: / frac_moe)
    for name, m, n, k, count in layer_gemm_shapes(spec, tokens, t, ep):
        fl = 2.0 * m * n * k * count * passes
        e = gemm_efficiency(m, n, k, curve=curve, peak_flops_per_s=peak, mem_bw_bytes_per_s=bw,
                            dtype_bytes=dtype_bytes, n_units=n_units)
        gemm_flops = gemm_flops + fl
        gemm_time = gemm_time + fl / (e * peak)
        if name in ("qkv", "attn_out"):
            attn_gemm_time = attn_gemm_time + fl / (e * peak)
        elif name.startswith(("expert_", "shared_")):
            moe_gemm_time = moe_gemm_time + fl / (e * peak)
    # attention core: QK^T and PV, causal half skipped by FlashAttention-style kernels
    heads = np.maximum(np.floor_divide(spec.n_heads, t), 1.0)
    attn_pk = peak if attn_peak is None else attn_peak
    hd = float(getattr(spec, "attn_flops_width", spec.d_attn)) / spec.n_heads  # MLA: mean of QK and V heads
    attn_passes = np.where(rc >= 1, 4.0, 3.0)  # selective (and full) recompute it
    attn_flops = 4.0 * b * sq * s * hd * heads * attn_passes
    e_attn = gemm_efficiency(sq, s, hd, curve=curve, peak_flops_per_s=attn_pk, mem_bw_bytes_per_s=bw,
                             n_units=n_units)
    causal = 0.5 if attention == "flash" else 1.0
    attn_time = attn_flops * causal / (e_attn * attn_pk)
    act_bytes = 2.0
    # with tensor parallelism the FFN activation is split, and sequence parallelism (aicost's
    # default with tp > 1) splits the norms and residual adds too
    elem = (ELEMENTWISE_TENSORS_PER_TOKEN * spec.d_model + _ACT_TENSORS_PER_FFN * spec.active_ffn_width) / t
    elem_bytes = tokens * (elem * act_bytes + cast_bytes / t) * passes
    # a MoE layer's sub-layers (the EP overlap's pieces): each takes half the norm/residual/cast traffic
    bw_eff = bw * curve.bw_efficiency
    half_elem = 0.5 * tokens * (ELEMENTWISE_TENSORS_PER_TOKEN * spec.d_model * act_bytes + cast_bytes) / t * passes
    moe_mlp_time = 0.0
    if spec.n_moe_layers:  # MoE token shuffling per routed pair (module docstring), fwd + bwd (+ recompute)
        frac_moe = spec.n_moe_layers / spec.n_layers
        pairs = tokens / t * spec.experts_per_token * frac_moe
        moe_pass = MOE_PERMUTE_TENSORS_PER_PAIR * act_bytes * (passes - 1.0)
        if cast_bytes:
            moe_pass = moe_pass + MOE_FP8_CAST_TENSORS_PER_PAIR
        elem_bytes = elem_bytes + pairs * spec.d_model * moe_pass
        moe_act = (tokens * _ACT_TENSORS_PER_FFN * (spec.experts_per_token + spec.n_shared_experts)
                   * spec.expert_d_ff / t * act_bytes * passes)
        moe_mlp_time = (moe_gemm_time / frac_moe + (half_elem + moe_act + pairs / frac_moe * spec.d_model * moe_pass)
                        / bw_eff)
    attn_elem_bytes = half_elem
    if attention != "flash":
        scores = b * heads * sq * s * act_bytes * _SCORE_PASSES * passes / 2.0
        elem_bytes = elem_bytes + scores
        attn_elem_bytes = attn_elem_bytes + scores
    elem_time = elem_bytes / bw_eff
    total = gemm_time + attn_time + elem_time
    flops = gemm_flops + attn_flops
    return {"efficiency": flops / (total * peak), "gemm": gemm_time / total,
            "attention": attn_time / total, "elementwise": elem_time / total,
            "gemm_efficiency": gemm_flops / (gemm_time * peak),
            "moe_attention": (attn_gemm_time + attn_time + attn_elem_bytes / bw_eff) / total,
            "moe_mlp": moe_mlp_time / total}
