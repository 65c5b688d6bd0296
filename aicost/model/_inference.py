"""Inference: prefill/decode roofline, KV cache, batch limits, replicas for a rate, $ per token.

Per-layer roofline (Williams, Waterman & Patterson 2009) on one GPU of a ``tp``-way replica:
``t = max(FLOPs / (peak * compute_eff), bytes / (mem_bw * bandwidth_eff))``, summed over the
layers, plus two tensor-parallel all-reduces per layer (Megatron-LM) and the output layer.

The decode step in detail (`decode_step_arrays`; the planner runs the same array functions):

* **GEMMs** (QKV, attention output, FFN; the experts the batch touches) have the batch as rows.
  Their time is ``max(2 N_layer B / (peak * e_gemm(B)), weights / (mem_bw * bandwidth_eff))``:
  the weights are read once per step whatever the batch. ``e_gemm`` is the accelerator's GEMM
  curve at the layer's shapes (:func:`aicost.calibrate_curves.serving_gemm_efficiency`) with
  **split-K**: a batch of 64 gives one row of output tiles (20 tiles for Llama-2-70B's QKV GEMM
  at ``tp`` 4), and cuBLAS/CUTLASS slice the reduction dimension so every SM streams weights
  (wave quantization over output tiles alone would leave 85% of an H100 idle and call the step
  compute-bound). Rows below a 64-row tile still cost a tile, so the GEMMs' compute time is flat
  up to a batch of 64, and decode stays memory-bound up to a batch near the ridge point
  (``peak * e_gemm / (mem_bw * bandwidth_eff)`` FLOPs per weight byte: a few hundred sequences
  on an H100 in FP8).
* **Attention** reads the batch's KV cache, ``B c`` tokens; its products run over the cached
  tokens, so its compute side uses the curve's large-shape efficiency, not the batch's; it is
  memory-bound at every batch.
* **Tensor-parallel all-reduce**, two per layer, of ``B d_model`` activations each (1 MiB at a
  batch of 64 of an 8192-wide model): ``base + 2 (tp - 1) (hop + bytes / (tp bw))`` per call,
  ``base`` the collective library's fixed cost of a call (NCCL 6.6 us, RCCL 12 us: their own
  cost models' ring low-latency base latency, :data:`ALLREDUCE_BASE_LATENCY_S`), ``hop`` the
  scale-up fabric's per-hop latency from the catalog (NVLink 1.5 us, Infinity Fabric 2 us). At
  small batches these latencies, not the bandwidth, are the all-reduce: 16 us per call on 4
  NVLink GPUs, 160 calls per step of an 80-layer model.
* The **output head** (``vocab x d_model`` weights) as one more GEMM.

* Prefill of ``n`` prompts of ``P`` tokens: ``2 N_layer n P + 2 d_attn n P^2`` FLOPs per layer
  (causal attention: half of the ``4 d_attn P^2``), reading the layer's weights once and
  writing the K/V of ``n P`` tokens: compute-bound for any real prompt.
* Decode step at batch ``B`` with context ``c``: ``2 N_layer B + 4 d_attn c B`` FLOPs per
  layer; reads the layer's weights (mixture-of-experts: the experts that ``B`` tokens touch,
  ``E (1 - (1 - k/E)^B)``) and ``B c`` tokens of KV cache. The roofline applies per kernel, and
  the kernels run one after the other: the GEMMs take ``max(2 N_layer B / rate, weights / bw)``,
  the attention kernel ``max(4 d_attn c B / rate, KV / bw)``, and the step is their **sum**. Near
  the ridge point this is what measured engines do (the GEMMs turn compute-bound while attention
  still streams the KV cache, and the two do not overlap); ``max`` of the layer totals would let
  the KV reads hide behind GEMM compute, which no engine's kernel schedule does.
* KV cache: ``2 L n_kv_heads head_dim bytes`` per token (grouped-query attention); with
  ``tp > n_kv_heads`` each GPU keeps one (replicated) KV head.
* Largest batch: ``(memory * GPU_MEMORY_UTILIZATION - weights - workspace) / (KV per sequence
  of P + O tokens)`` (vLLM reserves ``gpu_memory_utilization = 0.9`` of the device and sizes
  the KV pool with what the weights and a profiling forward pass leave).

The prefill produces the first token (its last position's logits are sampled), so the time to
first token without queueing is the prefill alone, not prefill plus a decode step.

Serving engines (``engine="vllm" | "trtllm" | "sglang"``, :mod:`aicost.model._engines`) set the
KV-cache budget rule and the running-batch cap; without one the vLLM-like rule above applies
with no cap. An engine whose decode attention kernel reads a grouped-query model's KV head once
per query head (``EngineSpec.decode_kv_reads``: TensorRT-LLM's masked MHA before XQA, the
``trtllm-static`` preset) reads ``n_heads / n_kv_heads`` times the KV cache per decode step
(``kv_read_factor``).

Continuous batching (Yu et al. 2022, Orca; Kwon et al. 2023, vLLM) at ``B`` concurrent
sequences: each iteration emits one token per sequence and, on average, admits ``B/O`` new
requests whose prefill (chunked) shares the iteration, so
``TPOT(B) = t_decode(B) + (B/O) * t_prefill(1)`` and one replica completes
``mu = (B/O) / TPOT(B)`` requests per second. The batch is the largest that fits and meets the
TPOT target.

Queueing (replicas for a rate): ``R`` replicas offer ``c = R * B`` request slots; a request
holds a slot for ``S = t_prefill(1) + O * TPOT(B)``. With Poisson arrivals at ``lambda`` and
the pooled slots as an M/M/c queue, Erlang C gives the probability ``P_w`` of waiting and the
waiting-time tail ``P(W > t) = P_w exp(-(c/S - lambda) t)``, so the ``p``-quantile wait is
``max(0, ln(P_w / (1 - p)) / (c/S - lambda))`` and ``TTFT_p = wait_p + t_prefill(1)``. The replica count is the smallest with ``rho = lambda S / c < 1`` and
``TTFT_p <= target``. (M/M/c treats service times as exponential; real lifetimes vary with
output length, which this reproduces better than a deterministic M/D/c would.)

Cost: ``R * tp`` GPUs at the hourly price; ``$ per 1M input tokens`` takes the prefill share
of the GPU time a request uses (``t_prefill(1)`` against ``O * t_decode(B) / B``), ``$ per 1M
output tokens`` the decode share (idle capacity is spread over both in the same proportion).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

import numpy as np

from .._checks import positive_int
from .._units import DTYPE_BYTES, GIB, HOUR_S, format_bytes, format_duration, normalize_dtype
from ..calibrate import DEFAULT_BANDWIDTH_EFFICIENCY, INFERENCE_KERNEL_FACTOR
from ..calibrate_curves import serving_gemm_efficiency
from . import _comm
from ._engines import engine_kv_budget_bytes, get_engine
from ._spec import FFN_TYPES, ModelSpec, _spec_check

__all__ = [
    "ALLREDUCE_BASE_LATENCY_S",
    "DEFAULT_ALLREDUCE_BASE_LATENCY_S",
    "DEFAULT_TTFT_PERCENTILE",
    "GPU_MEMORY_UTILIZATION",
    "PREFILL_CHUNK_TOKENS",
    "InferenceEstimate",
    "allreduce_base_latency_s",
    "decode_bound",
    "decode_roofline",
    "decode_step_arrays",
    "erlang_c",
    "inference_arrays",
    "max_batch_arrays",
    "prefill_arrays",
    "replicas_arrays",
    "serving_compute_efficiency",
    "ttft_quantile",
    "estimate_inference",
    "latency_curve",
    "replicas_for_rate",
]

#: vLLM's default gpu_memory_utilization: the engine uses 90% of the device memory
GPU_MEMORY_UTILIZATION = 0.90
#: tokens of one prefill chunk the activation workspace is sized for (vLLM's chunked prefill
#: default max_num_batched_tokens is 2048-8192 depending on version; 8192 is the conservative end)
PREFILL_CHUNK_TOKENS = 8192
#: TTFT targets apply to this percentile of requests unless told otherwise
DEFAULT_TTFT_PERCENTILE = 0.9
#: Fixed software latency of one tensor-parallel all-reduce call [s], by accelerator vendor: the
#: collective library's base latency of a ring all-reduce in its low-latency (LL) protocol, from the
#: libraries' own cost models (``baseLat`` in ``src/graph/tuning.cc``: NCCL 6.6 us, NVIDIA/nccl
#: b6475625; RCCL 12.0 us, ROCm/rccl 9e22c79d). Each of the ring's ``2 (tp - 1)`` steps adds the
#: scale-up fabric's per-hop latency (the catalog fabric's ``latency_us``) on top
#: (:func:`_tp_allreduce`).
ALLREDUCE_BASE_LATENCY_S = {"NVIDIA": 6.6e-6, "AMD": 12.0e-6}
#: The base latency for other vendors and for hardware not in the catalog [s] (NCCL's)
DEFAULT_ALLREDUCE_BASE_LATENCY_S = 6.6e-6


def allreduce_base_latency_s(vendor) -> float:
    """Base latency of one all-reduce call of ``vendor``'s collective library [s]
    (:data:`ALLREDUCE_BASE_LATENCY_S`; :data:`DEFAULT_ALLREDUCE_BASE_LATENCY_S` when unknown)."""
    return float(ALLREDUCE_BASE_LATENCY_S.get(str(vendor or "").strip().upper(), DEFAULT_ALLREDUCE_BASE_LATENCY_S))


# ---- sizes ------------------------------------------------------------------------------
def _kv_heads_per_gpu(spec: ModelSpec, tp):
    return np.ceil(spec.n_kv_heads / np.asarray(tp, dtype=float))


def _kv_bytes_per_token_gpu(spec: ModelSpec, tp, kv_bytes):
    if spec.is_mla:  # the compressed latent + RoPE key, the same on every tensor-parallel rank
        return spec.n_layers * (spec.kv_lora_rank + spec.qk_rope_head_dim) * kv_bytes + 0.0 * np.asarray(tp, float)
    return 2.0 * spec.n_layers * _kv_heads_per_gpu(spec, tp) * spec.d_head * kv_bytes


def _weights_per_gpu(spec: ModelSpec, tp, weight_bytes):
    return spec.n_params * weight_bytes / np.asarray(tp, dtype=float)


def _workspace_bytes(spec: ModelSpec, tp, act_bytes, chunk_tokens=PREFILL_CHUNK_TOKENS):
    """Activation workspace of one prefill chunk on one GPU [B] (an estimate, see module doc)."""
    t = np.asarray(tp, dtype=float)
    ffn_w = FFN_TYPES[spec.ffn] * spec.d_ff * spec.experts_per_token
    per_token = (4.0 * spec.d_model + (spec.d_attn + 2 * spec.d_kv + ffn_w) / t) * act_bytes
    return chunk_tokens * per_token + chunk_tokens * spec.vocab_size / t * 4.0


def max_batch_arrays(spec: ModelSpec, *, tp, context_tokens, memory_bytes, weight_bytes=2.0,
                      kv_bytes=2.0, act_bytes=2.0, utilization=GPU_MEMORY_UTILIZATION, engine=None,
                      cap=True):
    """Largest number of concurrent sequences of ``context_tokens`` that fit (0 = none) [int].

    ``engine`` (a name or :class:`aicost.model.EngineSpec`) applies that engine's KV-cache rule and
    batch cap instead of ``utilization`` of the total memory without a cap. ``cap=False`` leaves
    the engine's batch cap (``EngineSpec.max_batch``) out: the largest batch its KV cache holds.
    """
    weights = _weights_per_gpu(spec, tp, weight_bytes)
    workspace = _workspace_bytes(spec, tp, act_bytes)
    if engine is None:
        free = np.asarray(memory_bytes, float) * utilization - weights - workspace
    else:
        eng = get_engine(engine)
        free = engine_kv_budget_bytes(eng, memory_bytes=memory_bytes, weights_bytes=weights,
                                      workspace_bytes=workspace, tp=tp)
    per_seq = _kv_bytes_per_token_gpu(spec, tp, kv_bytes) * np.asarray(context_tokens, float)
    out = np.maximum(np.floor(free / per_seq), 0.0)
    if cap and engine is not None and eng.max_batch:
        out = np.minimum(out, float(eng.max_batch))
    return out


def _touched_experts(spec: ModelSpec, tokens):
    """Expected distinct experts ``tokens`` tokens route to in one layer (uniform routing)."""
    if not spec.is_moe:
        return np.ones_like(np.asarray(tokens, dtype=float))
    e, k = spec.n_experts, spec.experts_per_token
    return e * (1.0 - (1.0 - k / e) ** np.asarray(tokens, dtype=float))


def _layer_weight_bytes(spec: ModelSpec, tokens, tp, weight_bytes):
    experts = _touched_experts(spec, tokens)
    p = (spec.attn_params_per_layer + spec.router_params_per_layer + spec.norm_params_per_layer
         + experts * spec.ffn_params_per_expert)
    return p * weight_bytes / np.asarray(tp, dtype=float)


def _matmul_params_layer(spec: ModelSpec) -> float:
    return float(spec.active_layer_params - spec.norm_params_per_layer)


def serving_compute_efficiency(spec: ModelSpec, tokens, tp, *, compute_efficiency, gemm_e_max=None,
                               gemm_k_half=None, compute_units=132):
    """Compute efficiency of a serving pass whose GEMMs have ``tokens`` rows [fraction of peak].

    The one rule of `prefill_arrays`, `decode_step_arrays` (hence `estimate_inference`) and
    ``aicost.plan.plan_inference``: where ``gemm_e_max`` is finite,
    :func:`aicost.calibrate_curves.serving_gemm_efficiency` over the layer's GEMM shapes
    (``tokens`` rows, widths split by ``tp``, each expert ``tokens * k / n_experts`` rows) times
    ``aicost.calibrate.INFERENCE_KERNEL_FACTOR`` (the serving roofline does not model the
    non-GEMM kernels); elsewhere ``compute_efficiency`` (given by the caller, or a curve-less
    accelerator). Arrays broadcast.

    Parameters
    ----------
    spec : ModelSpec
    tokens : float or array [tokens]
        Prefill: the prompt tokens of one pass (chunk); decode: the batch.
    tp : int or array
    compute_efficiency : float or array
        The flat efficiency [-].
    gemm_e_max, gemm_k_half : float or array, optional
        The accelerator's :class:`aicost.calibrate_curves.GemmCurve` constants (NaN: none).
    compute_units : int or array
        SMs / CUs.

    Returns
    -------
    float or numpy.ndarray
        ``compute_efficiency`` unchanged when ``gemm_e_max`` is None, else an array [-].
    """
    if gemm_e_max is None:
        return compute_efficiency
    e_max = np.asarray(gemm_e_max, float)
    has = np.isfinite(e_max)
    k_half = np.asarray(139.0 if gemm_k_half is None else gemm_k_half, float)
    shaped = serving_gemm_efficiency(spec, tokens, tp, e_max=np.where(has, e_max, 1.0),
                                     k_half=np.where(np.isfinite(k_half), k_half, 1.0),
                                     n_units=compute_units) * INFERENCE_KERNEL_FACTOR
    return np.where(has, shaped, compute_efficiency)


# ---- times ------------------------------------------------------------------------------
def prefill_arrays(spec: ModelSpec, *, n_seqs, prompt_tokens, tp, peak_flops_per_s, mem_bw_bytes_per_s,
                    compute_efficiency, bandwidth_efficiency, scale_up_bw_bytes_per_s=np.inf,
                    scale_up_latency_s=0.0, weight_bytes=2.0, kv_bytes=2.0, act_bytes=2.0,
                    gemm_e_max=None, gemm_k_half=None, compute_units=132,
                    allreduce_base_latency_s=DEFAULT_ALLREDUCE_BASE_LATENCY_S):
    """Prefill time of ``n_seqs`` prompts of ``prompt_tokens`` on one replica [s] (arrays broadcast).

    ``scale_up_latency_s`` [s] is the fabric's per-hop latency, ``allreduce_base_latency_s`` [s]
    the collective library's fixed cost of one all-reduce call (`_tp_allreduce`).

    ``gemm_e_max``, ``gemm_k_half``, ``compute_units``: the accelerator's GEMM curve; where
    ``gemm_e_max`` is given and finite the compute efficiency is shape-aware
    (`serving_compute_efficiency` at the prompt's tokens, at most one chunk of
    ``PREFILL_CHUNK_TOKENS``), elsewhere ``compute_efficiency``.
    """
    n = np.asarray(n_seqs, float)
    p = np.asarray(prompt_tokens, float)
    t = np.asarray(tp, float)
    toks = n * p
    compute_efficiency = serving_compute_efficiency(
        spec, np.minimum(toks, PREFILL_CHUNK_TOKENS), t, compute_efficiency=compute_efficiency,
        gemm_e_max=gemm_e_max, gemm_k_half=gemm_k_half, compute_units=compute_units)
    flops = (2.0 * _matmul_params_layer(spec) * toks + 2.0 * spec.d_attn * p * toks) / t
    nbytes = (_layer_weight_bytes(spec, toks, t, weight_bytes)
              + toks * _kv_bytes_per_token_gpu(spec, t, kv_bytes) / spec.n_layers
              + 2.0 * toks * spec.d_model * act_bytes)
    rate = np.asarray(peak_flops_per_s, float) * compute_efficiency
    bw = np.asarray(mem_bw_bytes_per_s, float) * bandwidth_efficiency
    layer = np.maximum(flops / rate, nbytes / bw)
    ar = _tp_allreduce(toks * spec.d_model * act_bytes, t, scale_up_bw_bytes_per_s, scale_up_latency_s,
                       allreduce_base_latency_s)
    head = np.maximum(2.0 * spec.vocab_size * spec.d_model * n / t / rate,
                      spec.vocab_size * spec.d_model * weight_bytes / t / bw)
    return spec.n_layers * (layer + 2.0 * ar) + head


def decode_roofline(spec: ModelSpec, *, batch, context_tokens, tp, peak_flops_per_s, mem_bw_bytes_per_s,
                    compute_efficiency, bandwidth_efficiency, weight_bytes=2.0, kv_bytes=2.0,
                    gemm_e_max=None, gemm_k_half=None, compute_units=132, kv_read_factor=1.0):
    """The decode roofline of one transformer layer on one GPU: its compute and memory times [s].

    One decode iteration of ``batch`` sequences at ``context_tokens`` of context executes
    ``2 N_layer b + 4 d_attn c b`` FLOPs per layer (``/ tp``) and reads the layer's weights (the
    experts the batch touches, for mixture-of-experts) and the batch's KV cache. The layer takes
    the larger of the two times; the larger names the bound (`decode_bound`). Arrays broadcast.
    ``kv_read_factor``: KV bytes read per byte cached (``EngineSpec.kv_read_factor``; 1 for
    today's kernels).

    Returns
    -------
    (compute_s, memory_s) : arrays [s]
        FLOPs / (peak x compute efficiency) and bytes / (bandwidth x bandwidth efficiency).
    """
    g_c, g_m, a_c, a_m = _decode_kernels(spec, batch=batch, context_tokens=context_tokens, tp=tp,
                                         peak_flops_per_s=peak_flops_per_s,
                                         mem_bw_bytes_per_s=mem_bw_bytes_per_s,
                                         compute_efficiency=compute_efficiency,
                                         bandwidth_efficiency=bandwidth_efficiency,
                                         weight_bytes=weight_bytes, kv_bytes=kv_bytes, gemm_e_max=gemm_e_max,
                                         gemm_k_half=gemm_k_half, compute_units=compute_units,
                                         kv_read_factor=kv_read_factor)
    return g_c + a_c, g_m + a_m


def _attention_efficiency(compute_efficiency, gemm_e_max):
    """Compute efficiency of the decode attention kernel [-]: its matrix products run over the
    context (FlashDecoding-style tiles of cached tokens), not over the batch, so it is not the
    batch-row GEMM efficiency: the curve's large-shape ``e_max x INFERENCE_KERNEL_FACTOR`` where
    the accelerator has a curve, else ``compute_efficiency``. Decode attention is memory-bound
    either way (``4 d_attn`` FLOPs per ``2 d_kv x bytes`` of KV read)."""
    if gemm_e_max is None:
        return compute_efficiency
    e = np.asarray(gemm_e_max, float)
    return np.where(np.isfinite(e), e * INFERENCE_KERNEL_FACTOR, compute_efficiency)


def _decode_kernels(spec: ModelSpec, *, batch, context_tokens, tp, peak_flops_per_s, mem_bw_bytes_per_s,
                    compute_efficiency, bandwidth_efficiency, weight_bytes=2.0, kv_bytes=2.0,
                    gemm_e_max=None, gemm_k_half=None, compute_units=132, attn_compute_efficiency=None,
                    kv_read_factor=1.0):
    """One layer's decode kernels on one GPU: ``(gemm_compute_s, gemm_memory_s, attn_compute_s,
    attn_memory_s)`` (the GEMMs read the weights, attention reads the KV cache, ``kv_read_factor``
    times: `EngineSpec.kv_read_factor`). ``attn_compute_efficiency``: the attention kernel's
    (`_attention_efficiency`; default from ``compute_efficiency`` and ``gemm_e_max``)."""
    b = np.asarray(batch, float)
    c = np.asarray(context_tokens, float)
    t = np.asarray(tp, float)
    if attn_compute_efficiency is None:
        attn_compute_efficiency = _attention_efficiency(compute_efficiency, gemm_e_max)
    compute_efficiency = serving_compute_efficiency(spec, b, t, compute_efficiency=compute_efficiency,
                                                    gemm_e_max=gemm_e_max, gemm_k_half=gemm_k_half,
                                                    compute_units=compute_units)
    peak = np.asarray(peak_flops_per_s, float)
    rate = peak * compute_efficiency
    bw = np.asarray(mem_bw_bytes_per_s, float) * bandwidth_efficiency
    gemm_c = 2.0 * _matmul_params_layer(spec) * b / t / rate
    gemm_m = _layer_weight_bytes(spec, b, t, weight_bytes) / bw
    attn_c = 4.0 * spec.d_attn * c * b / t / (peak * attn_compute_efficiency)
    attn_m = b * c * _kv_bytes_per_token_gpu(spec, t, kv_bytes) / spec.n_layers * kv_read_factor / bw
    return gemm_c, gemm_m, attn_c, attn_m


def decode_bound(spec: ModelSpec, **kw) -> np.ndarray:
    """``"compute"`` or ``"memory"``: which side of `decode_roofline` bounds a decode step."""
    compute_s, memory_s = decode_roofline(spec, **kw)
    return np.where(compute_s > memory_s, "compute", "memory")


def decode_step_arrays(spec: ModelSpec, *, batch, context_tokens, tp, peak_flops_per_s,
                       mem_bw_bytes_per_s, compute_efficiency, bandwidth_efficiency,
                       scale_up_bw_bytes_per_s=np.inf, scale_up_latency_s=0.0, weight_bytes=2.0,
                       kv_bytes=2.0, act_bytes=2.0, gemm_e_max=None, gemm_k_half=None, compute_units=132,
                       allreduce_base_latency_s=DEFAULT_ALLREDUCE_BASE_LATENCY_S, kv_read_factor=1.0):
    """One decode iteration for ``batch`` sequences at ``context_tokens`` of context [s].

    Every layer's GEMMs and attention kernel each at their roofline, one after the other
    (module docstring), plus two tensor-parallel all-reduces (`_tp_allreduce`: the library's
    ``allreduce_base_latency_s`` [s] + ``2 (tp - 1)`` hops of ``scale_up_latency_s`` [s] + the
    ring's bytes over ``scale_up_bw_bytes_per_s`` [B/s]), then the output head. Arrays
    broadcast. ``gemm_e_max``, ``gemm_k_half``, ``compute_units``: as `prefill_arrays`, with
    the batch as the GEMMs' rows. ``kv_read_factor``: KV bytes the attention kernel reads per byte
    cached (`EngineSpec.kv_read_factor`: a serving engine's kernel; 1 for today's).
    """
    b = np.asarray(batch, float)
    t = np.asarray(tp, float)
    attn_eff = _attention_efficiency(compute_efficiency, gemm_e_max)
    compute_efficiency = serving_compute_efficiency(spec, b, t, compute_efficiency=compute_efficiency,
                                                    gemm_e_max=gemm_e_max, gemm_k_half=gemm_k_half,
                                                    compute_units=compute_units)
    g_c, g_m, a_c, a_m = _decode_kernels(spec, batch=b, context_tokens=context_tokens, tp=t,
                                         peak_flops_per_s=peak_flops_per_s,
                                         mem_bw_bytes_per_s=mem_bw_bytes_per_s,
                                         compute_efficiency=compute_efficiency,
                                         bandwidth_efficiency=bandwidth_efficiency,
                                         weight_bytes=weight_bytes, kv_bytes=kv_bytes,
                                         attn_compute_efficiency=attn_eff, kv_read_factor=kv_read_factor)
    rate = np.asarray(peak_flops_per_s, float) * compute_efficiency
    bw = np.asarray(mem_bw_bytes_per_s, float) * bandwidth_efficiency
    layer = np.maximum(g_c, g_m) + np.maximum(a_c, a_m)
    ar = _tp_allreduce(b * spec.d_model * act_bytes, t, scale_up_bw_bytes_per_s, scale_up_latency_s,
                       allreduce_base_latency_s)
    head = np.maximum(2.0 * spec.vocab_size * spec.d_model * b / t / rate,
                      spec.vocab_size * spec.d_model * weight_bytes / t / bw)
    return spec.n_layers * (layer + 2.0 * ar) + head


def _tp_allreduce(nbytes, tp, bw, lat, base=0.0):
    """One tensor-parallel all-reduce of ``nbytes`` [B] among ``tp`` GPUs [s] (0 at ``tp = 1``).

    ``base + 2 (tp - 1) (lat + nbytes / (tp bw))``: the collective library's fixed cost of a call
    ``base`` [s] (kernel launch and the ranks' handshake: NCCL's and RCCL's ``baseLat``,
    :data:`ALLREDUCE_BASE_LATENCY_S`) plus the ring's ``2 (tp - 1)`` steps, each a fabric hop of
    ``lat`` [s] and a ``1/tp`` share of the message at ``bw`` [B/s] (the alpha-beta ring of
    ``aicost.network.collective_time``). A decode step's messages are small (``batch x d_model``
    activations: 1 MiB at batch 64 of an 8192-wide model), so the latency terms dominate it.
    """
    bw = np.asarray(bw, float)
    base = np.asarray(base, float)
    if np.all(np.isinf(bw)) and np.all(np.asarray(lat) == 0) and np.all(base == 0):
        return np.zeros(np.broadcast_shapes(np.shape(nbytes), np.shape(tp)))
    ring = _comm.allreduce_time(nbytes, tp, np.where(np.isinf(bw), 1e30, bw), lat)
    return ring + np.where(np.asarray(tp, float) > 1, base, 0.0)


def inference_arrays(spec: ModelSpec, *, tp, batch, prompt_tokens, output_tokens, peak_flops_per_s,
                      mem_bw_bytes_per_s, memory_bytes, compute_efficiency, bandwidth_efficiency,
                      scale_up_bw_bytes_per_s=np.inf, scale_up_latency_s=0.0, weight_bytes=2.0,
                      kv_bytes=2.0, act_bytes=2.0, price_usd_per_gpu_hour=np.nan, engine=None,
                      gemm_e_max=None, gemm_k_half=None, compute_units=132,
                      allreduce_base_latency_s=DEFAULT_ALLREDUCE_BASE_LATENCY_S):
    """One replica at a given batch, vectorized (every keyword broadcasts but ``engine``, a
    serving-engine preset for the largest batch: see `max_batch_arrays`). ``gemm_e_max``,
    ``gemm_k_half``, ``compute_units``: the accelerator's GEMM curve for the shape-aware compute
    efficiency of prefill and decode (`serving_compute_efficiency`); None (or NaN) for
    ``compute_efficiency`` as given. ``allreduce_base_latency_s`` [s]: the collective library's
    fixed cost of one tensor-parallel all-reduce (`allreduce_base_latency_s`). The engine's decode
    attention kernel sets the KV bytes a decode step reads (`EngineSpec.kv_read_factor`).

    Returns
    -------
    dict of arrays
        ``weights_bytes, kv_bytes_per_seq, workspace_bytes, max_batch, max_batch_kv`` (the largest
        batch the KV cache holds, without the engine's batch cap), ``fits`` (batch >= 1 and
        <= max_batch), ``prefill_s`` (one prompt), ``decode_step_s`` (at the mean context
        ``P + O/2``), ``tpot_s`` (decode step + the prefill share of an iteration), ``ttft_s``
        (no queue: the prefill, which produces the first token), ``service_s`` (a request's lifetime),
        ``requests_per_s`` (replica throughput), ``output_tokens_per_s``, ``prefill_share``
        (of the GPU time), ``cost_usd_per_hour`` (replica), ``usd_per_1m_input`` and
        ``usd_per_1m_output`` at full load.
    """
    b = np.asarray(batch, float)
    p = np.asarray(prompt_tokens, float)
    o = np.asarray(output_tokens, float)
    t = np.asarray(tp, float)
    common = dict(tp=t, peak_flops_per_s=peak_flops_per_s, mem_bw_bytes_per_s=mem_bw_bytes_per_s,
                  compute_efficiency=compute_efficiency, bandwidth_efficiency=bandwidth_efficiency,
                  scale_up_bw_bytes_per_s=scale_up_bw_bytes_per_s, scale_up_latency_s=scale_up_latency_s,
                  weight_bytes=weight_bytes, kv_bytes=kv_bytes, act_bytes=act_bytes, gemm_e_max=gemm_e_max,
                  gemm_k_half=gemm_k_half, compute_units=compute_units,
                  allreduce_base_latency_s=allreduce_base_latency_s)
    prefill = prefill_arrays(spec, n_seqs=1.0, prompt_tokens=p, **common)
    kvf = 1.0 if engine is None else get_engine(engine).kv_read_factor(spec)
    dec = decode_step_arrays(spec, batch=b, context_tokens=p + o / 2.0, kv_read_factor=kvf, **common)
    tpot = dec + (b / o) * prefill
    service = prefill + o * tpot
    rps = (b / o) / tpot
    max_b = max_batch_arrays(spec, tp=t, context_tokens=p + o, memory_bytes=memory_bytes,
                              weight_bytes=weight_bytes, kv_bytes=kv_bytes, act_bytes=act_bytes, engine=engine)
    max_b_kv = max_b if engine is None or not get_engine(engine).max_batch else max_batch_arrays(
        spec, tp=t, context_tokens=p + o, memory_bytes=memory_bytes, weight_bytes=weight_bytes,
        kv_bytes=kv_bytes, act_bytes=act_bytes, engine=engine, cap=False)
    gpu_prefill = prefill
    gpu_decode = o * dec / b
    share = gpu_prefill / (gpu_prefill + gpu_decode)
    cost_h = t * np.asarray(price_usd_per_gpu_hour, float)
    req_h = rps * HOUR_S
    out = {
        "weights_bytes": _weights_per_gpu(spec, t, weight_bytes) + 0.0 * b,
        "kv_bytes_per_seq": _kv_bytes_per_token_gpu(spec, t, kv_bytes) * (p + o),
        "workspace_bytes": _workspace_bytes(spec, t, act_bytes) + 0.0 * b,
        "max_batch": max_b, "max_batch_kv": max_b_kv, "fits": (b >= 1) & (b <= max_b),
        "prefill_s": prefill + 0.0 * b, "decode_step_s": dec, "tpot_s": tpot,
        "ttft_s": prefill + 0.0 * b, "service_s": service, "requests_per_s": rps,
        "output_tokens_per_s": rps * o, "prefill_share": share, "cost_usd_per_hour": cost_h + 0.0 * b,
        "usd_per_1m_input": cost_h * share / (req_h * p) * 1e6,
        "usd_per_1m_output": cost_h * (1.0 - share) / (req_h * o) * 1e6,
    }
    shape = np.broadcast_shapes(*(np.shape(v) for v in out.values()))
    return {k: np.array(np.broadcast_to(v, shape)) if np.shape(v) != shape else v for k, v in out.items()}


# ---- queueing ---------------------------------------------------------------------------
def erlang_c(c, a):
    """Erlang C: probability an arrival waits in M/M/c with offered load ``a = lambda/mu``.

    Erlang B by its stable forward recursion ``1/B_k = 1 + (k/a) / B_{k-1}`` and
    ``C = B / (1 - rho (1 - B))``, vectorized; 1 where ``a >= c`` (unstable), 0 where ``a = 0``.
    For large loads the recursion starts at ``k0 = a - 12 sqrt(a)`` from the fluid value
    ``B ~ 1 - k0/a``: the recursion damps an initial error by ``prod_{k<a} k/a ~ exp(-72)``, so
    the result equals the full recursion to rounding while costing ``O(sqrt(a))`` steps instead
    of ``O(c)``; beyond ``c > a + 12 sqrt(a) + 40`` the wait probability is below 1e-30 and is
    returned as 0.
    """
    c = np.asarray(c, dtype=float)
    a = np.asarray(a, dtype=float)
    c, a = np.broadcast_arrays(c, a)
    out = np.where(a <= 0, 0.0, 1.0)
    stable = (a < c) & (a > 0)
    spread = 12.0 * np.sqrt(a) + 40.0
    far = stable & (c > a + spread)
    out = np.where(far, 0.0, out)
    work = stable & ~far
    if np.any(work):
        cs, as_ = c[work], a[work]
        k0 = np.maximum(np.floor(as_ - 12.0 * np.sqrt(as_) - 40.0), 0.0)
        inv_b = np.where(k0 > 0, 1.0 / np.maximum(1.0 - k0 / as_, 1e-300), 1.0)  # B_0 = 1
        steps = int((cs - k0).max())
        for j in range(1, steps + 1):
            k = k0 + j
            inv_b = np.where(k <= cs, 1.0 + (k / as_) * inv_b, inv_b)
        b = 1.0 / inv_b
        rho = as_ / cs
        out[work] = b / (1.0 - rho * (1.0 - b))
    return float(out) if out.ndim == 0 else out


#: `replicas_arrays` tabulates the Erlang B recursion per element in tables of at most this many
#: cells (16 MB), for loads whose recursion is at most `_ERLANG_TABLE_MAX_STEPS` long
_ERLANG_TABLE_CELLS = 2_000_000
_ERLANG_TABLE_MAX_STEPS = 20_000


class _ErlangTable:
    """`erlang_c` for fixed offered loads ``a`` (1-D, one per element) at any server count.

    `erlang_c` runs the Erlang B recursion from ``k0`` up to the server count asked; a replica
    search asks for many counts of the same loads. Here the recursion runs once per element, from
    the same start by the same arithmetic, up to the largest count `erlang_c` can need
    (``a + 12 sqrt(a) + 40``; beyond it the answer is 0), and each count is looked up: the same
    numbers as `erlang_c`, without re-running the recursion per count.
    """

    def __init__(self, a: np.ndarray):
        self.a = a
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            pos = (a > 0) & np.isfinite(a)
            ap = np.where(pos, a, 1.0)
            k0 = np.maximum(np.floor(ap - 12.0 * np.sqrt(ap) - 40.0), 0.0)
            inv = np.where(k0 > 0, 1.0 / np.maximum(1.0 - k0 / ap, 1e-300), 1.0)  # B_0 = 1
            top = np.where(pos, np.floor(ap + (12.0 * np.sqrt(ap) + 40.0) - k0), 0.0)
            width = int(top.max()) + 2 if top.size else 1
            tab = np.empty((width, a.size))
            tab[0] = inv
            for j in range(1, width):  # past an element's own top the values are never read
                inv = 1.0 + ((k0 + j) / ap) * inv
                tab[j] = inv
        self.k0, self.tab = k0, tab

    @staticmethod
    def steps(a: np.ndarray) -> np.ndarray:
        """Recursion steps a table needs per element (0 where the load is not positive)."""
        with np.errstate(invalid="ignore"):
            pos = (a > 0) & np.isfinite(a)
            ap = np.where(pos, a, 1.0)
            k0 = np.maximum(np.floor(ap - 12.0 * np.sqrt(ap) - 40.0), 0.0)
            return np.where(pos, np.floor(ap + (12.0 * np.sqrt(ap) + 40.0) - k0), 0.0) + 2.0

    def __call__(self, c, a):
        """`erlang_c(c, a)` for this table's ``a`` (``c`` of the same shape)."""
        c = np.asarray(c, dtype=float)
        a = self.a
        out = np.where(a <= 0, 0.0, 1.0)
        with np.errstate(invalid="ignore"):
            stable = (a < c) & (a > 0)
            spread = 12.0 * np.sqrt(a) + 40.0
            far = stable & (c > a + spread)
        out = np.where(far, 0.0, out)
        idx = np.flatnonzero(stable & ~far)
        if idx.size:
            cs, as_ = c[idx], a[idx]
            j = np.floor(cs - self.k0[idx]).astype(np.int64)
            b = 1.0 / self.tab[np.minimum(j, self.tab.shape[0] - 1), idx]
            rho = as_ / cs
            out[idx] = b / (1.0 - rho * (1.0 - b))
        return out


def _erlang_chunks(a: np.ndarray):
    """Groups of element indices, each with its Erlang C function: a table (`_ErlangTable`) per
    group of similar loads within `_ERLANG_TABLE_CELLS`, `erlang_c` itself for huge loads."""
    steps = _ErlangTable.steps(a)
    big = steps > _ERLANG_TABLE_MAX_STEPS
    if big.any():
        yield np.flatnonzero(big), erlang_c
    order = np.flatnonzero(~big)
    order = order[np.argsort(steps[order], kind="stable")]
    w = steps[order]
    start = 0
    while start < order.size:
        end = start + 1  # loads sorted: the table's width is its last element's
        while end < order.size and (end + 1 - start) * w[end] <= _ERLANG_TABLE_CELLS:
            end += 1
        idx = order[start:end]
        yield idx, _ErlangTable(a[idx])
        start = end


def ttft_quantile(replicas, batch, rate, service_s, base_ttft_s, percentile=DEFAULT_TTFT_PERCENTILE):
    """TTFT at ``percentile`` (``None``: mean) with ``replicas * batch`` slots [s]; inf if unstable."""
    return _ttft_quantile(replicas, batch, rate, service_s, base_ttft_s, percentile, erlang_c)


def _ttft_quantile(replicas, batch, rate, service_s, base_ttft_s, percentile, erlang):
    c = np.asarray(replicas, float) * np.asarray(batch, float)
    lam = np.asarray(rate, float)
    s = np.asarray(service_s, float)
    a = lam * s
    pw = np.asarray(erlang(np.maximum(c, 1.0), a), dtype=float)
    gap = c / s - lam
    with np.errstate(divide="ignore", invalid="ignore"):
        if percentile is None:
            wait = pw / gap
        else:
            wait = np.maximum(np.log(pw / (1.0 - percentile)) / gap, 0.0)
    wait = np.where(a < c, wait, np.inf)
    wait = np.where(lam <= 0, 0.0, wait)
    return base_ttft_s + wait


def replicas_arrays(*, rate, batch, service_s, base_ttft_s, ttft_target_s=np.inf,
                     percentile=DEFAULT_TTFT_PERCENTILE, max_replicas=100000):
    """Smallest replica count meeting ``rate`` [req/s] under the TTFT target (vectorized).

    Returns ``(replicas, ttft_s)``; ``replicas`` is ``inf`` where even ``max_replicas`` (or any
    count, when ``base_ttft_s`` already exceeds the target) cannot meet it. Each element is
    searched on its own (exponential search, then bisection, on `ttft_quantile`), with the Erlang
    B recursion of its load run once (`_ErlangTable`) rather than once per count tried.
    """
    lam = np.asarray(rate, float)
    b = np.asarray(batch, float)
    s = np.asarray(service_s, float)
    base = np.asarray(base_ttft_s, float)
    target = np.asarray(ttft_target_s, float)
    lam, b, s, base, target = np.broadcast_arrays(lam, b, s, base, target)
    shape = lam.shape
    flat = [x.ravel() for x in (lam, b, s, base, target)]
    reps, ttft = np.empty(flat[0].size), np.empty(flat[0].size)
    for idx, erlang in _erlang_chunks(flat[0] * flat[2]):
        reps[idx], ttft[idx] = _replica_search(*(x[idx] for x in flat), percentile, max_replicas, erlang)
    if len(shape) == 0:
        return float(reps[0]), float(ttft[0])
    return reps.reshape(shape), ttft.reshape(shape)


def _replica_search(lam, b, s, base, target, percentile, max_replicas, erlang):
    """`replicas_arrays` over 1-D arrays, with ``erlang`` (`erlang_c` or an `_ErlangTable`)."""
    lo = np.maximum(np.floor(lam * s / np.maximum(b, 1.0)) + 1.0, 1.0)
    lo = np.where(lam <= 0, 1.0, lo)
    ok = lambda r: _ttft_quantile(r, b, lam, s, base, percentile, erlang) <= target  # noqa: E731
    possible = (base <= target) & (b >= 1)
    hi = lo.copy()
    # exponential search for an upper bound, then bisection (TTFT falls as replicas grow)
    for _ in range(40):
        good = ok(hi) | ~possible | (hi >= max_replicas)
        if np.all(good):
            break
        hi = np.where(good, hi, np.minimum(hi * 2.0, max_replicas))
    found = ok(hi) & possible
    lo_ = np.where(ok(lo), lo, lo)
    left = lo_.copy()
    right = hi.copy()
    done_lo = ok(lo)
    right = np.where(done_lo, lo, right)
    for _ in range(60):
        if np.all(right - left <= 1):
            break
        mid = np.floor((left + right) / 2.0)
        good = ok(mid)
        right = np.where(good & (right - left > 1), mid, right)
        left = np.where(~good & (right - left > 1), mid, left)
    reps = np.where(done_lo, lo, right)
    reps = np.where(found, reps, np.inf)
    ttft = np.where(found, _ttft_quantile(np.where(found, reps, 1.0), b, lam, s, base, percentile, erlang),
                    np.inf)
    return reps, ttft


# ---- public -----------------------------------------------------------------------------
def _scale_up_fabric_latency(cat, accelerator) -> float | None:
    """Per-hop latency [s] of the scale-up fabric the catalog's instances of ``accelerator`` use
    (the most common one; None when none has a scale-up fabric or it gives no latency): what
    ``aicost.plan.plan_inference`` takes from each offer, so that a named accelerator gets it too."""
    inst = cat.instances
    fabs = inst.loc[inst["accelerator"] == accelerator, "scale_up_fabric"].dropna()
    if fabs.empty:
        return None
    lat = getattr(cat.fabric(str(fabs.value_counts().index[0])), "latency_s", None)
    return float(lat) if lat is not None and math.isfinite(float(lat)) and lat > 0 else None


def _vendor(cat, accelerator) -> str | None:
    from .._errors import UnknownNameError

    try:
        return cat.accelerator(accelerator).vendor
    except UnknownNameError:
        return None


def _setup(model, accelerator, tp, dtype, kv_dtype, pricing, price_usd_per_gpu_hour, instance,
           compute_efficiency, bandwidth_efficiency, catalog, store, gpus_per_node, engine=None):
    from ..hardware import Cluster, load_catalog, resolve_hardware

    spec = _spec_check(model)
    tp = positive_int("tp", tp)
    dtype = normalize_dtype(dtype)
    kv_dtype = normalize_dtype(kv_dtype or dtype)
    if isinstance(accelerator, Cluster):
        cluster = accelerator
        if price_usd_per_gpu_hour is not None or instance is not None:
            from dataclasses import replace

            cluster = replace(cluster, price_usd_per_gpu_hour=price_usd_per_gpu_hour or cluster.price_usd_per_gpu_hour,
                              instance=instance or cluster.instance)
    else:
        cluster = Cluster(accelerator=str(accelerator), gpus=tp, gpus_per_node=max(tp, gpus_per_node),
                          pricing=pricing, price_usd_per_gpu_hour=price_usd_per_gpu_hour, instance=instance,
                          scale_out_bw_bytes_per_s=1e12,
                          scale_up_latency_s=_scale_up_fabric_latency(load_catalog(catalog), str(accelerator)))
    if spec.n_heads % tp:
        raise ValueError(f"tp={tp} does not divide {spec.name}'s {spec.n_heads} attention heads")
    hw = resolve_hardware(cluster, dtype if dtype not in ("int8",) else "int8", catalog=catalog, store=store,
                          kernel_factor=INFERENCE_KERNEL_FACTOR)
    domain = int(hw.scale_up_domain_gpus or cluster.gpus_per_node)
    if tp > domain:  # a replica may span instances of one NVLink domain (GB200 NVL72), no further
        raise ValueError(f"tp={tp} is larger than the {domain} GPUs of the scale-up domain "
                         f"({cluster.gpus_per_node} per node); a replica's tensor parallelism must "
                         "stay on the scale-up fabric")
    src = dict(hw.sources)
    ce = hw.compute_efficiency if compute_efficiency is None else float(compute_efficiency)
    if compute_efficiency is not None:
        src["efficiency"] = "compute_efficiency (explicit)"
    be = DEFAULT_BANDWIDTH_EFFICIENCY if bandwidth_efficiency is None else float(bandwidth_efficiency)
    src["bandwidth_efficiency"] = ("bandwidth_efficiency (explicit)" if bandwidth_efficiency is not None else
                                   f"DEFAULT_BANDWIDTH_EFFICIENCY {DEFAULT_BANDWIDTH_EFFICIENCY}")
    for name, v in (("compute_efficiency", ce), ("bandwidth_efficiency", be)):
        if not 0 < v <= 1:
            raise ValueError(f"{name} must be in (0, 1], got {v!r}")
    wb = float(DTYPE_BYTES[dtype])
    kb = float(DTYPE_BYTES[kv_dtype])
    ab = 2.0 if wb < 2 else wb
    arr = dict(tp=tp, peak_flops_per_s=hw.peak_flops_per_s, mem_bw_bytes_per_s=hw.mem_bw_bytes_per_s,
               memory_bytes=hw.memory_bytes, compute_efficiency=ce, bandwidth_efficiency=be,
               scale_up_bw_bytes_per_s=hw.scale_up_bw_bytes_per_s * hw.comm_efficiency,
               scale_up_latency_s=hw.scale_up_latency_s, weight_bytes=wb, kv_bytes=kb, act_bytes=ab,
               price_usd_per_gpu_hour=hw.price_usd_per_gpu_hour,
               allreduce_base_latency_s=allreduce_base_latency_s(_vendor(load_catalog(catalog), hw.accelerator)))
    if tp > 1:
        src["tp_allreduce"] = (f"two all-reduces per layer, each {1e6 * arr['allreduce_base_latency_s']:.1f} us "
                               f"(collective library base latency) + 2 x {tp - 1} hops of "
                               f"{1e6 * hw.scale_up_latency_s:.1f} us + the ring's bytes at "
                               f"{arr['scale_up_bw_bytes_per_s'] / 1e9:.0f} GB/s")
    curve = getattr(hw, "gemm_curve", None)
    if compute_efficiency is None and curve is not None:
        from ..hardware import shape_aware_source

        arr.update(gemm_e_max=float(curve.e_max), gemm_k_half=float(curve.k_half),
                   compute_units=int(hw.compute_units))
        src["efficiency"] = (f"{shape_aware_source(curve)} (prefill GEMMs at the prompt's tokens, decode at "
                             f"the batch) x INFERENCE_KERNEL_FACTOR {INFERENCE_KERNEL_FACTOR}")
    if engine is not None:
        arr["engine"] = get_engine(engine)
        src["engine"] = arr["engine"].assumption()
    return spec, tp, dtype, kv_dtype, hw, src, arr


def _check_tokens(prompt_tokens, output_tokens):

    return positive_int("prompt_tokens", prompt_tokens), positive_int("output_tokens", output_tokens)


DEFAULT_BATCH_GRID = tuple(2 ** k for k in range(0, 12))


def latency_curve(model, accelerator="H100-SXM", *, tp=1, prompt_tokens=512, output_tokens=256,
                  batches=None, dtype="bf16", kv_dtype=None, pricing="on_demand",
                  price_usd_per_gpu_hour=None, instance=None, compute_efficiency=None,
                  bandwidth_efficiency=None, catalog=None, store=None, gpus_per_node=8, engine=None):
    """TTFT, TPOT and throughput of one replica against batch size (a DataFrame).

    Columns: ``batch, fits, prefill_s, decode_step_s, tpot_s, ttft_s, requests_per_s,
    output_tokens_per_s, usd_per_1m_input, usd_per_1m_output, bound`` (``memory`` or
    ``compute`` for the decode step).
    """
    import pandas as pd

    p, o = _check_tokens(prompt_tokens, output_tokens)
    spec, tp, dtype, kv_dtype, hw, src, arr = _setup(
        model, accelerator, tp, dtype, kv_dtype, pricing, price_usd_per_gpu_hour, instance,
        compute_efficiency, bandwidth_efficiency, catalog, store, gpus_per_node, engine)
    b = np.asarray(batches if batches is not None else DEFAULT_BATCH_GRID, dtype=float)
    if np.any(b < 1):
        raise ValueError("batch sizes must be >= 1")
    r = inference_arrays(spec, batch=b, prompt_tokens=p, output_tokens=o, **arr)
    bound = _bound(spec, b, p + o / 2.0, arr)
    df = pd.DataFrame({"batch": b.astype(int), "fits": r["fits"], "prefill_s": r["prefill_s"],
                       "decode_step_s": r["decode_step_s"], "tpot_s": r["tpot_s"], "ttft_s": r["ttft_s"],
                       "requests_per_s": r["requests_per_s"], "output_tokens_per_s": r["output_tokens_per_s"],
                       "usd_per_1m_input": r["usd_per_1m_input"], "usd_per_1m_output": r["usd_per_1m_output"],
                       "bound": bound})
    df.attrs["max_batch"] = int(np.asarray(r["max_batch"]).ravel()[0])
    df.attrs["max_batch_kv"] = int(np.asarray(r["max_batch_kv"]).ravel()[0])
    df.attrs["sources"] = src
    return df


def _bound(spec, batch, context_tokens, arr):
    """`decode_bound` with the hardware numbers of `_setup`'s ``arr``."""
    keys = ("tp", "peak_flops_per_s", "mem_bw_bytes_per_s", "compute_efficiency", "bandwidth_efficiency",
            "weight_bytes", "kv_bytes", "gemm_e_max", "gemm_k_half", "compute_units")
    kvf = get_engine(arr["engine"]).kv_read_factor(spec) if arr.get("engine") is not None else 1.0
    return decode_bound(spec, batch=batch, context_tokens=context_tokens, kv_read_factor=kvf,
                        **{k: arr[k] for k in keys if k in arr})


@dataclass(frozen=True)
class InferenceEstimate:
    """Serving one model on replicas of ``tp`` GPUs. Times in seconds, costs in USD."""

    model: str
    accelerator: str
    tp: int
    dtype: str
    kv_dtype: str
    prompt_tokens: int
    output_tokens: int
    weights_bytes_per_gpu: float
    kv_bytes_per_seq_per_gpu: float
    workspace_bytes_per_gpu: float
    memory_bytes_per_gpu: float
    max_batch: int
    batch: int
    prefill_s: float
    decode_step_s: float
    tpot_s: float
    ttft_no_queue_s: float
    requests_per_s_per_replica: float
    output_tokens_per_s_per_replica: float
    requests_per_s: float | None
    replicas: float
    gpus: float
    utilization: float
    ttft_s: float
    ttft_percentile: float | None
    ttft_target_s: float | None
    tpot_target_s: float | None
    price_usd_per_gpu_hour: float
    cost_usd_per_hour: float
    prefill_share: float
    usd_per_1m_input: float
    usd_per_1m_output: float
    usd_per_1m_input_at_capacity: float
    usd_per_1m_output_at_capacity: float
    decode_bound: str
    curve: object = field(default=None, compare=False, repr=False)
    sources: dict = field(default_factory=dict, compare=False)

    @property
    def meets_targets(self) -> bool:
        ok = math.isfinite(self.replicas)
        if self.tpot_target_s is not None:
            ok &= self.tpot_s <= self.tpot_target_s
        if self.ttft_target_s is not None:
            ok &= self.ttft_s <= self.ttft_target_s
        return bool(ok)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("curve", "sources")}

    def _rows(self):
        pct = "mean" if self.ttft_percentile is None else f"p{self.ttft_percentile * 100:g}"
        rows = [
            ("replica", f"{self.tp} x {self.accelerator} ({self.dtype} weights, {self.kv_dtype} KV)"),
            ("memory per GPU", f"weights {format_bytes(self.weights_bytes_per_gpu)}, KV per sequence "
                               f"{format_bytes(self.kv_bytes_per_seq_per_gpu)}, workspace "
                               f"{format_bytes(self.workspace_bytes_per_gpu)} of "
                               f"{format_bytes(self.memory_bytes_per_gpu)}: max batch {self.max_batch}"),
            ("batch", f"{self.batch} concurrent sequences (decode {self.decode_bound}-bound)"),
            ("latency", f"prefill {format_duration(self.prefill_s)}, TPOT {format_duration(self.tpot_s)}, "
                        f"TTFT {format_duration(self.ttft_no_queue_s)} unloaded"),
            ("replica throughput", f"{self.requests_per_s_per_replica:.2f} req/s, "
                                   f"{self.output_tokens_per_s_per_replica:,.0f} output tokens/s"),
        ]
        if self.requests_per_s is not None:
            rows.append(("for the rate", f"{self.requests_per_s:g} req/s: {self.replicas:g} replicas "
                                         f"({self.gpus:g} GPUs), utilization {self.utilization:.0%}, "
                                         f"TTFT {pct} {format_duration(self.ttft_s)}"))
        if math.isfinite(self.cost_usd_per_hour):
            rows.append(("cost", f"${self.cost_usd_per_hour:,.2f}/h; ${self.usd_per_1m_input:.3f} per 1M input, "
                                 f"${self.usd_per_1m_output:.3f} per 1M output tokens (at capacity "
                                 f"${self.usd_per_1m_input_at_capacity:.3f} / "
                                 f"${self.usd_per_1m_output_at_capacity:.3f})"))
        else:
            rows.append(("cost", "unknown: no catalog price; pass price_usd_per_gpu_hour"))
        rows.append(("targets", "met" if self.meets_targets else "NOT met"))
        return rows

    def __str__(self) -> str:
        w = max(len(k) for k, _ in self._rows())
        return f"Serving {self.model}: {self.prompt_tokens} prompt + {self.output_tokens} output tokens\n" + \
            "\n".join(f"  {k:<{w}}  {v}" for k, v in self._rows())

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
                       f"<td style='text-align:left'>{html.escape(v)}</td></tr>" for k, v in self._rows())
        srcs = "".join(f"<li>{html.escape(k)}: {html.escape(str(v))}</li>" for k, v in self.sources.items())
        return (f"<div><b>Serving {html.escape(self.model)}</b><table>{rows}</table>"
                f"<details><summary>sources</summary><ul>{srcs}</ul></details></div>")


