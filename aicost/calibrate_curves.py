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
documented fallback GEMM efficiency (0.72, see :mod:`aicost.calibrate`) and ``k_half`` the H200
fit, the only measured value of it.

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
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "DEFAULT_GEMM_CURVE",
    "ELEMENTWISE_TENSORS_PER_TOKEN",
    "GEMM_TILES",
    "GemmCurve",
    "fit_gemm_curve",
    "gemm_efficiency",
    "layer_compute_efficiency",
    "layer_gemm_shapes",
    "measured_gemm_points",
]

#: (tile_m, tile_n, tile_factor): output-tile shapes cuBLAS/CUTLASS choose among on Hopper and
#: Ampere; smaller tiles reuse each loaded operand less, so they run below the large tile's rate.
GEMM_TILES = ((128, 256, 1.0), (128, 128, 0.92), (64, 128, 0.80))

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
                   dtype_bytes=2.0) -> GemmCurve:
    """Fit ``e_max`` and ``k_half`` to measured GEMMs of ``dtype`` (least squares in log space).

    ``k_half`` is searched on a grid (0-4096 elements); for each value ``e_max`` is the closed-form
    least-squares scale. Returns a :class:`GemmCurve` whose ``source`` names the points.
    """
    dtypes = (dtype,) if isinstance(dtype, str) else tuple(dtype)
    pts = points[points["dtype"].isin(dtypes)]
    if pts.empty:
        raise ValueError(f"no measured GEMMs of dtype {dtypes} to fit; measure with `aicost bench`")
    m, n, k = (pts[c].to_numpy(float) for c in ("m", "n", "k"))
    units = pts["sm_count"].to_numpy(float)
    y = pts["efficiency"].to_numpy(float)
    best = None
    for kh in np.concatenate([[0.0], np.geomspace(8, 4096, 60)]):
        shape = _wave_factor(m, n, units) * k / (k + kh)
        scale = float(np.exp(np.mean(np.log(y) - np.log(shape))))
        trial = GemmCurve(dtype="/".join(dtypes), e_max=min(scale, 1.0), k_half=float(kh))
        pred = np.array([float(gemm_efficiency(a, b, c, curve=trial, peak_flops_per_s=p,
                                               mem_bw_bytes_per_s=mem_bw_bytes_per_s,
                                               dtype_bytes=dtype_bytes, n_units=u))
                         for a, b, c, p, u in zip(m, n, k, pts["peak_flops_per_s"], units)])
        err = float(np.sqrt(np.mean((pred / y - 1.0) ** 2)))
        if best is None or err < best[0]:
            best = (err, trial)
    err, c = best
    devices = ", ".join(sorted(set(pts["device"].astype(str))))
    return GemmCurve(dtype=c.dtype, e_max=c.e_max, k_half=c.k_half, source=f"fit to {len(pts)} measured "
                     f"{'/'.join(dtypes)} GEMMs on {devices}", rms_error=err, n_points=len(pts))


