"""Memory per GPU: model states (ZeRO), activations (Korthikanti et al. 2022), KV cache.

Model states (Rajbhandari et al. 2020, "ZeRO: Memory Optimizations Toward Training Trillion
Parameter Models", Sec. 3.1 and 5): mixed-precision Adam keeps ``2Ψ`` bytes of bf16/fp16
weights, ``2Ψ`` of gradients and ``KΨ = 12Ψ`` of optimizer state (fp32 master weights, first
and second moments). ZeRO stage 1 shards the optimizer state over the ``dp`` data-parallel
ranks, stage 2 also the gradients, stage 3 also the weights (FSDP full sharding).

Activations (Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer
Models", Table 2), bytes per transformer layer for ``s`` tokens, micro-batch ``b``, hidden
``h``, ``a`` heads, tensor parallelism ``t`` (2-byte activations):

=================================  ==========================
no parallelism                     ``sbh(34 + 5as/h)``
tensor parallel                    ``sbh(10 + 24/t + 5as/(ht))``
tensor + sequence parallel         ``sbh/t (34 + 5as/h)``
tensor parallel + selective        ``sbh(10 + 24/t)``
tensor + sequence + selective      ``sbh/t * 34``
full recompute                     ``2sbh`` (the layer input)
=================================  ==========================

Without dropout (``ModelSpec.dropout`` False: most models since 2023) the two 1-byte dropout masks
of the ``10`` are not stored. The 24 that tensor parallelism shards is 2 (Q) + 2 (K) + 2 (V) + 2 (attention output) + 16 (the
two ``4h``-wide GELU tensors). aicost writes these terms from the architecture, so the table
is reproduced exactly for a GPT-style model (multi-head, GELU, ``d_ff = 4h``) and generalises to
grouped-query attention (K and V are ``2*kv_heads*head_dim/h`` each), gated FFNs (three
``d_ff``-wide tensors: ``6 d_ff/h``) and mixture-of-experts (``experts_per_token`` expert MLPs
per token). The ``5as/h`` term (softmax output, dropout mask and output) is what selective
recompute (or FlashAttention) removes. With a 1F1B pipeline schedule stage ``i`` holds the
activations of ``min(pp - i, n_micro_batches)`` micro-batches of its layers (Korthikanti
Sec. 4.2.3), so the first stage is the most loaded; when ``pp`` does not divide ``L`` the
``L mod pp`` extra layers go to the last stages, which hold the fewest micro-batches in flight
(Megatron-Core's ``--decoder-first-pipeline-num-layers``; Llama 3 405B's 126 layers on 16 stages,
arXiv:2407.21783 Sec. 3.3.2), and the most loaded stage is the larger of the first stage
(``floor(L/pp)`` layers x ``min(pp, m)``) and the first stage with an extra layer
(``ceil(L/pp)`` x ``min(L mod pp, m)``). The interleaved schedule with ``v`` model chunks per GPU
keeps ``min(pp v + pp - 1, m v)`` chunk-micro-batches of ``L/(pp v)`` layers in flight on the
first stage (Megatron-LM's warm-up of ``2(pp-1) + (v-1) pp`` chunk-micro-batches plus one, capped
by the ``m v`` there are): ``L (1 + (pp-1)/(pp v))`` layers' worth when ``m`` is large
(Korthikanti Sec. 4.2.3), ``m/pp`` of the model's layers when ``m <= pp``. The output layer adds
``4sbh/t (1 + v/h)`` (logits in fp32) on the last stage and the embedding dropout ``sbh*p/t`` on
the first (Sec. 4.3).

FP8 training (TransformerEngine recipes, current or delayed scaling, MXFP8) casts every GEMM input
to FP8 and keeps that FP8 copy, not the bf16 one, for the weight-gradient GEMM: the tensors that
are only GEMM inputs (the two normalized layer inputs and the down-projection input) are stored in
``FP8_GEMM_INPUT_BYTES``; the attention inputs and output (FlashAttention's backward reads them in
bf16), the norm inputs and the FFN up-projection outputs stay bf16. It also keeps FP8 copies of the
local weights (row-wise and, for the transposed GEMMs of the backward pass, column-wise) for the
whole step: ``FP8_WEIGHT_CACHE_BYTES_PER_PARAM`` per parameter besides the bf16 weights.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import numpy as np

from .._checks import positive_int
from .._units import DTYPE_BYTES, GIB, format_bytes, normalize_dtype
from ._spec import FFN_TYPES, ModelSpec, _spec_check

__all__ = [
    "FP8_GEMM_INPUT_BYTES",
    "FP8_WEIGHT_CACHE_BYTES_PER_PARAM",
    "OPTIMIZER_STATE_BYTES",
    "RECOMPUTE_CODES",
    "RUNTIME_RESERVE_BYTES",
    "MemoryBreakdown",
    "activation_bytes_per_layer",
    "model_state_bytes",
    "optimizer_state_bytes",
    "_stage_params",
    "_training_memory_arrays",
    "kv_cache_bytes",
    "training_memory",
]

#: optimizer state bytes per parameter kept besides the training-dtype weights and gradients,
#: for mixed precision (fp32 master copy + states; Rajbhandari et al. 2020: K = 12 for Adam)
OPTIMIZER_STATE_BYTES = {"adamw": 12, "adam": 12, "sgd": 8, "lion": 8, "adafactor": 4}
#: the same in pure fp32 training (no separate master copy)
_OPTIMIZER_STATE_BYTES_FP32 = {"adamw": 8, "adam": 8, "sgd": 4, "lion": 4, "adafactor": 0}
#: recompute modes and their codes in the array functions
RECOMPUTE_CODES = {"none": 0, "selective": 1, "full": 2}
#: memory a GPU loses to the CUDA context, NCCL buffers and allocator fragmentation, kept free
#: by ``MemoryBreakdown.fits`` (an assumption: the CUDA context alone takes ~0.5 GiB on
#: Hopper, NCCL and the PyTorch caching allocator's fragmentation take the rest)
RUNTIME_RESERVE_BYTES = 2 * GIB
#: bytes per value of the activations FP8 training keeps as GEMM inputs (the FP8 cast that
#: TransformerEngine saves for the weight-gradient GEMM; MXFP8's block scales add ~3%, ignored)
FP8_GEMM_INPUT_BYTES = 1.0
#: FP8 copies of the local weights kept through a step in FP8 training: row-wise for the forward
#: GEMM and column-wise (transposed) for the data-gradient GEMM, 1 byte each (TransformerEngine
#: caches them across micro-batches; Hopper's FP8 tensor cores take only the TN layout) [B/param]
FP8_WEIGHT_CACHE_BYTES_PER_PARAM = 2.0


def _recompute_code(recompute) -> np.ndarray:
    if isinstance(recompute, str) or (isinstance(recompute, np.ndarray) and recompute.dtype.kind in "UO"):
        arr = np.asarray(recompute)
        out = np.empty(arr.shape, dtype=np.int64)
        for idx, val in np.ndenumerate(arr):
            key = str(val).lower()
            if key not in RECOMPUTE_CODES:
                raise ValueError(f"recompute must be one of {', '.join(RECOMPUTE_CODES)}, got {val!r}")
            out[idx] = RECOMPUTE_CODES[key]
        return out if out.shape else out.reshape(())
    arr = np.asarray(recompute, dtype=np.int64)
    if np.any((arr < 0) | (arr > 2)):
        raise ValueError("recompute codes must be 0 (none), 1 (selective) or 2 (full)")
    return arr


def _stage_params(spec: ModelSpec, tp, pp, ep=1):
    """Parameters held by one GPU of the largest pipeline stage before ZeRO sharding.

    Layers split ``ceil(L/pp)`` per stage; the vocabulary-parallel embedding (and the untied
    output projection) are sharded over ``tp``. With ``pp > 1`` the first stage holds the input
    embedding and the last the output projection (a copy when tied, as Megatron-LM does).
    Expert parallelism ``ep`` shards the routed experts of mixture-of-experts layers ``ep`` ways
    (each GPU keeps ``n_experts / ep`` of them; shared experts stay replicated).
    """
    tp = np.asarray(tp, dtype=float)
    pp = np.asarray(pp, dtype=float)
    ep = np.asarray(ep, dtype=float)
    layers = np.ceil(spec.n_layers / pp)
    vd = float(spec.vocab_size * spec.d_model)
    emb_only = float(spec.embedding_params)
    single = emb_only + spec.head_params
    multi = max(emb_only, vd)
    embed = np.where(pp <= 1, single, multi)
    routed = spec.n_experts * spec.ffn_params_per_expert * spec.n_moe_layers / spec.n_layers
    per_layer = spec.layer_params - routed * (1.0 - 1.0 / ep)
    return (layers * per_layer + embed) / tp + spec.final_norm_params


def model_state_bytes(params, dp, zero_stage, weight_bytes=2.0, grad_bytes=2.0, optim_bytes=12.0):
    """Weights, gradients and optimizer bytes per GPU under ZeRO stage 0-3 (arrays broadcast).

    ``params`` is the parameter count one GPU would hold without ZeRO (after tensor and
    pipeline sharding). Returns ``(weights, gradients, optimizer)`` [B].
    """
    params = np.asarray(params, dtype=float)
    dp = np.asarray(dp, dtype=float)
    z = np.asarray(zero_stage)
    w = params * weight_bytes / np.where(z >= 3, dp, 1.0)
    g = params * grad_bytes / np.where(z >= 2, dp, 1.0)
    o = params * optim_bytes / np.where(z >= 1, dp, 1.0)
    return w, g, o


def activation_bytes_per_layer(spec: ModelSpec, micro_batch, seq_len, tp, sequence_parallel,
                                recompute_code, act_bytes=2.0, gemm_input_bytes=None):
    """Activation bytes of one transformer layer on one GPU (Korthikanti et al. 2022, Table 2).

    ``gemm_input_bytes``: bytes per value of the tensors kept only as GEMM inputs (the QKV and FFN
    inputs after the norms, the down-projection input); default ``act_bytes``;
    ``FP8_GEMM_INPUT_BYTES`` in FP8 training.
    """
    s = np.asarray(seq_len, dtype=float)
    b = np.asarray(micro_batch, dtype=float)
    t = np.asarray(tp, dtype=float)
    sp = np.asarray(sequence_parallel, dtype=bool)
    rc = np.asarray(recompute_code)
    h = float(spec.d_model)
    a = float(spec.n_heads)
    # bytes per value, relative to Korthikanti's 2-byte activations
    gi = 2.0 if gemm_input_bytes is None else 2.0 * np.asarray(gemm_input_bytes, float) / float(act_bytes)
    # FFN: the up-projection output(s) (2 bytes per d_ff each; two for gated FFNs) and the
    # down-projection input (a GEMM input: GELU's output, SwiGLU's product)
    ffn_mult = (4.0 if FFN_TYPES[spec.ffn] == 3 else 2.0) + gi
    # the FFN width a token passes through (MoE: k routed + shared experts, mean over layers)
    sharded = (4.0 * spec.d_attn + 4.0 * spec.d_kv) / h + ffn_mult * spec.active_ffn_width / h
    # two norm inputs (2 + 2), the two normalized GEMM inputs (QKV, FFN up), two dropout masks (1 + 1)
    # when the model trains with dropout
    unsharded = (6.0 if spec.dropout else 4.0) + 2.0 * gi
    score = np.where(rc >= 1, 0.0, 5.0 * a / h) * s
    sbh = s * b * h
    # plain TP: sbh(10 + (sharded + score)/t); with sequence parallelism the 10 is sharded too
    unsharded_f = np.where(sp, unsharded / t, unsharded)
    per_layer = sbh * (unsharded_f + (sharded + score) / t)
    full = np.where(sp, 2.0 / t, 2.0) * sbh
    per_layer = np.where(rc == 2, full, per_layer)
    return per_layer * (act_bytes / 2.0)


def _training_memory_arrays(spec: ModelSpec, micro_batch, seq_len, tp, pp, dp, zero_stage,
                            recompute_code, sequence_parallel, n_micro_batches=None,
                            weight_bytes=2.0, grad_bytes=2.0, optim_bytes=12.0, act_bytes=2.0,
                            virtual_stages=1, expert_parallel=1, context_parallel=1, fp8=False,
                            ep_overlap=False):
    """Per-GPU training memory of the most loaded GPU, vectorized over layouts.

    Every argument but ``spec`` may be a numpy array; they broadcast together.
    ``n_micro_batches`` (per data-parallel replica per step) limits the micro-batches in
    flight on the pipeline stages; ``None`` assumes at least ``pp``. ``virtual_stages``
    > 1 (interleaved schedule): ``min(pp v + pp - 1, m v)`` chunk-micro-batches of ``L/(pp v)``
    layers in flight on the first stage (module docstring). ``expert_parallel`` shards the routed
    experts (`_stage_params`); ``context_parallel`` splits each sequence, so activations are those
    of ``seq_len / cp`` tokens, and ZeRO shards over the ``dp * cp`` ranks that hold the same
    weights. ``fp8``: FP8 training (GEMM inputs kept in ``FP8_GEMM_INPUT_BYTES``, FP8 weight
    copies ``FP8_WEIGHT_CACHE_BYTES_PER_PARAM`` per local parameter, counted in ``weights``).
    ``ep_overlap``: the expert-parallel all-to-all overlap's schedule warms up one more chunk
    (Megatron-Core's combined 1F1B, ``aicost.model.ep_overlap_unpaired_share``), one more
    chunk-micro-batch in flight.

    Returns
    -------
    dict of arrays [B]
        ``weights, gradients, optimizer, activations, total``.
    """
    tp_a = np.asarray(tp, dtype=float)
    pp_a = np.asarray(pp, dtype=float)
    cp_a = np.asarray(context_parallel, dtype=float)
    seq_len = np.asarray(seq_len, dtype=float) / cp_a
    params = _stage_params(spec, tp_a, pp_a, expert_parallel)
    w, g, o = model_state_bytes(params, np.asarray(dp, float) * cp_a, zero_stage, weight_bytes, grad_bytes,
                                optim_bytes)
    fp8_a = np.asarray(fp8, bool)
    if np.any(fp8_a):
        w = w + np.where(fp8_a, params * FP8_WEIGHT_CACHE_BYTES_PER_PARAM
                         / np.where(np.asarray(zero_stage) >= 3, np.asarray(dp, float) * cp_a, 1.0), 0.0)
    gib = np.where(fp8_a, FP8_GEMM_INPUT_BYTES, act_bytes)
    per_layer = activation_bytes_per_layer(spec, micro_batch, seq_len, tp_a, sequence_parallel,
                                            recompute_code, act_bytes, gemm_input_bytes=gib)
    m = np.inf if n_micro_batches is None else np.asarray(n_micro_batches, float)
    in_flight = np.minimum(pp_a, m)
    layer_mb = _layer_micro_batches_in_flight(spec.n_layers, pp_a, m, np.asarray(virtual_stages, float),
                                              extra=np.where(np.asarray(ep_overlap, bool), 1.0, 0.0))
    sbh = np.asarray(seq_len, float) * np.asarray(micro_batch, float) * spec.d_model
    extra = sbh * in_flight / tp_a  # embedding dropout on the first stage (Korthikanti Sec. 4.3)
    extra = extra + np.where(pp_a <= 1, 4.0 * sbh / tp_a * (1.0 + spec.vocab_size / spec.d_model), 0.0)
    act = (layer_mb * per_layer + extra * (act_bytes / 2.0))
    total = w + g + o + act
    return {"weights": w, "gradients": g, "optimizer": o, "activations": act, "total": total}


def _layer_micro_batches_in_flight(n_layers, pp, n_micro, v, extra=0.0):
    """Layer activations (in units of one layer's for one micro-batch) on the most loaded stage.

    1F1B (``v == 1``): stage ``i`` keeps ``min(pp - i, m)`` micro-batches; ``L mod pp`` extra
    layers on the last stages; the maximum of the first stage and the first stage with an extra
    layer. Interleaved (``v > 1``): ``min(pp v + pp - 1, m v)`` chunk-micro-batches of
    ``L / (pp v)`` layers on the first stage. ``extra`` more (chunk-)micro-batches warmed up (the EP
    all-to-all overlap's one). Arrays broadcast; ``n_micro`` may be ``inf``.
    """
    L = float(n_layers)
    q = np.floor(L / pp)
    r = L - q * pp
    e = np.asarray(extra, float)
    plain = np.maximum(q * np.minimum(pp + e, n_micro),
                       np.where(r > 0, (q + 1.0) * np.minimum(r + e, n_micro), 0.0))
    inter = L / (pp * np.maximum(v, 1.0)) * np.minimum(pp * v + pp - 1.0 + e, n_micro * v)
    return np.where(v > 1, inter, plain)


@dataclass(frozen=True)
class MemoryBreakdown:
    """Training memory of the most loaded GPU [bytes].

    Attributes
    ----------
    weights, gradients, optimizer, activations : float
        Bytes per GPU.
    total : float
        Their sum [B].
    params_per_gpu : float
        Parameters one GPU holds before ZeRO sharding (after tensor/pipeline sharding).
    """

    weights: float
    gradients: float
    optimizer: float
    activations: float
    total: float
    params_per_gpu: float
    config: tuple = ()

    @property
    def model_states(self) -> float:
        """Weights + gradients + optimizer [B]."""
        return self.weights + self.gradients + self.optimizer

    def fits(self, memory_bytes, reserve_bytes: float = RUNTIME_RESERVE_BYTES):
        """Whether ``total`` fits in ``memory_bytes`` [B] keeping ``reserve_bytes`` free.

        A bool, or a boolean array when the breakdown holds arrays.
        """
        ok = np.asarray(self.total) + reserve_bytes <= np.asarray(memory_bytes)
        return bool(ok) if ok.ndim == 0 else ok

    def as_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in ("weights", "gradients", "optimizer", "activations", "total")}

    def __str__(self) -> str:
        if np.ndim(self.total):
            return f"training memory per GPU for {np.size(self.total)} layouts: total {self.total}"
        parts = ", ".join(f"{k} {format_bytes(v)}" for k, v in self.as_dict().items())
        return f"training memory per GPU: {parts}"

    def _repr_html_(self) -> str:
        if np.ndim(self.total):
            return f"<pre>{html.escape(str(self))}</pre>"
        rows = "".join(f"<tr><th style='text-align:left'>{k}</th><td>{html.escape(format_bytes(v))}</td>"
                       f"<td>{v / 1e9:.2f} GB</td></tr>" for k, v in self.as_dict().items())
        return f"<table><caption>Training memory per GPU</caption>{rows}</table>"


def optimizer_state_bytes(optimizer: str, dtype: str) -> float:
    key = str(optimizer).lower()
    table = _OPTIMIZER_STATE_BYTES_FP32 if dtype == "fp32" else OPTIMIZER_STATE_BYTES
    if key not in table:
        raise ValueError(f"optimizer must be one of {', '.join(table)}, got {optimizer!r}")
    return float(table[key])


def training_memory(spec: ModelSpec | str, micro_batch: int = 1, seq_len: int | None = None,
                    dtype: str = "bf16", optimizer: str = "adamw", zero_stage: int = 0,
                    dp: int = 1, tp: int = 1, pp: int = 1, sequence_parallel: bool = False,
                    recompute: str = "none", n_micro_batches: int | None = None,
                    virtual_stages: int = 1) -> MemoryBreakdown:
    """Training memory of the most loaded GPU [bytes].

    Parameters
    ----------
    spec : ModelSpec or str
        The model (a preset name works).
    micro_batch : int
        Sequences per micro-batch per GPU.
    seq_len : int, optional
        Tokens per sequence [tokens]; defaults to the model's pre-training length.
    dtype : str
        Training (weights/gradients/activations) dtype; ``bf16`` and ``fp16`` use mixed
        precision with an fp32 master copy.
    optimizer : {"adamw", "adam", "sgd", "lion", "adafactor"}
        Optimizer state bytes per parameter (``OPTIMIZER_STATE_BYTES``).
    zero_stage : {0, 1, 2, 3}
        ZeRO / FSDP sharding over ``dp`` ranks.
    dp, tp, pp : int
        Data, tensor and pipeline parallel degrees.
    sequence_parallel : bool or array of bool
        Megatron sequence parallelism (shards the non-tensor-parallel activations by ``tp``).
    recompute : {"none", "selective", "full"}
        Activation recomputation.
    n_micro_batches : int, optional
        Micro-batches per replica per step (limits those in flight on a pipeline); default
        assumes at least ``pp``.
    virtual_stages : int
        Model chunks per GPU of the interleaved 1F1B schedule (1: plain 1F1B).

    ``micro_batch``, ``seq_len``, ``dp``, ``tp``, ``pp``, ``zero_stage``, ``n_micro_batches``,
    ``sequence_parallel`` (and ``recompute`` as an array of names) may be numpy arrays: they
    broadcast, and the breakdown's fields are then arrays (``fits`` returns an array).

    Returns
    -------
    MemoryBreakdown
    """
    spec = _spec_check(spec)
    dtype = normalize_dtype(dtype)
    seq_len = seq_len if seq_len is not None else spec.pretrain_seq_len
    ints = {"micro_batch": micro_batch, "seq_len": seq_len, "dp": dp, "tp": tp, "pp": pp,
            "zero_stage": zero_stage, "virtual_stages": virtual_stages}
    if n_micro_batches is not None:
        ints["n_micro_batches"] = n_micro_batches
    vals = {k: _int_array(k, v, allow_zero=(k == "zero_stage")) for k, v in ints.items()}
    if np.any(vals["zero_stage"] > 3):
        raise ValueError(f"zero_stage must be 0, 1, 2 or 3, got {zero_stage!r}")
    if np.any(vals["pp"] > spec.n_layers):
        raise ValueError(f"pp ({pp!r}) exceeds the model's {spec.n_layers} layers")
    rc = _recompute_code(recompute)
    nbytes = float(DTYPE_BYTES[dtype])
    if dtype in ("fp8", "int8"):
        nbytes = 2.0  # fp8 training keeps bf16 master weights/gradients (Transformer Engine)
    out = _training_memory_arrays(spec, vals["micro_batch"], vals["seq_len"], vals["tp"], vals["pp"],
                                  vals["dp"], vals["zero_stage"], rc, np.asarray(sequence_parallel, bool),
                                  vals.get("n_micro_batches"), nbytes, nbytes,
                                  optimizer_state_bytes(optimizer, dtype), nbytes, fp8=(dtype == "fp8"),
                                  virtual_stages=vals["virtual_stages"])
    params = _stage_params(spec, vals["tp"], vals["pp"])
    scalar = all(np.ndim(v) == 0 for v in out.values())
    conv = (lambda x: float(x)) if scalar else (lambda x: np.asarray(x, dtype=float))  # noqa: E731
    return MemoryBreakdown(**{k: conv(v) for k, v in out.items()}, params_per_gpu=conv(params),
                           config=(("micro_batch", micro_batch), ("seq_len", seq_len), ("dtype", dtype),
                                   ("optimizer", optimizer), ("zero_stage", zero_stage), ("dp", dp),
                                   ("tp", tp), ("pp", pp), ("sequence_parallel", sequence_parallel),
                                   ("recompute", recompute), ("virtual_stages", virtual_stages)))


def _int_array(name: str, value, allow_zero: bool = False):
    """A validated integer (or integer array): positive (or >= 0), whole numbers."""
    if np.ndim(value) == 0:
        return positive_int(name, value.item() if isinstance(value, np.generic) else value, allow_zero)
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf" or np.any(arr != np.floor(arr)):
        raise ValueError(f"{name} must hold whole numbers, got {value!r}")
    if np.any(arr < 0) or (not allow_zero and np.any(arr == 0)):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else 'positive'}, got {value!r}")
    return arr.astype(np.int64)


def kv_cache_bytes(spec: ModelSpec | str, batch, seq_len, dtype: str = "bf16"):
    """KV-cache bytes for ``batch`` sequences of ``seq_len`` tokens [B].

    ``2 * n_layers * n_kv_heads * head_dim * bytes(dtype) * batch * seq_len`` (K and V per
    layer; grouped-query attention stores only the ``n_kv_heads`` heads). Arrays broadcast.
    """
    spec = _spec_check(spec)
    dtype = normalize_dtype(dtype)
    b = np.asarray(batch)
    s = np.asarray(seq_len)
    if np.any(b < 0) or np.any(s < 0):
        raise ValueError("batch and seq_len must be >= 0")
    out = spec.kv_bytes_per_token(dtype) * b * s
    if np.ndim(out) == 0:
        val = float(out)
        return int(val) if val.is_integer() and math.isfinite(val) else val
    return out
