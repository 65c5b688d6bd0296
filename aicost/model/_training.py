"""Training: FLOPs, step time, MFU, wall time, GPU-hours, cost, and their reliability.

FLOPs (forward + backward, per token) follow Narayanan et al. 2021 ("Efficient Large-Scale
Language Model Training on GPU Clusters Using Megatron-LM", eq. 3) and the PaLM paper
(Chowdhery et al. 2022, appendix B): ``6N + 12 L d_attn s``, where ``N`` counts the
parameters that take part in matrix multiplies for one token (``ModelSpec.n_matmul_params``:
active parameters for mixture-of-experts, the output projection, no embedding lookup), ``L``
layers, ``d_attn = n_heads*head_dim`` (``ModelSpec.attn_flops_width``: MLA's query/key heads are
wider than its value heads) and ``s`` the sequence length (the attention scores
``QK^T`` and their product with ``V``, 2 x 2 s d_attn FLOPs per layer forward, x3 with the
backward pass). Over ``D`` tokens this is Kaplan/Chinchilla's ``C = 6ND`` plus the attention
term. Recomputation executes more: ``selective`` re-runs the attention core
(``+4 L d_attn s``), ``full`` the whole forward of every layer (``8N`` instead of ``6N`` for the
layers, Narayanan et al. eq. 3). MFU counts the model FLOPs (no recomputation), HFU the
executed ones.

Step time (per optimizer step, slowest pipeline stage, 1F1B schedule with ``m`` micro-batches
per data-parallel replica)::

    slot    = t_compute(micro) + t_tp(micro) + t_pp(micro)
    step    = m * slot + (pp - 1) * slot                        # bubble: (pp-1)/m of the work
              + max(0, t_dp - t_backward(last micro))         # DP all-reduce overlapped with bwd
              + t_optimizer

* ``t_compute = FLOPs / (peak(dtype) * efficiency)``; by default the efficiency is shape-aware
  (``aicost.hardware.shape_aware_efficiency``: the layout's per-GPU GEMM shapes on the
  accelerator's fitted or default GEMM curve, plus the attention core and the memory-bound work
  between the GEMMs, ``aicost.calibrate_curves``); ``Cluster.efficiency`` overrides it;
* ``t_tp``: Megatron's 4 all-reduces per layer per micro-batch (2 forward, 2 backward; 6 with
  full recomputation) of ``b*s*h`` activations among ``tp`` GPUs over the scale-up fabric, not
  overlapped (sequence parallelism replaces each by a reduce-scatter + all-gather: same bytes);
* ``t_pp``: a forward and a backward send of ``b*s*h/tp`` bytes between stages (scatter-gather),
  over the scale-up fabric when a stage fits in a node, else the scale-out one;
* ``t_dp``: a hierarchical all-reduce of the stage's gradients (reduce-scatter inside the node,
  all-reduce across nodes on each GPU's NIC share, all-gather inside the node); ZeRO-3 moves
  1.5x those bytes (Rajbhandari et al. 2020 Sec. 7.2.2); only the part longer than the last
  micro-batch's backward pass is exposed;
* ``t_optimizer``: the AdamW update is memory-bound: ``OPTIMIZER_BYTES_PER_PARAM`` bytes per
  parameter of the local optimizer shard at the GPU's memory bandwidth.

Pipeline schedules (``TrainingJob.schedule``, ``TRAINING_SCHEDULES``): ``"1f1b"`` (default) is
Megatron-LM's 1F1B, interleaved with ``v = virtual_stages > 1`` model chunks per GPU (bubble
``(pp-1)/v * slot``, Narayanan et al. 2021 Sec. 2.2). ``"zb-h1"`` is the memory-efficient
zero-bubble schedule ZB-H1 of Qi, Wan, Huang and Lin, "Zero Bubble Pipeline Parallelism" (ICLR
2024, arXiv:2401.10241, Sec. 2.1): the backward pass splits into B (input gradients) and W (weight
gradients), W passes are delayed into the pipeline's drain, and the bubble per stage falls from
``(p-1)(T_F + T_B + T_W)`` to ``(p-1)(T_F + T_B - T_W)`` with the same ``p`` micro-batches in
flight (1F1B's peak activation memory)::

    T_W    = t_compute(micro) * (layers' time share * w_layer + head's time share / 3)
    bubble = (pp - 1) * (slot - 2 * T_W)

``w_layer`` is the weight-gradient GEMMs' share of a layer's kernel time: with the shape-aware
efficiency (the default) the GEMMs' share of the layer kernel-time model over its GEMM passes
(``aicost.hardware.shape_aware_weight_grad_share``: forward, input gradients, weight gradients, and
the forward again with full recompute, the same shapes at the same efficiency); with an efficiency
given by hand (no kernel times) W's share of the layer's executed FLOPs, ``2 x matmul weights`` per
token over ``6 x matmul weights + attention core (+ recompute)``. The output layer is all GEMMs
(W a third of it).

Assumptions (``ZERO_BUBBLE_ASSUMPTION``): W is only the weight-gradient GEMMs, with the forward
GEMMs' FLOPs (the paper's Table 1 split per layer: F ``sbh(24h+4s)``, B ``sbh(24h+8s)``, W
``24sbh^2``); the attention core, recomputation (re-run before B) and the elementwise work belong to
F and B. (The FLOP share overstates W's time: on an H100, Llama 3.1 70B at tp 8 and 8k tokens, W is
0.276 of the layer's FLOPs and 0.265 of its kernel time; 8B at tp 4, 4k tokens, 0.277 vs 0.256, so
an efficiency given by hand makes the ZB-H1 bubble up to ~9% of itself too small.) The tensor-,
expert- and context-parallel communication and the pipeline sends belong to F and B
(W is local); a stage's gradients are final only after its last W pass, so the bucketed
data-parallel reduction overlaps that pass alone (``T_W``, not the whole last backward); the
optimizer step stays synchronous after the pipeline drains (global gradient-norm clipping and the
NaN/Inf check; the paper's post-validation, which removes that barrier, is what ZB-H2 and ZB-V need
to reach zero bubble, not ZB-H1). Not modelled: ZB-H2 (zero bubble at up to ``2p-1`` micro-batches
in flight), ZB-V (two chunks per GPU in a V shape; its bubble depends on the schedule its solver
finds when ``T_F``, ``T_B`` and ``T_W`` differ), and interleaving combined with ZB-H1 (rejected).

Expert-parallel all-to-all overlap (``TrainingJob.overlap_ep_comm``, ``EP_OVERLAP_PAIRING``): as in
DeepSeek-V3's DualPipe (arXiv:2412.19437, Sec. 3.2.1, Fig. 4) and Megatron-Core's combined 1F1B
all-to-all overlap (``--overlap-moe-expert-parallel-comm``, ``schedule_layer_1f1b``), a MoE layer's
forward chunk of one micro-batch (ATTN, DISPATCH, MLP, COMBINE) runs beside the backward chunk of
another, and each transfer hides only under its paired compute piece::

    COMBINE-bwd under ATTN-fwd, DISPATCH-fwd under MLP-bwd, DISPATCH-bwd under MLP-fwd,
    COMBINE-fwd under ATTN-bwd;   exposed per MoE layer = sum_pairs max(C - T, f C)

with ``f = EP_OVERLAP_SM_SHARE`` (the communication kernels' SMs slow the piece they overlap: a
transfer that fits under its piece still costs ``f C``). ``T_attn`` and ``T_mlp`` are a MoE layer's
attention sub-layer (projections, core) and MoE MLP (experts, permutes) from the layer kernel-time
model (``aicost.hardware.shape_aware_moe_sublayer_shares``), their FLOP shares with an efficiency
given by hand; the backward piece is the input and weight gradients (2/3 of the piece; with full
recompute 3/4, the recomputed forward included, whose own two transfers stay exposed). A transfer
longer than its piece exposes the excess even when the micro-batch's whole compute would have
covered it. Dispatch and combine move the same BF16 bytes (DeepEP's FP8 dispatch, which
DeepSeek-V3's own framework uses, Sec. 3.3.3, is not modelled: Megatron-Core dispatches BF16).
The pairing exists only in the schedule's steady state (``ep_overlap_unpaired_share``): the
warm-up forward chunks and the cool-down backward chunks have no partner, and their transfers are
exposed whole. Megatron-Core's combined 1F1B (``schedules.py``, interleaved path) runs
``2 (p-1) + (v-1) p + 1`` warm-up chunks on the first stage (one more than without the overlap, so
that each pair's forward and backward belong to different micro-batches) out of ``m v``; without
pipelining (``combined_1f1b_schedule_for_no_pipelining``) one forward and one backward of the ``m``
micro-batches run alone. That extra warm-up chunk is also one more chunk of activations in flight.

The array functions (``_training_flops_arrays``, ``_training_step_arrays``,
``training_arrays``) broadcast over numpy arrays; ``estimate_training`` calls
``training_arrays`` with scalars, so the planner's vectorized evaluation and this scalar
one agree by construction.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

import numpy as np

from .._checks import check_positive, positive_int
from .._units import DTYPE_BYTES, GIB, HOUR_S, format_bytes, format_duration, normalize_dtype
from ..hardware import (
    DEFAULT_SCALE_OUT_LATENCY_S,
    DEFAULT_SCALE_UP_LATENCY_S,
    Cluster,
    Hardware,
    resolve_hardware,
    shape_aware_efficiency,
    shape_aware_moe_sublayer_shares,
    shape_aware_source,
    shape_aware_weight_grad_share,
)
from . import _comm
from ._memory import (
    RECOMPUTE_CODES,
    RUNTIME_RESERVE_BYTES,
    MemoryBreakdown,
    _recompute_code,
    _stage_params,
    _training_memory_arrays,
    optimizer_state_bytes,
)
from ._reliability import (
    DEFAULT_FAILURES_PER_GPU_HOUR,
    DEFAULT_JOB_FAILURES_PER_HOUR,
    DEFAULT_RESTART_S,
    DEFAULT_SPOT_PREEMPTIONS_PER_NODE_HOUR,
    DEFAULT_SPOT_RESTART_S,
    reliability_arrays,
)
from ._spec import ModelSpec, _spec_check

__all__ = [
    "CHECKPOINT_BYTES_PER_PARAM",
    "DEFAULT_CHECKPOINT_WRITE_BYTES_PER_S_PER_NODE",
    "EP_OVERLAP_PAIRING",
    "EP_OVERLAP_SM_SHARE",
    "GRAD_BUCKET_PARAMS",
    "OPTIMIZER_BYTES_PER_PARAM",
    "TP_OVERLAP_EXPOSED_SHARE",
    "TRAINING_SCHEDULES",
    "TrainingEstimate",
    "TrainingJob",
    "_flops_per_token",
    "training_arrays",
    "_training_feasibility",
    "_training_flops_arrays",
    "_training_step_arrays",
    "ep_overlap_exposed",
    "ep_overlap_unpaired_share",
    "ZERO_BUBBLE_ASSUMPTION",
    "estimate_training",
    "schedule_code",
    "fp8_training_assumption",
    "training_flops",
]

#: AdamW update traffic per parameter of the local optimizer shard: read bf16 grad (2), read and
#: write fp32 master, m and v (24), write the bf16 weight (2) [B/param]
OPTIMIZER_BYTES_PER_PARAM = 28.0
#: A checkpoint holds the bf16 weights (2) and the fp32 master copy and Adam moments (12) [B/param]
CHECKPOINT_BYTES_PER_PARAM = 14.0
#: Used when no storage tier is given: each node writes its shard to shared storage at 2 GB/s
#: (an assumption, roughly one 25 GB/s NIC at 10% for checkpoint traffic; give a storage tier
#: or TrainingJob.checkpoint_s for a real number)
DEFAULT_CHECKPOINT_WRITE_BYTES_PER_S_PER_NODE = 2e9
#: gradient bucket of the bucketed data-parallel reduction [parameters] (Megatron-LM's DDP default
#: bucket of 40M parameters; PyTorch DDP's 25 MB buckets are smaller still)
GRAD_BUCKET_PARAMS = 40e6
#: share of the tensor-parallel collectives left exposed when they overlap the GEMMs
#: (``overlap_tp_comm``): an assumption; TransformerEngine's userbuffers split each collective into
#: chunks pipelined with the GEMM pieces, and the first/last chunk and the non-GEMM ops stay exposed
TP_OVERLAP_EXPOSED_SHARE = 0.25
#: share of a GPU's streaming multiprocessors the expert-parallel dispatch/combine kernels hold while
#: they run beside compute (``overlap_ep_comm``): DeepSeek-V3 dedicates 20 of the H800's 132 SMs to
#: all-to-all communication (arXiv:2412.19437 Sec. 3.2.2), DeepEP's and Megatron-Core's default
#: (``moe_deepep_num_sms`` 20). The overlapped compute runs that much slower, so at least this share
#: of the all-to-all's duration stays on the step.
EP_OVERLAP_SM_SHARE = 20.0 / 132.0
#: how the expert-parallel all-to-all overlap (``overlap_ep_comm``) hides the transfers, in words (an
#: estimate's ``sources["overlap"]``, a plan's assumptions; module docstring, `_ep_all_to_all_time`)
EP_OVERLAP_PAIRING = (
    "per sub-layer chunk pairing of DeepSeek-V3's DualPipe (arXiv:2412.19437 Sec. 3.2.1, Fig. 4) and "
    "Megatron-Core's combined 1F1B A2A overlap (schedule_layer_1f1b): a micro-batch's MoE-layer forward "
    "(ATTN, DISPATCH, MLP, COMBINE) runs beside another's backward, and each transfer hides only under its "
    "paired compute piece: COMBINE-backward under ATTN-forward, DISPATCH-forward under MLP-backward, "
    "DISPATCH-backward under MLP-forward, COMBINE-forward under ATTN-backward; exposed per MoE layer "
    f"= sum over the 4 pairs of max(comm - compute, {EP_OVERLAP_SM_SHARE:.0%} of comm: the communication "
    "kernels' SMs slow the piece they overlap); backward pieces = input + weight gradients (+ the "
    "recomputed forward); full recompute's 2 extra transfers exposed; pairs form in the steady state only: "
    "the first stage's warm-up forward chunks (2(p-1) + (v-1)p + 1 of Megatron-Core's combined 1F1B, one "
    "more than without the overlap) and as many cool-down backward chunks run alone, their transfers "
    "exposed whole (ep_overlap_unpaired_share)")
#: pipeline schedules ``TrainingJob.schedule`` and the planner's ``schedules`` take, by code
#: (``schedule_code``): Megatron-LM's 1F1B (interleaved with virtual stages) and ZB-H1 (Qi et al.,
#: "Zero Bubble Pipeline Parallelism", ICLR 2024, arXiv:2401.10241, Sec. 2.1)
TRAINING_SCHEDULES = ("1f1b", "zb-h1")
#: what the ZB-H1 step-time model assumes, in words (an estimate's ``sources["schedule"]`` and a
#: plan's assumptions; module docstring)
ZERO_BUBBLE_ASSUMPTION = (
    "ZB-H1 zero-bubble schedule (Qi et al., ICLR 2024, arXiv:2401.10241, Sec. 2.1): backward split into "
    "B (input gradients) and W (weight gradients), bubble (pp-1)(T_F+T_B-T_W) instead of 1F1B's "
    "(pp-1)(T_F+T_B+T_W) at 1F1B's activation memory (pp micro-batches in flight); T_W = the weight-gradient "
    "GEMMs (the forward GEMMs' FLOPs) at their share of the layer kernel-time model (W's FLOP share when the "
    "efficiency is given by hand); attention core, recomputation, "
    "elementwise work and TP/EP/CP/PP communication in F and B; DP gradient buckets overlap only the last W "
    "pass; optimizer step synchronous after the drain (no post-validation)")


def schedule_code(name) -> int:
    """The code of a pipeline schedule name in ``TRAINING_SCHEDULES`` (0 ``"1f1b"``, 1 ``"zb-h1"``).

    Raises
    ------
    ValueError
        For an unknown name, with the closest known one.
    """
    key = str(name).strip().lower().replace("_", "-")
    if key in TRAINING_SCHEDULES:
        return TRAINING_SCHEDULES.index(key)
    import difflib

    close = difflib.get_close_matches(key, TRAINING_SCHEDULES, n=1, cutoff=0.3)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"schedule must be one of {', '.join(TRAINING_SCHEDULES)}, got {name!r}{hint} "
                     "(interleaved 1F1B is schedule='1f1b' with virtual_stages > 1)")


# ---- FLOPs ------------------------------------------------------------------------------
def _flops_per_token(spec: ModelSpec, seq_len, recompute_code):
    """FLOPs per token of one layer and of the output layer, model and executed.

    Returns ``(layer_model, layer_hw, head)`` [FLOP/token]; arrays broadcast.
    """
    s = np.asarray(seq_len, dtype=float)
    rc = np.asarray(recompute_code)
    mm = float(spec.active_layer_params - spec.norm_params_per_layer)  # matmul weights per layer
    attn_fwd = 4.0 * spec.attn_flops_width * s  # QK^T and (softmax)V, 2 FLOPs per MAC (MLA: wider QK)
    layer_model = 6.0 * mm + 3.0 * attn_fwd
    extra = np.where(rc == 2, 2.0 * mm + attn_fwd, np.where(rc == 1, attn_fwd, 0.0))
    head = 6.0 * spec.vocab_size * spec.d_model
    return layer_model, layer_model + extra, head


def _training_flops_arrays(spec: ModelSpec, tokens, seq_len, recompute_code):
    """Model and executed training FLOPs for ``tokens`` tokens (arrays broadcast).

    Returns ``(model_flops, hardware_flops)`` [FLOP].
    """
    lm, lh, head = _flops_per_token(spec, seq_len, recompute_code)
    t = np.asarray(tokens, dtype=float)
    return t * (spec.n_layers * lm + head), t * (spec.n_layers * lh + head)


def training_flops(spec: ModelSpec | str, tokens: float, recompute: str = "none",
                   seq_len: int | None = None) -> float:
    """Training FLOPs executed for ``tokens`` tokens [FLOP].

    ``tokens * (6N + 12 L d_attn s)`` with ``recompute="none"`` (the model FLOPs used for MFU;
    ``N = spec.n_matmul_params``); ``"selective"`` adds the attention core's forward
    (``4 L d_attn s``), ``"full"`` a whole forward (``2N + 4 L d_attn s``, i.e. 8N instead of 6N).

    Parameters
    ----------
    spec : ModelSpec or str
    tokens : float
        Training tokens [tokens].
    recompute : {"none", "selective", "full"}
    seq_len : int, optional
        Sequence length [tokens]; defaults to the model's pre-training length.
    """
    spec = _spec_check(spec)
    check_positive("tokens", tokens)
    s = spec.pretrain_seq_len if seq_len is None else positive_int("seq_len", seq_len)
    _, hw = _training_flops_arrays(spec, float(tokens), s, _recompute_code(recompute))
    return float(hw)


# ---- array cores ------------------------------------------------------------------------
def _training_step_arrays(*, flops_micro, peak_flops_per_s, efficiency, pp, n_micro,
                          t_tp_micro=0.0, t_pp_micro=0.0, t_dp=0.0, backward_share=2.0 / 3.0,
                          t_optimizer=0.0, virtual_stages=1, t_ep_micro=0.0, t_cp_micro=0.0,
                          overlap_grad_reduce=True, n_buckets=1.0, distributed_optimizer=False,
                          schedule_code=0, t_w_micro=0.0):
    """Step time and its parts [s] for the slowest pipeline stage (arrays broadcast).

    Parameters
    ----------
    flops_micro : array [FLOP]
        Executed FLOPs of one micro-batch on one GPU of the slowest stage.
    peak_flops_per_s, efficiency : array [FLOP/s], [-]
    pp, n_micro : array
        Pipeline stages; micro-batches per data-parallel replica per step.
    t_tp_micro, t_pp_micro : array [s]
        Tensor-parallel collectives and pipeline sends of one micro-batch (exposed).
    t_dp : array [s]
        Gradient all-reduce (or ZeRO reduce-scatter/all-gather) per step.
    backward_share : array
        Share of a micro-batch's compute that is backward (overlap window for ``t_dp``).
    t_optimizer : array [s]
    virtual_stages : array
        Model chunks per GPU of the interleaved 1F1B schedule (Narayanan et al. 2021 Sec. 2.2.2):
        the bubble shrinks to ``(pp-1)/(v m)``.
    t_ep_micro, t_cp_micro : array [s]
        Exposed expert-parallel all-to-all and context-parallel ring traffic of one micro-batch.
    overlap_grad_reduce : bool or array
        Bucketed data-parallel reduction (Megatron-LM ``--overlap-grad-reduce``, PyTorch DDP
        buckets): gradient buckets are reduced while the last micro-batch's backward runs, and with
        a distributed optimizer the parameter all-gather (half of ``t_dp``) runs under the next
        step's first forward; only what exceeds those windows, and at least the last bucket
        (``t_dp / n_buckets``), is exposed. False: the whole ``t_dp`` minus the last backward.
    n_buckets : array
        Gradient buckets per step (``ceil(gradient bytes / bucket size)``).
    distributed_optimizer : bool or array
        ZeRO >= 1: the reduction is a reduce-scatter plus a parameter all-gather (each half of
        ``t_dp``), the all-gather overlapping the next step's first forward.
    schedule_code : int or array
        ``schedule_code(name)``: 0 1F1B (interleaved with ``virtual_stages``), 1 ZB-H1: bubble
        ``(pp-1) (slot - 2 t_w_micro)`` (Qi et al. 2024's ``(p-1)(T_F+T_B-T_W)``) and the gradient
        buckets overlapping only the last W pass (``t_w_micro``).
    t_w_micro : array [s]
        Weight-gradient (W) pass of one micro-batch (ZB-H1 only).

    Returns
    -------
    dict of arrays [s]
        ``compute, tp_comm, pp_comm, ep_comm, cp_comm, bubble, dp_exposed, optimizer, step``.
    """
    t_c = np.asarray(flops_micro, float) / (np.asarray(peak_flops_per_s, float) * efficiency)
    m = np.asarray(n_micro, float)
    slot = t_c + t_tp_micro + t_pp_micro + t_ep_micro + t_cp_micro
    compute = m * t_c
    tp_comm = m * np.asarray(t_tp_micro, float)
    pp_comm = m * np.asarray(t_pp_micro, float)
    ep_comm = m * np.asarray(t_ep_micro, float)
    cp_comm = m * np.asarray(t_cp_micro, float)
    bubble = (np.asarray(pp, float) - 1.0) / np.asarray(virtual_stages, float) * slot
    t_dp = np.asarray(t_dp, float)
    bwd = backward_share * t_c
    fwd = (1.0 - backward_share) * t_c
    if np.any(np.asarray(schedule_code) == 1):  # ZB-H1 (the default grids skip these arrays)
        zb = np.asarray(schedule_code) == 1
        t_w = np.asarray(t_w_micro, float)
        bubble = np.where(zb, (np.asarray(pp, float) - 1.0) * (slot - 2.0 * t_w), bubble)
        bwd = np.where(zb, t_w, bwd)  # a stage's gradients are final only in its last W pass
    ag = np.where(np.asarray(distributed_optimizer, bool), 0.5, 0.0) * t_dp
    nb = np.asarray(n_buckets, float)
    bucketed = (np.maximum(t_dp - ag - bwd, (t_dp - ag) / nb)
                + np.where(ag > 0, np.maximum(ag - fwd, ag / nb), 0.0))
    dp_exposed = np.where(np.asarray(overlap_grad_reduce, bool), bucketed, np.maximum(t_dp - bwd, 0.0))
    opt = np.asarray(t_optimizer, float) + 0.0 * t_c
    step = compute + tp_comm + pp_comm + ep_comm + cp_comm + bubble + dp_exposed + opt
    return {"compute": compute, "tp_comm": tp_comm, "pp_comm": pp_comm, "ep_comm": ep_comm, "cp_comm": cp_comm,
            "bubble": bubble, "dp_exposed": dp_exposed, "optimizer": opt, "step": step}


def _training_feasibility(spec: ModelSpec, *, tp, pp, dp, global_batch, micro_batch, gpus_per_node,
                          memory_total, gpu_memory_bytes, reserve_bytes=RUNTIME_RESERVE_BYTES,
                          virtual_stages=1):
    """Boolean masks of what makes a layout infeasible (True = violated); arrays broadcast.

    Keys: ``tp_exceeds_node`` (tensor parallelism must stay inside a node),
    ``tp_splits_heads`` (``n_heads % tp``), ``pp_exceeds_layers``, ``batch_not_divisible``
    (``global_batch % (micro_batch*dp)``), ``out_of_memory`` (total + reserve > memory),
    ``interleave_invalid`` (``virtual_stages > 1`` needs ``pp > 1``, ``pp * v <= n_layers`` and a
    micro-batch count that is a multiple of ``pp``, as Megatron-LM requires; an uneven split of the
    layers is allowed, as Llama 3 405B's 126 layers on pp=16, and costs the largest stage's
    ``ceil(n_layers / pp)`` layers). ``gpus_per_node`` is the GPUs of one scale-up domain here
    (``training_arrays`` passes ``scale_up_domain_gpus``): tensor parallelism must stay inside it.
    """
    tp = np.asarray(tp)
    gb = np.asarray(global_batch)
    mbdp = np.asarray(micro_batch) * np.asarray(dp)
    return {
        "tp_exceeds_node": tp > np.asarray(gpus_per_node),
        "tp_splits_heads": (spec.n_heads % tp) != 0,
        "pp_exceeds_layers": np.asarray(pp) > spec.n_layers,
        "batch_not_divisible": (gb % mbdp) != 0,
        "out_of_memory": np.asarray(memory_total) + reserve_bytes > np.asarray(gpu_memory_bytes),
        "interleave_invalid": _interleave_invalid(spec, pp, virtual_stages, gb, mbdp),
    }


def _interleave_invalid(spec, pp, v, global_batch, micro_times_dp):
    pp = np.asarray(pp)
    v = np.asarray(v)
    n_micro = np.asarray(global_batch) // np.maximum(np.asarray(micro_times_dp), 1)
    bad = (pp <= 1) | (pp * v > spec.n_layers) | ((n_micro % np.maximum(pp, 1)) != 0)
    return (v > 1) & bad


def _cp_ring_time(spec, mb, s, tp_, cp_, gpn, layers_stage, layer_model, t_c_micro, dtype_bytes,
                  su_bw, su_lat, so_bw, so_lat):
    """Exposed context-parallel ring traffic of one micro-batch on one GPU [s]."""
    cp_in_node = tp_ * cp_ <= gpn
    cp_bw = np.where(cp_in_node, su_bw, so_bw)
    cp_lat = np.where(cp_in_node, su_lat, so_lat)
    kv_chunk = mb * s / cp_ * 2.0 * spec.d_kv * dtype_bytes / tp_
    t_ring = 3.0 * (cp_ - 1.0) * _comm.p2p_time(kv_chunk, cp_bw, cp_lat)
    attn_share = 3.0 * 4.0 * spec.attn_flops_width * s / layer_model
    return np.where(cp_ > 1, layers_stage * np.maximum(t_ring - attn_share * t_c_micro / layers_stage, 0.0), 0.0)


def _moe_sublayer_flop_shares(spec, seq_len, recompute_code, layer_hw):
    """Executed FLOPs of a MoE layer's attention sub-layer and MoE MLP over the mean layer's
    ``layer_hw`` [-] (the EP overlap's pieces when the efficiency is given by hand: no kernel times)."""
    rc = np.asarray(recompute_code)
    mm_passes = np.where(rc == 2, 4.0, 3.0)
    attn_fwd = 4.0 * spec.attn_flops_width * np.asarray(seq_len, float)
    attn = 2.0 * spec.attn_params_per_layer * mm_passes + attn_fwd * np.where(rc >= 1, 4.0, 3.0)
    mlp = 2.0 * ((spec.experts_per_token + spec.n_shared_experts) * spec.ffn_params_per_expert
                 + spec.d_model * spec.n_experts) * mm_passes
    return attn / layer_hw, mlp / layer_hw


def ep_overlap_exposed(comm_s, compute_s):
    """Exposed time of transfers running beside compute pieces (arrays broadcast) [s].

    ``max(comm - compute, EP_OVERLAP_SM_SHARE * comm)``: the communication kernels hold
    ``EP_OVERLAP_SM_SHARE`` of the SMs, so the piece runs at ``1 - f`` of its rate while the transfer
    runs; a transfer shorter than ``compute / (1 - f)`` delays it by ``f * comm``, a longer one
    exposes what exceeds the piece.

    Parameters
    ----------
    comm_s : float or array
        Duration of a transfer [s].
    compute_s : float or array
        Duration of the compute piece it runs beside, alone on the GPU [s].

    Returns
    -------
    numpy.ndarray
        The time the pair adds to the piece [s].
    """
    comm_s = np.asarray(comm_s, float)
    return np.maximum(comm_s - np.asarray(compute_s, float), EP_OVERLAP_SM_SHARE * comm_s)


def ep_overlap_unpaired_share(pp, virtual_stages, n_micro):
    """Share of a stage's chunks the all-to-all overlap cannot pair (arrays broadcast) [-].

    The overlap (``overlap_ep_comm``, `EP_OVERLAP_PAIRING`) pairs one micro-batch's forward chunk with
    another's backward chunk in the schedule's steady state only. The first stage, the one with the
    longest warm-up, runs ``W`` forward chunks before its first pair and ``W`` backward chunks after
    its last, each alone, out of ``m v`` of each kind: Megatron-Core's combined 1F1B (``schedules.py``,
    ``forward_backward_pipelining_with_interleaving`` with ``overlap_moe_expert_parallel_comm``) warms
    up ``W = 2 (p-1) + (v-1) p + 1`` chunks, one more than the interleaved schedule without the
    overlap so that a pair's two chunks belong to different micro-batches; without interleaving
    (``v = 1``) the 1F1B warm-up ``p - 1`` plus that one, ``W = p`` (``p = 1``: the first forward and the
    last backward run alone, ``combined_1f1b_schedule_for_no_pipelining``).

    Parameters
    ----------
    pp : int or array
        Pipeline stages.
    virtual_stages : int or array
        Model chunks per GPU (interleaved schedule).
    n_micro : float or array
        Micro-batches per data-parallel replica per step.

    Returns
    -------
    numpy.ndarray
        ``min(1, W / (m v))``: the share of chunks whose transfers stay exposed whole.
    """
    p = np.asarray(pp, float)
    v = np.maximum(np.asarray(virtual_stages, float), 1.0)
    m = np.maximum(np.asarray(n_micro, float), 1.0)
    w = np.where(v > 1.0, 2.0 * (p - 1.0) + (v - 1.0) * p + 1.0, p)
    return np.minimum(1.0, w / (m * v))


def _ep_all_to_all_time(spec, mb, s, tp_, cp_, ep_, gpn, layers_stage, rc, t_c_micro, dtype_bytes,
                        su_bw, su_lat, so_bw, so_lat, overlap_ep_comm, dispatcher="alltoall",
                        piece_shares=(np.nan, np.nan), layer_hw=None, layer_time=1.0, unpaired_share=0.0):
    """Exposed expert-parallel all-to-all of one micro-batch on one GPU [s].

    Of the ``ep`` peers (``tp`` GPUs apart), ``g = min(ep, domain / tp)`` share this GPU's scale-up
    domain. ``dispatcher="alltoall"`` (hierarchical, as ``aicost.hardware.hierarchical_collective_time``
    counts an all-to-all): the ``(g-1)/ep`` share of the ``tokens * k`` send buffer goes over the
    scale-up fabric, the ``(ep-g)/ep`` share over the GPU's scale-out share, one after the other.
    ``"deepep"``: one copy per distinct destination domain over the scale-out fabric and the
    forwarding over the scale-up one (`_comm.ep_dispatch_copies`: node-limited routing caps the
    domains), the two legs pipelined in one kernel (the slower one counts).

    ``overlap_ep_comm``: `EP_OVERLAP_PAIRING`. Per MoE layer the four transfers (dispatch and combine
    carry the same ``tokens * k * d_model`` values, in the training dtype's 2 bytes even in FP8
    training: Megatron-Core's dispatchers move the BF16 hidden states) pair with the pieces of
    another micro-batch: ``T_attn`` and ``T_mlp``, the kernel time of a MoE layer's attention
    sub-layer and MoE MLP (``piece_shares`` of the mean layer's time, ``t_c_micro * layer_time /
    layers_stage``; NaN: their FLOP shares), forward ``1/P`` of it and backward the rest (``P`` = 3
    passes, 4 with full recompute: the recomputed forward runs in the backward chunk)::

        exposed = sum_pairs max(C - T, f C)  over (C_comb_bwd, T_attn_fwd), (C_disp_fwd, T_mlp_bwd),
                                                  (C_disp_bwd, T_mlp_fwd), (C_comb_fwd, T_attn_bwd)

    in the steady state; ``unpaired_share`` (`ep_overlap_unpaired_share`) of the chunks, the warm-up
    and cool-down ones, run alone with their transfers exposed whole.
    """
    moe_layers_stage = layers_stage * spec.n_moe_layers / spec.n_layers
    g = np.clip(np.floor(np.asarray(gpn, float) / tp_), 1.0, ep_)
    tok_bytes = mb * s / (cp_ * tp_) * spec.d_model * dtype_bytes
    n_a2a = np.where(rc == 2, 6.0, 4.0) * moe_layers_stage
    c_up, c_out = _comm.ep_dispatch_copies(spec, ep_, g, dispatcher)
    if dispatcher == "deepep":
        one = np.maximum((g - 1.0) * su_lat + tok_bytes * c_up / su_bw,
                         (np.ceil(ep_ / g - 1e-9) - 1.0) * so_lat + tok_bytes * c_out / so_bw)
    else:
        one = ((g - 1.0) * su_lat + tok_bytes * c_up / su_bw
               + (ep_ - g) * so_lat + tok_bytes * c_out / so_bw)
    t_ep = np.where(ep_ > 1, n_a2a * one, 0.0)
    if not np.any(overlap_ep_comm):
        return t_ep
    # overlapped: each transfer under its paired piece of another micro-batch (EP_OVERLAP_PAIRING)
    a_share, m_share = (np.asarray(x, float) for x in piece_shares)
    if not (np.all(np.isfinite(a_share)) and np.all(np.isfinite(m_share))):
        fa, fm = _moe_sublayer_flop_shares(spec, s, rc, layer_hw)
        a_share = np.where(np.isfinite(a_share), a_share, fa)
        m_share = np.where(np.isfinite(m_share), m_share, fm)
    t_layer = t_c_micro * layer_time / layers_stage  # the mean layer's compute, all passes
    fwd = 1.0 / np.where(rc == 2, 4.0, 3.0)
    attn, mlp = a_share * t_layer, m_share * t_layer
    c_d = c_c = one  # dispatch and combine move the same bytes (BF16 both ways)
    per_layer = (ep_overlap_exposed(c_c, fwd * attn) + ep_overlap_exposed(c_d, (1.0 - fwd) * mlp)
                 + ep_overlap_exposed(c_d, fwd * mlp) + ep_overlap_exposed(c_c, (1.0 - fwd) * attn)
                 + np.where(rc == 2, c_d + c_c, 0.0))  # full recompute's forward transfers: exposed
    u = np.asarray(unpaired_share, float)
    paired = (1.0 - u) * moe_layers_stage * per_layer + u * t_ep
    return np.where(np.asarray(overlap_ep_comm, bool), np.where(ep_ > 1, paired, 0.0), t_ep)


def training_arrays(spec: ModelSpec, *, tokens, global_batch, micro_batch, seq_len, tp, pp, dp,
                          zero_stage=0, recompute_code=0, sequence_parallel=False,
                          peak_flops_per_s, efficiency, gpus_per_node=8,
                          scale_up_bw_bytes_per_s, scale_up_latency_s=DEFAULT_SCALE_UP_LATENCY_S,
                          scale_out_bw_bytes_per_s, scale_out_latency_s=DEFAULT_SCALE_OUT_LATENCY_S,
                          mem_bw_bytes_per_s=np.inf, gpu_memory_bytes=np.inf,
                          price_usd_per_gpu_hour=np.nan, dtype_bytes=2.0, optim_bytes=12.0,
                          checkpoint_s=0.0, restart_s=DEFAULT_RESTART_S,
                          failures_per_gpu_hour=DEFAULT_FAILURES_PER_GPU_HOUR,
                          preemptions_per_node_hour=0.0, comm_efficiency=1.0, virtual_stages=1,
                          expert_parallel=1, context_parallel=1, overlap_grad_reduce=True, overlap_tp_comm=False,
                          job_failures_per_hour=DEFAULT_JOB_FAILURES_PER_HOUR, overlap_ep_comm=False,
                          scale_up_domain_gpus=None, fp8=False, ep_dispatcher="alltoall", schedule_code=0,
                          weight_grad_time_share=np.nan, moe_sublayer_time_shares=None):
    """Evaluate training layouts vectorized: every keyword may be a numpy array (broadcast).

    Layout: ``tp`` x ``pp`` x ``dp`` GPUs, ranks ordered tensor, data, pipeline (Megatron-LM),
    ``global_batch`` sequences per step of ``seq_len`` tokens in micro-batches of
    ``micro_batch``. ``scale_out_bw_bytes_per_s`` is per GPU (a per-node NIC divided by
    ``gpus_per_node``). ``checkpoint_s`` is the time one checkpoint blocks training.
    ``comm_efficiency`` scales both fabric bandwidths (achieved / link bandwidth of collectives).
    ``virtual_stages`` > 1 selects Megatron-LM's interleaved schedule: bubble ``(pp-1)/(v m)``,
    ``v`` times the pipeline sends, and ``1 + (pp-1)/(pp v)`` times the first stage's
    activations (Korthikanti et al. 2022 Sec. 4.2.3). ``schedule_code`` (``schedule_code(name)``,
    may be an array): 1 selects ZB-H1 (module docstring; needs ``virtual_stages == 1``, which
    ``estimate_training`` and the planner check): bubble ``(pp-1)(slot - 2 T_W)`` with ``T_W`` the
    weight-gradient GEMMs' share of the micro-batch's compute time, memory as 1F1B's.
    ``weight_grad_time_share`` [-] (ZB-H1 only): that share of a layer's kernel time
    (``aicost.hardware.shape_aware_weight_grad_share``); NaN (default, or an efficiency without a
    GEMM curve): W's share of the layer's executed FLOPs. The output layer's W is a third of its
    FLOPs either way. ``moe_sublayer_time_shares`` [-] (``overlap_ep_comm`` only): array whose last
    axis holds a MoE layer's attention sub-layer and MoE MLP kernel time over a layer's
    (``aicost.hardware.shape_aware_moe_sublayer_shares``), the pieces the all-to-all transfers pair
    with; None or NaN: their shares of the executed FLOPs.

    ``context_parallel`` (``cp``, ring attention as in Megatron-LM's context parallelism) splits
    every sequence over ``cp`` GPUs: ``tp * pp * dp * cp`` GPUs, each computing ``1/cp`` of every
    layer (its queries against all keys), the K/V chunks passing around the ring
    (``3 (cp-1)`` chunk sends per layer for forward and backward) under the attention kernel, only
    the excess exposed. ``expert_parallel`` (``ep``, carved out of the ``tp * dp * cp`` ranks) shards the
    routed experts ``ep`` ways and costs four all-to-alls per MoE layer and micro-batch (dispatch
    and combine, forward and backward; six with full recompute) of ``tokens * k * d_model``
    values over the scale-up fabric when ``tp * ep`` GPUs fit in a node, else the scale-out one;
    they are exposed unless ``overlap_ep_comm`` (DeepSeek-V3's DualPipe, Megatron-Core's
    1F1B all-to-all overlap, `EP_OVERLAP_PAIRING`: each of a MoE layer's four transfers under its
    paired attention or MLP piece of another micro-batch, only what exceeds that piece exposed, and at
    least ``EP_OVERLAP_SM_SHARE`` of it: the communication kernels' SMs slow the compute they
    overlap; `_ep_all_to_all_time`). ``ep_dispatcher`` (a string, one for all
    layouts): ``"alltoall"`` sends a token once per routed expert, ``"deepep"`` once per destination
    scale-up domain with forwarding inside it (``aicost.model.ep_dispatch_copies``; DeepSeek-V3's
    node-limited routing caps those domains). ``overlap_grad_reduce``: bucketed DP reduction
    (`_training_step_arrays`). ``overlap_tp_comm``: tensor-parallel collectives split into
    chunks that overlap the GEMMs (TransformerEngine userbuffers); only
    ``TP_OVERLAP_EXPOSED_SHARE`` of them, or what exceeds the compute, stays exposed.
    ``job_failures_per_hour``: interruptions that do not scale with the job (reliability).
    ``fp8``: FP8 training memory (GEMM inputs cached in FP8, FP8 weight copies; `_memory`).
    ``scale_up_domain_gpus``: GPUs one scale-up fabric joins (default ``gpus_per_node``; 72 for a
    GB200/GB300 NVL72 rack of 4-GPU instances). Tensor parallelism must stay inside it, and every
    "inside the node" decision (TP, EP all-to-all, CP ring, pipeline sends, the intra-node level of
    the DP reduction) is taken against it: a group inside the domain talks at the scale-up
    bandwidth even when it spans several instances.

    Returns
    -------
    dict of arrays
        Step parts (``compute_s, tp_comm_s, pp_comm_s, bubble_s, dp_exposed_s, optimizer_s,
        step_s``), ``n_gpus, n_nodes, n_micro, steps, model_flops, hardware_flops,
        tflops_per_gpu`` (model FLOP/s per GPU / 1e12), ``mfu, hfu, work_s`` (failure-free
        wall), ``gpu_hours, cost_usd``, memory (``mem_weights ... mem_total``), reliability
        (``mtbf_s, checkpoint_interval_s, expected_wall_s, goodput, expected_interruptions,
        expected_gpu_hours, expected_cost_usd``) and the feasibility masks of
        ``_training_feasibility`` plus ``feasible``.
    """
    f = lambda x: np.asarray(x, dtype=float)  # noqa: E731
    tp_, pp_, dp_ = f(tp), f(pp), f(dp)
    ep_, cp_ = f(expert_parallel), f(context_parallel)
    gb, mb, s = f(global_batch), f(micro_batch), f(seq_len)
    gpn = f(gpus_per_node)
    dom = gpn if scale_up_domain_gpus is None else np.maximum(f(scale_up_domain_gpus), gpn)
    rc = np.asarray(recompute_code)
    scale_up_bw_bytes_per_s = f(scale_up_bw_bytes_per_s) * comm_efficiency
    scale_out_bw_bytes_per_s = f(scale_out_bw_bytes_per_s) * comm_efficiency
    n_gpus = tp_ * pp_ * dp_ * cp_
    n_nodes = np.ceil(n_gpus / gpn)
    n_micro = gb / (mb * dp_)
    tokens_step = gb * s
    steps = np.ceil(f(tokens) / tokens_step)

    layer_model, layer_hw, head = _flops_per_token(spec, s, rc)
    layers_stage = np.ceil(spec.n_layers / pp_)
    flops_micro = mb * s * (layers_stage * layer_hw + head) / (tp_ * cp_)
    model_flops_step = tokens_step * (spec.n_layers * layer_model + head)
    hw_flops_step = tokens_step * (spec.n_layers * layer_hw + head)

    # tensor parallel: 4 (6 with full recompute) all-reduces of b*s*h activations per layer
    act_bytes_micro = mb * s / cp_ * spec.d_model * dtype_bytes
    n_ar = layers_stage * np.where(rc == 2, 6.0, 4.0)
    t_tp = n_ar * _comm.allreduce_time(act_bytes_micro, tp_, scale_up_bw_bytes_per_s, scale_up_latency_s)
    t_c_micro = flops_micro / (f(peak_flops_per_s) * efficiency)
    # (layouts that do not use an option skip its arrays: the planner's grids stay fast)
    if np.any(overlap_tp_comm):
        t_tp = np.where(np.asarray(overlap_tp_comm, bool),
                        np.maximum(t_tp - t_c_micro, TP_OVERLAP_EXPOSED_SHARE * t_tp), t_tp)
    t_cp = 0.0
    if np.any(cp_ > 1):  # context parallelism: K/V chunks around the ring under the attention kernel
        t_cp = _cp_ring_time(spec, mb, s, tp_, cp_, dom, layers_stage, layer_model, t_c_micro, dtype_bytes,
                             scale_up_bw_bytes_per_s, scale_up_latency_s, scale_out_bw_bytes_per_s,
                             scale_out_latency_s)
    t_ep = 0.0
    if np.any(ep_ > 1):  # expert parallelism: all-to-all dispatch/combine of the routed tokens
        pieces = (np.nan, np.nan)
        if moe_sublayer_time_shares is not None:
            shares = np.asarray(moe_sublayer_time_shares, float)
            pieces = (shares[..., 0], shares[..., 1])
        t_ep = _ep_all_to_all_time(spec, mb, s, tp_, cp_, ep_, dom, layers_stage, rc, t_c_micro, dtype_bytes,
                                   scale_up_bw_bytes_per_s, scale_up_latency_s, scale_out_bw_bytes_per_s,
                                   scale_out_latency_s, overlap_ep_comm, ep_dispatcher, piece_shares=pieces,
                                   layer_hw=layer_hw,
                                   layer_time=layers_stage * layer_hw / (layers_stage * layer_hw + head),
                                   unpaired_share=ep_overlap_unpaired_share(pp_, f(virtual_stages), n_micro))
    # pipeline: one send forward and one backward per micro-batch, b*s*h/tp bytes each
    stage_in_node = tp_ * dp_ * cp_ < dom
    p2p_bw = np.where(stage_in_node, scale_up_bw_bytes_per_s, scale_out_bw_bytes_per_s)
    p2p_lat = np.where(stage_in_node, scale_up_latency_s, scale_out_latency_s)
    v = f(virtual_stages)
    t_pp = np.where(pp_ > 1, 2.0 * v * _comm.p2p_time(act_bytes_micro / tp_, p2p_bw, p2p_lat), 0.0)
    # data parallel: hierarchical all-reduce of the stage's gradients
    params_stage = _stage_params(spec, tp_, pp_, ep_)
    z = np.asarray(zero_stage)
    grad_bytes = params_stage * dtype_bytes * np.where(z >= 3, 1.5, 1.0)
    dpc = dp_ * cp_  # ranks holding the same weights (CP ranks too)
    n_local = np.minimum(dpc, np.maximum(1.0, np.floor(dom / tp_)))
    n_dp_nodes = np.ceil(dpc / n_local)
    t_dp = _comm.hierarchical_allreduce_time(grad_bytes, n_local, n_dp_nodes, scale_up_bw_bytes_per_s,
                                           scale_up_latency_s, scale_out_bw_bytes_per_s,
                                           scale_out_latency_s)
    backward_share = np.where(rc == 2, 0.75, 2.0 / 3.0)
    t_w = 0.0
    if np.any(np.asarray(schedule_code) == 1):  # ZB-H1: the weight-gradient (W) pass of a micro-batch
        mm = float(spec.active_layer_params - spec.norm_params_per_layer)
        share = np.asarray(weight_grad_time_share, float)
        share = np.where(np.isfinite(share), share, 2.0 * mm / layer_hw)  # of a layer's time
        layer_time = layers_stage * layer_hw / (layers_stage * layer_hw + head)  # of t_c (head: the rest)
        t_w = t_c_micro * (layer_time * share + (1.0 - layer_time) / 3.0)
    opt_params = params_stage / np.where(z >= 1, dpc, 1.0)
    n_buckets = np.maximum(np.ceil(params_stage / GRAD_BUCKET_PARAMS), 1.0)
    t_opt = opt_params * OPTIMIZER_BYTES_PER_PARAM / f(mem_bw_bytes_per_s)
    parts = _training_step_arrays(flops_micro=flops_micro, peak_flops_per_s=peak_flops_per_s,
                                  efficiency=efficiency, pp=pp_, n_micro=n_micro, t_tp_micro=t_tp,
                                  t_pp_micro=t_pp, t_dp=t_dp, backward_share=backward_share,
                                  t_optimizer=t_opt, virtual_stages=v, t_ep_micro=t_ep, t_cp_micro=t_cp,
                                  overlap_grad_reduce=overlap_grad_reduce, n_buckets=n_buckets,
                                  distributed_optimizer=z >= 1, schedule_code=schedule_code, t_w_micro=t_w)
    step = parts["step"]
    peak = f(peak_flops_per_s)
    mfu = model_flops_step / (step * n_gpus * peak)
    hfu = hw_flops_step / (step * n_gpus * peak)
    work = steps * step
    gpu_hours = work * n_gpus / HOUR_S
    price = f(price_usd_per_gpu_hour)
    mem = _training_memory_arrays(spec, mb, s, tp_, pp_, dp_, z, rc, sequence_parallel, n_micro,
                                  dtype_bytes, dtype_bytes, optim_bytes, dtype_bytes, virtual_stages=v,
                                  expert_parallel=ep_, context_parallel=cp_, fp8=fp8,
                                  ep_overlap=np.asarray(overlap_ep_comm, bool) & (ep_ > 1))
    rel = reliability_arrays(work, n_gpus, n_nodes, checkpoint_s, restart_s, failures_per_gpu_hour,
                              preemptions_per_node_hour, job_failures_per_hour)
    feas = _training_feasibility(spec, tp=tp, pp=pp, dp=dp, global_batch=global_batch,
                                 micro_batch=micro_batch, gpus_per_node=dom,
                                 memory_total=mem["total"], gpu_memory_bytes=gpu_memory_bytes,
                                 virtual_stages=v)
    feasible = ~np.logical_or.reduce(list(np.broadcast_arrays(*feas.values())))
    out = {f"{k}_s": v for k, v in parts.items()}
    out.update(
        n_gpus=n_gpus, n_nodes=n_nodes, n_micro=n_micro, steps=steps,
        model_flops=steps * model_flops_step, hardware_flops=steps * hw_flops_step,
        tflops_per_gpu=model_flops_step / step / n_gpus / 1e12,
        hw_tflops_per_gpu=hw_flops_step / step / n_gpus / 1e12,
        mfu=mfu, hfu=hfu, work_s=work, gpu_hours=gpu_hours, cost_usd=gpu_hours * price,
        t_dp_s=t_dp, tokens_per_s=tokens_step / step,
        mtbf_s=rel["mtbf_s"], checkpoint_interval_s=rel["interval_s"],
        expected_wall_s=rel["expected_wall_s"], goodput=rel["goodput"],
        expected_interruptions=rel["expected_interruptions"],
        lost_work_s=rel["lost_work_s"], checkpoint_overhead_s=rel["checkpoint_overhead_s"],
        expected_gpu_hours=rel["expected_wall_s"] * n_gpus / HOUR_S,
        expected_cost_usd=rel["expected_wall_s"] * n_gpus / HOUR_S * price,
        feasible=feasible,
    )
    out.update({f"mem_{k}": v for k, v in mem.items()})
    out.update(feas)
    return out


def fp8_training_assumption() -> str:
    """What FP8 training costs besides the FP8 GEMMs, in words (a plan's assumptions line)."""
    from ..calibrate_curves import FP8_CAST_TENSORS_PER_TOKEN
    from ._memory import FP8_GEMM_INPUT_BYTES, FP8_WEIGHT_CACHE_BYTES_PER_PARAM

    return (f"FP8 training: GEMMs at the fp8 peak; attention, norms, activations and the optimizer in "
            f"bf16/fp32 (attention at the bf16 peak); casts of {FP8_CAST_TENSORS_PER_TOKEN:g} d_model bytes per "
            f"token and layer (per-tensor scaling) as extra memory traffic; bf16 master weights and gradients, "
            f"fp32 optimizer states; GEMM inputs kept in {FP8_GEMM_INPUT_BYTES:g} B for the backward pass; "
            f"FP8 weight copies {FP8_WEIGHT_CACHE_BYTES_PER_PARAM:g} B/param")


# ---- records ----------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainingJob:
    """What to train.

    Parameters
    ----------
    model : ModelSpec or str
    tokens : float
        Training tokens [tokens].
    global_batch : int
        Sequences per optimizer step (e.g. 1024 sequences of 4096 tokens = 4M tokens).
    micro_batch : int
        Sequences per micro-batch per GPU.
    tp, pp : int
        Tensor and pipeline parallel degrees.
    dp : int, optional
        Data-parallel degree; defaults to ``Cluster.gpus / (tp*pp)``.
    recompute : {"none", "selective", "full"}
        Default ``"selective"``: the attention scores are not kept (Korthikanti et al. 2022);
        FlashAttention, used by every current training stack, has the same effect (it
        recomputes the scores in its backward kernel), so ``"none"`` models a training run
        that materialises the ``s x s`` attention matrices.
    zero_stage : {0, 1, 2, 3}
    virtual_stages : int
        Model chunks per GPU for Megatron-LM's interleaved 1F1B schedule (1: plain 1F1B).
    schedule : {"1f1b", "zb-h1"}
        Pipeline schedule (``TRAINING_SCHEDULES``): ``"1f1b"`` (default; Megatron-LM's, interleaved
        when ``virtual_stages > 1``) or ``"zb-h1"``, the zero-bubble schedule ZB-H1 (Qi et al.,
        ICLR 2024): bubble ``(pp-1)(T_F+T_B-T_W)`` at 1F1B's memory; needs ``pp > 1`` and
        ``virtual_stages == 1`` (module docstring for the assumptions).
    sequence_parallel : bool, optional
        Defaults to ``tp > 1`` (Megatron-LM's recommendation).
    seq_len : int, optional
        Tokens per sequence; defaults to the model's pre-training length.
    dtype : str
        Training dtype (peak FLOP/s and bytes per value).
    optimizer : str
    checkpoint_s : float, optional
        Time one checkpoint blocks training [s]; default from the storage tier.
    restart_s : float, optional
        Time from an interruption to training again [s]; default ``DEFAULT_RESTART_S``
        (``DEFAULT_SPOT_RESTART_S`` on spot capacity).
    failures_per_gpu_hour : float
        Hardware interruption rate per GPU-hour (default: Llama 3 report, hardware share).
    job_failures_per_hour : float
        Interruptions per hour that do not scale with the job's GPUs (software; default: Llama 3
        report, the non-hardware share); ``aicost.model.failure_rates(fleet_class)`` has both
        numbers for other fleets.
    ep, cp : int
        Expert parallelism (shards the routed experts; all-to-all per MoE layer; carved out of the
        ``tp * dp * cp`` ranks) and context parallelism (splits each sequence; ``tp * pp * dp * cp``
        GPUs).
    overlap_grad_reduce : bool
        Bucketed data-parallel reduction overlapping the backward pass (default True).
    overlap_tp_comm : bool
        Tensor-parallel collectives overlapped with the GEMMs (default False).
    overlap_ep_comm : bool
        Expert-parallel all-to-all overlapped with another micro-batch's compute (DualPipe,
        Megatron-Core's 1F1B A2A overlap; default False): each of a MoE layer's four transfers hides
        under its paired attention or MLP piece only (``EP_OVERLAP_PAIRING``).
    ep_dispatcher : {"alltoall", "deepep"}
        How expert-parallel dispatch moves tokens (``aicost.model.EP_DISPATCHERS``): one copy per
        routed expert (default; Megatron-Core's all-to-all dispatcher) or one per destination node
        with NVLink forwarding (DeepEP, Megatron-Core's flex dispatcher, DeepSeek-V3's own).
    attention : {"flash", "materialized"}
        Attention kernel of the shape-aware compute efficiency: FlashAttention-style (default,
        every current stack) or the ``s x s`` scores materialized with a memory-bound softmax
        (2021-era Megatron-LM); ``aicost.calibrate_curves.layer_compute_efficiency``.
    """

    model: ModelSpec | str
    tokens: float
    global_batch: int = 1024
    micro_batch: int = 1
    tp: int = 1
    pp: int = 1
    dp: int | None = None
    recompute: str = "selective"
    zero_stage: int = 1
    virtual_stages: int = 1
    sequence_parallel: bool | None = None
    seq_len: int | None = None
    dtype: str = "bf16"
    optimizer: str = "adamw"
    checkpoint_s: float | None = None
    restart_s: float | None = None
    failures_per_gpu_hour: float = DEFAULT_FAILURES_PER_GPU_HOUR
    job_failures_per_hour: float = DEFAULT_JOB_FAILURES_PER_HOUR
    ep: int = 1
    cp: int = 1
    overlap_grad_reduce: bool = True
    overlap_tp_comm: bool = False
    overlap_ep_comm: bool = False
    attention: str = "flash"
    ep_dispatcher: str = "alltoall"
    schedule: str = "1f1b"


def _checkpoint_seconds(job: TrainingJob, cluster: Cluster, hw: Hardware, spec: ModelSpec):
    """Seconds one checkpoint blocks training, and the source of that number."""
    if job.checkpoint_s is not None:
        return check_positive("checkpoint_s", job.checkpoint_s, allow_zero=True), "TrainingJob.checkpoint_s"
    nbytes = spec.n_params * CHECKPOINT_BYTES_PER_PARAM
    nodes = cluster.nodes
    if cluster.checkpoint_write_bytes_per_s is not None:
        return nbytes / cluster.checkpoint_write_bytes_per_s, "Cluster.checkpoint_write_bytes_per_s"
    tier = hw.storage_tier
    if tier is not None:
        from ..storage import checkpoint_time

        # every GPU writes its shard (sharded checkpoints, as Megatron-LM's distributed
        # checkpointing and PyTorch DCP do); a per-TiB tier is provisioned for three checkpoints
        # (an assumption), at least its minimum size
        cap = max(nbytes * 3, (getattr(tier, "min_capacity_gib", None) or 0) * GIB)
        t = float(checkpoint_time(nbytes, tier, n_writers=cluster.gpus, writers_per_node=cluster.gpus_per_node,
                                  capacity_bytes=cap))
        return t, (f"aicost.storage.checkpoint_time: {format_bytes(nbytes)} to {tier.name} by "
                   f"{cluster.gpus} writers on {nodes} nodes")
    rate = DEFAULT_CHECKPOINT_WRITE_BYTES_PER_S_PER_NODE * nodes
    return nbytes / rate, (f"{format_bytes(nbytes)} at an assumed {DEFAULT_CHECKPOINT_WRITE_BYTES_PER_S_PER_NODE / 1e9:g}"
                           " GB/s per node (no storage tier given)")


@dataclass(frozen=True)
class TrainingEstimate:
    """The estimate of one training job on one cluster. Times in seconds, costs in USD.

    ``step`` is the failure-free step time; its parts are ``compute_s``, ``tp_comm_s``,
    ``pp_comm_s``, ``bubble_s``, ``dp_exposed_s`` and ``optimizer_s``. ``expected_*`` fields
    include interruptions, checkpoints and restarts.
    """

    model: str
    accelerator: str
    n_gpus: int
    tp: int
    pp: int
    dp: int
    micro_batch: int
    global_batch: int
    n_micro_batches: float
    seq_len: int
    recompute: str
    zero_stage: int
    virtual_stages: int
    tokens: float
    steps: float
    step_s: float
    compute_s: float
    tp_comm_s: float
    pp_comm_s: float
    bubble_s: float
    dp_exposed_s: float
    optimizer_s: float
    model_flops: float
    hardware_flops: float
    tflops_per_gpu: float
    hw_tflops_per_gpu: float
    mfu: float
    hfu: float
    tokens_per_s: float
    wall_s: float
    gpu_hours: float
    price_usd_per_gpu_hour: float
    cost_usd: float
    memory: MemoryBreakdown
    memory_capacity_bytes: float
    fits: bool
    checkpoint_s: float
    checkpoint_interval_s: float
    restart_s: float
    mtbf_s: float
    expected_interruptions: float
    goodput: float
    expected_wall_s: float
    expected_gpu_hours: float
    expected_cost_usd: float
    gemm_efficiency: float
    compute_efficiency: float
    comm_efficiency: float
    sources: dict = field(default_factory=dict, compare=False)
    ep: int = 1
    cp: int = 1
    ep_comm_s: float = 0.0
    cp_comm_s: float = 0.0
    schedule: str = "1f1b"

    @property
    def breakdown(self) -> dict[str, float]:
        """Step-time parts [s]."""
        return {k: getattr(self, f"{k}_s") for k in
                ("compute", "tp_comm", "pp_comm", "ep_comm", "cp_comm", "bubble", "dp_exposed", "optimizer")}

    @property
    def bottleneck(self) -> str:
        """The largest non-compute part of a step, or ``compute``."""
        parts = self.breakdown
        other = {k: v for k, v in parts.items() if k != "compute"}
        worst = max(other, key=other.get)
        return worst if other[worst] > 0.25 * parts["compute"] else "compute"

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("memory", "sources")}
        d.update({f"mem_{k}": v for k, v in self.memory.as_dict().items()})
        return d

    def _rows(self):
        m = self.memory
        return [
            ("layout", f"{self.n_gpus} x {self.accelerator}: tp {self.tp} x pp {self.pp} x dp {self.dp}, "
                       f"micro-batch {self.micro_batch}, global batch {self.global_batch} x {self.seq_len} tokens, "
                       f"recompute {self.recompute}, ZeRO {self.zero_stage}"
                       + (f", interleaved x{self.virtual_stages}" if self.virtual_stages > 1 else "")
                       + (", ZB-H1 schedule" if self.schedule == "zb-h1" else "")
                       + (f", ep {self.ep}" if self.ep > 1 else "") + (f", cp {self.cp}" if self.cp > 1 else "")),
            ("step time", f"{format_duration(self.step_s)} = compute {format_duration(self.compute_s)} + TP "
                          f"{format_duration(self.tp_comm_s)} + PP {format_duration(self.pp_comm_s)}"
                          + (f" + EP all-to-all {format_duration(self.ep_comm_s)}" if self.ep > 1 else "")
                          + (f" + CP ring {format_duration(self.cp_comm_s)}" if self.cp > 1 else "")
                          + " + bubble "
                          f"{format_duration(self.bubble_s)} + DP exposed {format_duration(self.dp_exposed_s)} + "
                          f"optimizer {format_duration(self.optimizer_s)}"),
            ("throughput", f"{self.tflops_per_gpu:.0f} TFLOP/s per GPU (model), MFU {self.mfu:.1%}, "
                           f"HFU {self.hfu:.1%}, {self.tokens_per_s:,.0f} tokens/s"),
            ("memory per GPU", f"{m.total / 1e9:.1f} GB of {self.memory_capacity_bytes / 1e9:.1f} GB "
                               f"({'fits' if self.fits else 'DOES NOT FIT'}): weights {m.weights / 1e9:.1f}, "
                               f"grads {m.gradients / 1e9:.1f}, optimizer {m.optimizer / 1e9:.1f}, "
                               f"activations {m.activations / 1e9:.1f} GB"),
            ("failure-free", f"{format_duration(self.wall_s)}, {self.gpu_hours:,.0f} GPU-hours, "
                             + (f"${self.cost_usd:,.0f} at ${self.price_usd_per_gpu_hour:.2f}/GPU-h"
                                if math.isfinite(self.cost_usd) else
                                "cost unknown (no catalog price; set Cluster.price_usd_per_gpu_hour)")),
            ("reliability", f"MTBF {format_duration(self.mtbf_s)}, checkpoint {format_duration(self.checkpoint_s)} "
                            f"every {format_duration(self.checkpoint_interval_s)}, restart "
                            f"{format_duration(self.restart_s)}, ~{self.expected_interruptions:{'.0f' if self.expected_interruptions >= 10 else '.2g'}} "
                            f"interruptions, goodput {self.goodput:.1%}"),
            ("expected", f"{format_duration(self.expected_wall_s)}, {self.expected_gpu_hours:,.0f} GPU-hours"
                         + (f", ${self.expected_cost_usd:,.0f}" if math.isfinite(self.expected_cost_usd) else "")),
            ("efficiency", f"compute {self.compute_efficiency:.3f} of peak "
                           f"({self.sources.get('efficiency', '')}); collectives {self.comm_efficiency:.2f} "
                           "of link bandwidth"),
            ("bottleneck", self.bottleneck),
        ]

    def __str__(self) -> str:
        w = max(len(k) for k, _ in self._rows())
        return f"Training {self.model} on {self.tokens:.3g} tokens\n" + "\n".join(
            f"  {k:<{w}}  {v}" for k, v in self._rows())

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th style='text-align:left;vertical-align:top'>{html.escape(k)}</th>"
                       f"<td style='text-align:left'>{html.escape(v)}</td></tr>" for k, v in self._rows())
        srcs = "".join(f"<li>{html.escape(k)}: {html.escape(str(v))}</li>" for k, v in self.sources.items())
        return (f"<div><b>Training {html.escape(self.model)} on {self.tokens:.3g} tokens</b>"
                f"<table>{rows}</table><details><summary>sources</summary><ul>{srcs}</ul></details></div>")