# ---- per-layer shapes and the layer kernel-time model --------------------------------------------
def layer_gemm_shapes(spec, tokens, tp=1):
    """Forward GEMMs of one transformer layer on one GPU: list of ``(name, m, n, k, count)``.

    ``tokens`` is the number of tokens in the micro-batch (``micro_batch * seq_len``); tensor
    parallelism splits ``n`` of the column-parallel GEMMs and ``k`` of the row-parallel ones.
    MoE layers: each of ``n_experts`` experts sees ``tokens * experts_per_token / n_experts``
    tokens (balanced routing), the shared experts all of them; the layer list is the mean over
    dense and MoE layers weighted by their counts.
    """
    t = max(int(tp), 1)
    d = spec.d_model
    qkv_n = (spec.d_attn + 2 * spec.d_kv) // t if not getattr(spec, "is_mla", False) else \
        spec.n_heads * (spec.d_head + spec.qk_rope_head_dim) // t
    shapes = [("qkv", tokens, max(qkv_n, 1), d, 1.0),
              ("attn_out", tokens, d, max(spec.n_heads * spec.d_v_head // t, 1), 1.0)]
    gated = 2 if spec.ffn in ("swiglu", "geglu") else 1
    n_moe = spec.n_moe_layers
    frac_moe = n_moe / spec.n_layers
    if frac_moe < 1.0:
        f = spec.d_ff // t
        shapes += [("ffn_up", tokens, gated * f, d, 1.0 - frac_moe), ("ffn_down", tokens, d, f, 1.0 - frac_moe)]
    if frac_moe > 0.0:
        fe = max(spec.expert_d_ff // t, 1)
        per_expert = max(int(round(tokens * spec.experts_per_token / spec.n_experts)), 1)
        shapes += [("expert_up", per_expert, gated * fe, d, frac_moe * spec.n_experts),
                   ("expert_down", per_expert, d, fe, frac_moe * spec.n_experts)]
        if spec.n_shared_experts:
            shapes += [("shared_up", tokens, gated * fe, d, frac_moe * spec.n_shared_experts),
                       ("shared_down", tokens, d, fe, frac_moe * spec.n_shared_experts)]
    return shapes


def layer_compute_efficiency(spec, *, micro_batch, seq_len, tp=1, peak_flops_per_s, mem_bw_bytes_per_s,
                             n_units=132, dtype_bytes=2.0, curve: GemmCurve = DEFAULT_GEMM_CURVE,
                             attention="flash", attn_peak_flops_per_s=None, recompute="selective",
                             cast_bytes=0.0, context_parallel=1) -> dict:
    """Fraction of peak one layer's training FLOPs run at on one GPU, from its kernels' times.

    Forward GEMMs at :func:`gemm_efficiency`; backward GEMMs (twice the FLOPs, same shapes
    transposed) at the same efficiency; the attention core as ``s x s x head_dim`` GEMMs per head
    at ``attn_peak_flops_per_s`` (bf16 even in FP8 training); elementwise work at memory
    bandwidth (3x the forward bytes for forward + backward, 4x with full recompute).
    ``cast_bytes``: extra bytes per token and layer for FP8 casts (quantize each GEMM input).
    ``context_parallel``: each GPU holds ``seq_len / cp`` tokens of every sequence and attends
    them to all ``seq_len`` keys.

    Returns
    -------
    dict
        ``efficiency`` (layer FLOPs / (time * peak)), and the time shares ``gemm``, ``attention``,
        ``elementwise``.
    """
    b, s = int(micro_batch), int(seq_len)
    cp = max(int(context_parallel), 1)
    sq = s // cp  # queries (and tokens) on this GPU
    tokens = b * sq
    t = max(int(tp), 1)
    passes = 4.0 if recompute == "full" else 3.0  # fwd + 2x bwd (+ fwd again)
    gemm_flops = 0.0
    gemm_time = 0.0
    for _name, m, n, k, count in layer_gemm_shapes(spec, tokens, t):
        f = 2.0 * m * n * k * count * passes
        e = float(gemm_efficiency(m, n, k, curve=curve, peak_flops_per_s=peak_flops_per_s,
                                  mem_bw_bytes_per_s=mem_bw_bytes_per_s, dtype_bytes=dtype_bytes,
                                  n_units=n_units))
        gemm_flops += f
        gemm_time += f / (e * peak_flops_per_s)
    # attention core: QK^T and PV, causal half skipped by FlashAttention-style kernels
    heads = max(spec.n_heads // t, 1)
    attn_pk = peak_flops_per_s if attn_peak_flops_per_s is None else attn_peak_flops_per_s
    hd = spec.d_head
    attn_passes = 4.0 if recompute in ("selective", "full") else 3.0  # selective recomputes it
    attn_flops = 4.0 * b * sq * s * hd * heads * attn_passes
    e_attn = float(gemm_efficiency(sq, s, hd, curve=curve, peak_flops_per_s=attn_pk,
                                   mem_bw_bytes_per_s=mem_bw_bytes_per_s, n_units=n_units))
    causal = 0.5 if attention == "flash" else 1.0
    attn_time = attn_flops * causal / (e_attn * attn_pk)
    act_bytes = 2.0
    # with tensor parallelism the FFN activation is split, and sequence parallelism (aicost's
    # default with tp > 1) splits the norms and residual adds too
    elem = (ELEMENTWISE_TENSORS_PER_TOKEN * spec.d_model + _ACT_TENSORS_PER_FFN * spec.active_ffn_width) / t
    elem_bytes = tokens * (elem * act_bytes + cast_bytes / t) * passes
    if attention != "flash":
        elem_bytes += b * heads * sq * s * act_bytes * _SCORE_PASSES * passes / 2.0
    elem_time = elem_bytes / (mem_bw_bytes_per_s * curve.bw_efficiency)
    total = gemm_time + attn_time + elem_time
    flops = gemm_flops + attn_flops
    return {"efficiency": flops / (total * peak_flops_per_s), "gemm": gemm_time / total,
            "attention": attn_time / total, "elementwise": elem_time / total,
            "gemm_efficiency": gemm_flops / (gemm_time * peak_flops_per_s)}