def _choose_batch(r, b, tpot_target):
    ok = np.asarray(r["fits"], bool)
    if tpot_target is not None:
        ok &= np.asarray(r["tpot_s"]) <= tpot_target
    if not np.any(ok):
        return None
    return int(b[np.nonzero(ok)[0].max()])


def estimate_inference(model, accelerator="H100-SXM", *, tp=1, prompt_tokens=512, output_tokens=256,
                       requests_per_s=None, ttft_s=None, tpot_s=None,
                       ttft_percentile=DEFAULT_TTFT_PERCENTILE, batch=None, dtype="bf16", kv_dtype=None,
                       pricing="on_demand", price_usd_per_gpu_hour=None, instance=None,
                       compute_efficiency=None, bandwidth_efficiency=None, catalog=None, store=None,
                       gpus_per_node=8, engine=None) -> InferenceEstimate:
    """Estimate serving ``model`` on replicas of ``tp`` accelerators.

    Parameters
    ----------
    model : ModelSpec or str
    accelerator : str or Cluster
        Catalog accelerator name, or a :class:`Cluster` carrying explicit hardware numbers.
    tp : int
        Tensor-parallel GPUs per replica (inside one node).
    prompt_tokens, output_tokens : int
        Mean prompt and output length [tokens].
    requests_per_s : float, optional
        Offered load [requests/s]; with it the replica count comes from the queueing model.
    ttft_s, tpot_s : float or str, optional
        Targets for time to first token (at ``ttft_percentile``) and time per output token.
    ttft_percentile : float or None
        Percentile the TTFT target applies to (``None``: the mean).
    batch : int, optional
        Concurrent sequences per replica; default: the largest that fits and meets ``tpot_s``.
    dtype, kv_dtype : str
        Weight/compute dtype and KV-cache dtype (default: ``dtype``).
    pricing, price_usd_per_gpu_hour, instance : price from the catalog or explicit [USD/GPU-h].
    compute_efficiency, bandwidth_efficiency : float, optional
        Override the prefill compute efficiency and decode bandwidth efficiency.
    engine : {"vllm", "trtllm", "sglang"} or EngineSpec, optional
        Serving-engine preset: its KV-cache memory rule and batch cap (named in ``sources``);
        default: ``GPU_MEMORY_UTILIZATION`` of the memory, no cap.

    Raises
    ------
    aicost.InfeasibleError
        When the weights do not fit or no batch meets the TPOT target.
    """
    from .._errors import InfeasibleError
    from .._units import parse_duration

    p, o = _check_tokens(prompt_tokens, output_tokens)
    ttft_t = None if ttft_s is None else parse_duration(ttft_s)
    tpot_t = None if tpot_s is None else parse_duration(tpot_s)
    for name, v in (("ttft_s", ttft_t), ("tpot_s", tpot_t)):
        if v is not None and v <= 0:
            raise ValueError(f"{name} must be positive, got {v!r}")
    if requests_per_s is not None:
        requests_per_s = float(requests_per_s)
        if not requests_per_s >= 0 or not math.isfinite(requests_per_s):
            raise ValueError(f"requests_per_s must be >= 0, got {requests_per_s!r}")
    if ttft_percentile is not None and not 0 < ttft_percentile < 1:
        raise ValueError(f"ttft_percentile must be in (0, 1) or None, got {ttft_percentile!r}")
    curve = latency_curve(model, accelerator, tp=tp, prompt_tokens=p, output_tokens=o, dtype=dtype,
                          kv_dtype=kv_dtype, pricing=pricing, price_usd_per_gpu_hour=price_usd_per_gpu_hour,
                          instance=instance, compute_efficiency=compute_efficiency,
                          bandwidth_efficiency=bandwidth_efficiency, catalog=catalog, store=store,
                          gpus_per_node=gpus_per_node, engine=engine)
    spec, tp, dtype, kv_dtype, hw, src, arr = _setup(
        model, accelerator, tp, dtype, kv_dtype, pricing, price_usd_per_gpu_hour, instance,
        compute_efficiency, bandwidth_efficiency, catalog, store, gpus_per_node, engine)
    max_b = curve.attrs["max_batch"]
    weights = float(_weights_per_gpu(spec, tp, arr["weight_bytes"]))
    if max_b < 1:
        raise InfeasibleError(
            f"{spec.name} does not fit on {tp} x {hw.accelerator}: weights need {weights / GIB:.1f} GiB per "
            f"GPU (+ workspace and one sequence of KV cache) of {hw.memory_bytes / GIB:.1f} GiB x "
            f"{GPU_MEMORY_UTILIZATION:.0%} usable; raise tp or use a smaller dtype")
    if batch is None:
        grid = np.unique(np.concatenate([np.asarray(DEFAULT_BATCH_GRID, float), [float(max_b)]]))
        grid = grid[grid <= max_b]
        r = inference_arrays(spec, batch=grid, prompt_tokens=p, output_tokens=o, **arr)
        chosen = _choose_batch(r, grid, tpot_t)
        if chosen is None:
            raise InfeasibleError(
                f"no batch meets TPOT {format_duration(tpot_t)} for {spec.name} on {tp} x {hw.accelerator}: "
                f"even batch 1 takes {format_duration(float(r['tpot_s'][0]))} per token; raise tp, use a "
                "faster accelerator or relax the TPOT target")
        # TPOT grows with the batch: refine between the last grid point that meets the target
        # and the next one by bisection on whole batch sizes
        above = grid[grid > chosen]
        if tpot_t is not None and above.size:
            lo, hi = chosen, int(above[0])
            while hi - lo > 1:
                mid = (lo + hi) // 2
                t_mid = float(np.asarray(inference_arrays(spec, batch=float(mid), prompt_tokens=p,
                                                           output_tokens=o, **arr)["tpot_s"]))
                lo, hi = (mid, hi) if t_mid <= tpot_t else (lo, mid)
            chosen = lo
    else:

        chosen = positive_int("batch", batch)
        if chosen > max_b:
            max_kv = curve.attrs.get("max_batch_kv", max_b)
            if chosen <= max_kv:
                eng = get_engine(engine)
                raise InfeasibleError(f"batch {chosen} exceeds the {eng.name} engine's batch cap of {max_b} running "
                                      f"sequences (its KV cache would hold {max_kv}); raise the cap (EngineSpec."
                                      "max_batch, the engine's max_num_seqs / max_batch_size) or lower the batch")
            raise InfeasibleError(f"batch {chosen} does not fit: at most {max_b} sequences of {p + o} tokens "
                                  f"fit on {tp} x {hw.accelerator}")
    r = {k: float(np.asarray(v)) for k, v in
         inference_arrays(spec, batch=chosen, prompt_tokens=p, output_tokens=o, **arr).items()}
    if requests_per_s is not None:
        reps, ttft = replicas_arrays(rate=requests_per_s, batch=chosen, service_s=r["service_s"],
                                      base_ttft_s=r["ttft_s"],
                                      ttft_target_s=np.inf if ttft_t is None else ttft_t,
                                      percentile=ttft_percentile)
        util = requests_per_s * r["service_s"] / (reps * chosen) if math.isfinite(reps) else math.nan
    else:
        reps, ttft, util = 1.0, r["ttft_s"], 1.0
    cost_h = r["cost_usd_per_hour"] * reps
    if requests_per_s:
        tok_in = requests_per_s * p * HOUR_S
        tok_out = requests_per_s * o * HOUR_S
        usd_in = cost_h * r["prefill_share"] / tok_in * 1e6
        usd_out = cost_h * (1 - r["prefill_share"]) / tok_out * 1e6
    else:
        usd_in, usd_out = r["usd_per_1m_input"], r["usd_per_1m_output"]
    bound = str(_bound(spec, np.asarray(float(chosen)), p + o / 2.0, arr))
    src["queueing"] = ("M/M/c (Erlang C) over replicas x batch slots, "
                       + ("mean TTFT" if ttft_percentile is None else f"p{ttft_percentile * 100:g} TTFT"))
    return InferenceEstimate(
        model=spec.name, accelerator=hw.accelerator, tp=tp, dtype=dtype, kv_dtype=kv_dtype,
        prompt_tokens=p, output_tokens=o, weights_bytes_per_gpu=weights,
        kv_bytes_per_seq_per_gpu=r["kv_bytes_per_seq"], workspace_bytes_per_gpu=r["workspace_bytes"],
        memory_bytes_per_gpu=hw.memory_bytes, max_batch=int(max_b), batch=int(chosen),
        prefill_s=r["prefill_s"], decode_step_s=r["decode_step_s"], tpot_s=r["tpot_s"],
        ttft_no_queue_s=r["ttft_s"], requests_per_s_per_replica=r["requests_per_s"],
        output_tokens_per_s_per_replica=r["output_tokens_per_s"], requests_per_s=requests_per_s,
        replicas=reps, gpus=reps * tp, utilization=util, ttft_s=ttft, ttft_percentile=ttft_percentile,
        ttft_target_s=ttft_t, tpot_target_s=tpot_t, price_usd_per_gpu_hour=hw.price_usd_per_gpu_hour,
        cost_usd_per_hour=cost_h, prefill_share=r["prefill_share"], usd_per_1m_input=usd_in,
        usd_per_1m_output=usd_out, usd_per_1m_input_at_capacity=r["usd_per_1m_input"],
        usd_per_1m_output_at_capacity=r["usd_per_1m_output"], decode_bound=bound, curve=curve, sources=src)


def replicas_for_rate(estimate: InferenceEstimate, requests_per_s, ttft_s=None, percentile=None):
    """Replicas an :class:`InferenceEstimate`'s operating point needs for ``requests_per_s``
    (scalar or array) under ``ttft_s`` (default: the estimate's target). Returns replicas (inf =
    impossible)."""
    target = estimate.ttft_target_s if ttft_s is None else float(ttft_s)
    pct = estimate.ttft_percentile if percentile is None else percentile
    service = estimate.prefill_s + estimate.output_tokens * estimate.tpot_s
    reps, _ = replicas_arrays(rate=np.asarray(requests_per_s, float), batch=estimate.batch,
                               service_s=service, base_ttft_s=estimate.ttft_no_queue_s,
                               ttft_target_s=np.inf if target is None else target, percentile=pct)
    return reps