def estimate_training(job: TrainingJob, cluster: Cluster, catalog=None, store=None) -> TrainingEstimate:
    """Estimate step time, MFU, wall time, GPU-hours, cost and reliability of a training job.

    Parameters
    ----------
    job : TrainingJob
    cluster : Cluster
    catalog : aicost.catalog.Catalog, optional
        Defaults to ``aicost.catalog.load()`` (only loaded when the cluster needs it).
    store : aicost.store.Store, optional
        Results store for measured GEMM efficiencies.

    Returns
    -------
    TrainingEstimate
        A layout whose memory exceeds the GPU is still estimated; ``fits`` is False and the
        printed estimate says so (the planner drops such layouts with the reason).

    Raises
    ------
    ValueError
        For impossible jobs (zero tokens, a layout that does not match the GPU count, ``tp``
        larger than a node, a batch that does not split into micro-batches, ...).

    Notes
    -----
    Tensor parallelism is limited by the scale-up domain (``Hardware.scale_up_domain_gpus``: 72
    GPUs on an NVL72 rack), not by the GPUs per node. Not modelled: fp32 gradient reduction
    (gradients are reduced in the training dtype) and the second parameter copy of DualPipe's
    bidirectional pipeline (``overlap_ep_comm`` charges no memory).
    """
    spec = _spec_check(job.model)
    tokens = check_positive("tokens", job.tokens)
    dtype = normalize_dtype(job.dtype)
    gb = positive_int("global_batch", job.global_batch)
    mb = positive_int("micro_batch", job.micro_batch)
    tp = positive_int("tp", job.tp)
    pp = positive_int("pp", job.pp)
    zero = positive_int("zero_stage", job.zero_stage, allow_zero=True)
    if zero > 3:
        raise ValueError(f"zero_stage must be 0-3, got {zero}")
    rc = int(_recompute_code(job.recompute))
    recompute = {v: k for k, v in RECOMPUTE_CODES.items()}[rc]
    seq = spec.pretrain_seq_len if job.seq_len is None else positive_int("seq_len", job.seq_len)
    ep = positive_int("ep", job.ep)
    cp = positive_int("cp", job.cp)
    if cluster.gpus % (tp * pp * cp):
        raise ValueError(f"{cluster.gpus} GPUs do not split into tp={tp} x pp={pp} x cp={cp} groups; "
                         f"use a GPU count that is a multiple of {tp * pp * cp}")
    dp = cluster.gpus // (tp * pp * cp) if job.dp is None else positive_int("dp", job.dp)
    if tp * pp * dp * cp != cluster.gpus:
        raise ValueError(f"tp*pp*dp*cp = {tp}*{pp}*{dp}*{cp} = {tp * pp * dp * cp} does not match the cluster's "
                         f"{cluster.gpus} GPUs; leave dp=None to derive it")
    if ep > 1 and (not spec.is_moe or spec.n_experts % ep or (tp * dp * cp) % ep):
        raise ValueError(f"ep={ep} needs a mixture-of-experts model whose {spec.n_experts} experts it divides, "
                         f"and must divide tp*dp*cp = {tp * dp * cp} (expert parallelism is carved out of the "
                         "ranks that share the dense weights)")
    dispatcher = str(job.ep_dispatcher).lower()
    if dispatcher not in _comm.EP_DISPATCHERS:
        raise ValueError(f"ep_dispatcher must be one of {', '.join(_comm.EP_DISPATCHERS)}, got {job.ep_dispatcher!r}")
    if cp > 1 and seq % (2 * cp):
        raise ValueError(f"cp={cp} needs a sequence length divisible by 2*cp (load-balanced causal chunks); "
                         f"seq_len is {seq}")
    if spec.n_heads % tp:
        raise ValueError(f"tp={tp} does not divide {spec.name}'s {spec.n_heads} attention heads")
    if pp > spec.n_layers:
        raise ValueError(f"pp={pp} exceeds {spec.name}'s {spec.n_layers} layers")
    if gb % (mb * dp):
        raise ValueError(f"global_batch {gb} does not split into micro-batches of {mb} over dp={dp} "
                         f"replicas; use a multiple of {mb * dp}")
    v = positive_int("virtual_stages", job.virtual_stages)
    if v > 1:
        if pp == 1:
            raise ValueError("virtual_stages > 1 (interleaved schedule) needs pipeline parallelism (pp > 1)")
        if pp * v > spec.n_layers:
            raise ValueError(f"pp*virtual_stages = {pp * v} exceeds {spec.name}'s {spec.n_layers} layers")
        if (gb // (mb * dp)) % pp:
            raise ValueError(f"the interleaved schedule needs the micro-batch count ({gb // (mb * dp)}) to be a "
                             f"multiple of pp={pp}")
    sched = schedule_code(job.schedule)
    if sched == 1 and pp == 1:
        raise ValueError("schedule='zb-h1' reshapes the pipeline bubble and needs pipeline parallelism (pp > 1); "
                         "with pp=1 there is no bubble: use schedule='1f1b'")
    if sched == 1 and v > 1:
        raise ValueError(f"schedule='zb-h1' runs one model chunk per GPU; use virtual_stages=1 with it, or "
                         f"schedule='1f1b' with virtual_stages={v} for Megatron-LM's interleaved schedule "
                         "(ZB-V, the two-chunk zero-bubble schedule, is not modelled)")
    sp = (tp > 1) if job.sequence_parallel is None else bool(job.sequence_parallel)
    pricing_spot = str(cluster.pricing).lower() == "spot"
    hw = resolve_hardware(cluster, dtype, catalog=catalog, store=store,
                          shape=(mb * seq, spec.d_model, spec.d_ff // tp))
    domain = int(hw.scale_up_domain_gpus or cluster.gpus_per_node)
    if tp > domain:
        where = ("in a node" if domain == cluster.gpus_per_node else
                 f"of one scale-up domain ({hw.sources.get('scale_up_domain', '')})")
        raise ValueError(f"tp={tp} is larger than the {domain} GPUs {where}: tensor parallelism needs the "
                         "scale-up fabric; lower tp and raise pp or dp, or set Cluster.scale_up_domain_gpus "
                         "(e.g. 72 on a GB200 NVL72 rack)")
    ck_s, ck_src = _checkpoint_seconds(job, cluster, hw, spec)
    restart = job.restart_s if job.restart_s is not None else (
        DEFAULT_SPOT_RESTART_S if pricing_spot else DEFAULT_RESTART_S)
    restart = check_positive("restart_s", restart, allow_zero=True)
    preempt = cluster.preemptions_per_node_hour
    if preempt is None:
        preempt = DEFAULT_SPOT_PREEMPTIONS_PER_NODE_HOUR if pricing_spot else 0.0
    fail = check_positive("failures_per_gpu_hour", job.failures_per_gpu_hour, allow_zero=True)
    nbytes = float(DTYPE_BYTES[dtype]) if dtype not in ("fp8", "int8") else 2.0
    if job.attention not in ("flash", "materialized"):
        raise ValueError(f"attention must be 'flash' or 'materialized', got {job.attention!r}")
    eff, eff_src = hw.compute_efficiency, hw.sources.get("efficiency", "")
    if cluster.efficiency is None and hw.gemm_curve is not None:
        # the default: the layout's per-GPU GEMM shapes on the accelerator's curve (the planner's rule)
        eff = float(shape_aware_efficiency(hw, spec, dtype=dtype, seq_len=seq, tp=tp, micro_batch=mb, ep=ep,
                                           cp=cp, recompute_code=rc, attention=job.attention))
        eff_src = shape_aware_source(hw.gemm_curve, eff)
    w_share = np.nan  # ZB-H1's W pass: the layer kernel-time model's share where the efficiency comes from it
    if sched == 1 and cluster.efficiency is None and hw.gemm_curve is not None:
        w_share = float(shape_aware_weight_grad_share(hw, spec, dtype=dtype, seq_len=seq, tp=tp, micro_batch=mb,
                                                      ep=ep, cp=cp, recompute_code=rc, attention=job.attention))
    pieces = None  # the EP overlap's pieces: the layer kernel-time model's where the efficiency comes from it
    if job.overlap_ep_comm and ep > 1 and cluster.efficiency is None and hw.gemm_curve is not None:
        pieces = shape_aware_moe_sublayer_shares(hw, spec, dtype=dtype, seq_len=seq, tp=tp, micro_batch=mb, ep=ep,
                                                 cp=cp, recompute_code=rc, attention=job.attention)
    r = training_arrays(
        spec, tokens=tokens, global_batch=gb, micro_batch=mb, seq_len=seq, tp=tp, pp=pp, dp=dp,
        zero_stage=zero, recompute_code=rc, sequence_parallel=sp,
        peak_flops_per_s=hw.peak_flops_per_s, efficiency=eff,
        gpus_per_node=cluster.gpus_per_node, scale_up_bw_bytes_per_s=hw.scale_up_bw_bytes_per_s,
        scale_up_latency_s=hw.scale_up_latency_s, scale_out_bw_bytes_per_s=hw.scale_out_bw_bytes_per_s,
        scale_out_latency_s=hw.scale_out_latency_s, mem_bw_bytes_per_s=hw.mem_bw_bytes_per_s,
        gpu_memory_bytes=hw.memory_bytes, price_usd_per_gpu_hour=hw.price_usd_per_gpu_hour,
        dtype_bytes=nbytes, optim_bytes=optimizer_state_bytes(job.optimizer, dtype), checkpoint_s=ck_s,
        restart_s=restart, failures_per_gpu_hour=fail, preemptions_per_node_hour=preempt,
        comm_efficiency=hw.comm_efficiency, virtual_stages=v, expert_parallel=ep, context_parallel=cp,
        overlap_grad_reduce=job.overlap_grad_reduce, overlap_tp_comm=job.overlap_tp_comm,
        overlap_ep_comm=job.overlap_ep_comm, scale_up_domain_gpus=domain, fp8=(dtype == "fp8"),
        ep_dispatcher=dispatcher, schedule_code=sched, weight_grad_time_share=w_share,
        moe_sublayer_time_shares=pieces,
        job_failures_per_hour=check_positive("job_failures_per_hour", job.job_failures_per_hour, allow_zero=True))
    g = {k: (float(v) if np.ndim(v) == 0 else v) for k, v in r.items()}
    mem = MemoryBreakdown(weights=g["mem_weights"], gradients=g["mem_gradients"],
                          optimizer=g["mem_optimizer"], activations=g["mem_activations"],
                          total=g["mem_total"], params_per_gpu=float(_stage_params(spec, tp, pp, ep)))
    sources = dict(hw.sources)
    sources.update(efficiency=eff_src, checkpoint=ck_src,
                   restart=("TrainingJob.restart_s" if job.restart_s is not None else
                            "assumption DEFAULT_SPOT_RESTART_S" if pricing_spot else "assumption DEFAULT_RESTART_S"),
                   failures=(f"{fail:.3g} per GPU-hour + {job.job_failures_per_hour:.3g} per job-hour: "
                             + ("Llama 3 report, 419 interruptions / 54 d on 16,384 H100, 78% hardware (Sec. 3.3.4)"
                                if fail == DEFAULT_FAILURES_PER_GPU_HOUR
                                and job.job_failures_per_hour == DEFAULT_JOB_FAILURES_PER_HOUR
                                else "TrainingJob.failures_per_gpu_hour / job_failures_per_hour")),
                   overlap=("bucketed DP gradient reduction overlaps the last "
                            + ("W pass (ZB-H1)" if sched == 1 else "backward")
                            + (", parameter all-gather the next forward" if zero >= 1 else "")
                            if job.overlap_grad_reduce else "DP reduction after the last backward only")
                           + ("; TP collectives overlapped with GEMMs" if job.overlap_tp_comm else
                              "; TP collectives exposed")
                           + (("; EP all-to-all overlapped with another micro-batch's compute, "
                               + EP_OVERLAP_PAIRING + " (pieces from the "
                               + ("layer kernel-time model)" if pieces is not None else "FLOP shares)")
                               if job.overlap_ep_comm else "; EP all-to-all exposed (no DualPipe-style overlap)")
                              + ("; EP dispatch one copy per destination node, NVLink forwarding (DeepEP-style)"
                                 if dispatcher == "deepep" else "; EP dispatch one copy per routed expert (all-to-all)")
                              if ep > 1 else "")
                           + ("; CP ring traffic under the attention kernel" if cp > 1 else ""),
                   preemptions=f"{preempt:g} per node-hour" + (" (spot default)" if pricing_spot and
                                                               cluster.preemptions_per_node_hour is None else ""))
    sources["schedule"] = (ZERO_BUBBLE_ASSUMPTION if sched == 1 else
                           f"interleaved 1F1B, {v} virtual stages (Narayanan et al. 2021): bubble (pp-1)/v of a "
                           "micro-batch's slot per stage" if v > 1 else
                           "1F1B (Megatron-LM): bubble (pp-1) micro-batch slots per stage")
    if dtype == "fp8":
        sources["fp8"] = fp8_training_assumption()
    return TrainingEstimate(
        model=spec.name, accelerator=hw.accelerator, n_gpus=cluster.gpus, tp=tp, pp=pp, dp=dp,
        micro_batch=mb, global_batch=gb, n_micro_batches=g["n_micro"], seq_len=seq, recompute=recompute,
        zero_stage=zero, virtual_stages=v, tokens=tokens, steps=g["steps"], step_s=g["step_s"], compute_s=g["compute_s"],
        tp_comm_s=g["tp_comm_s"], pp_comm_s=g["pp_comm_s"], bubble_s=g["bubble_s"],
        dp_exposed_s=g["dp_exposed_s"], optimizer_s=g["optimizer_s"], model_flops=g["model_flops"],
        hardware_flops=g["hardware_flops"], tflops_per_gpu=g["tflops_per_gpu"],
        hw_tflops_per_gpu=g["hw_tflops_per_gpu"], mfu=g["mfu"], hfu=g["hfu"],
        tokens_per_s=g["tokens_per_s"], wall_s=g["work_s"], gpu_hours=g["gpu_hours"],
        price_usd_per_gpu_hour=hw.price_usd_per_gpu_hour, cost_usd=g["cost_usd"], memory=mem,
        memory_capacity_bytes=hw.memory_bytes, fits=not bool(r["out_of_memory"]), checkpoint_s=ck_s,
        checkpoint_interval_s=g["checkpoint_interval_s"], restart_s=restart, mtbf_s=g["mtbf_s"],
        expected_interruptions=g["expected_interruptions"], goodput=g["goodput"],
        expected_wall_s=g["expected_wall_s"], expected_gpu_hours=g["expected_gpu_hours"],
        expected_cost_usd=g["expected_cost_usd"], gemm_efficiency=hw.gemm_efficiency,
        compute_efficiency=eff, comm_efficiency=hw.comm_efficiency, sources=sources,
        ep=ep, cp=cp, ep_comm_s=g["ep_comm_s"], cp_comm_s=g["cp_comm_s"], schedule=TRAINING_SCHEDULES[sched])
