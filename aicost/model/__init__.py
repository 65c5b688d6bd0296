"""Workload models: model presets, training FLOPs/memory/step time, reliability, inference.

Public API
----------
``ModelSpec``, ``get_model``, ``list_models``, ``load_models``: architectures and presets.
``training_flops``, ``training_memory``, ``kv_cache_bytes``: formulas.
``TrainingJob``, ``Cluster``, ``estimate_training`` -> ``TrainingEstimate``; ``resolve_hardware``
-> ``Hardware`` (catalog + calibration lookups with their sources).
``optimal_checkpoint_interval``, ``expected_wall_time``: reliability (Young/Daly).
``estimate_inference`` -> ``InferenceEstimate``, ``latency_curve`` (DataFrame against batch),
``replicas_for_rate``; ``synthetic_diurnal_trace``, ``load_trace``, ``list_traces``,
``autoscale`` -> ``DemandPlan``, ``capacity_for_replicas``.

Array-level functions for the planner
-------------------------------------
Importable from ``aicost.model`` (private by name, stable by contract). Every argument except
``spec`` may be a numpy array; arrays broadcast together. The scalar functions call them, so
scalar and vectorized evaluations agree by construction (tests check it).

Training

``_training_eval_arrays(spec, *, tokens, global_batch, micro_batch, seq_len, tp, pp, dp,
zero_stage=0, recompute_code=0, sequence_parallel=False, peak_flops_per_s, efficiency,
gpus_per_node=8, scale_up_bw_bytes_per_s, scale_up_latency_s=5e-6, scale_out_bw_bytes_per_s,
scale_out_latency_s=1e-5, mem_bw_bytes_per_s=inf, gpu_memory_bytes=inf,
price_usd_per_gpu_hour=nan, dtype_bytes=2.0, optim_bytes=12.0, checkpoint_s=0.0,
restart_s=600.0, failures_per_gpu_hour=1.97e-5, preemptions_per_node_hour=0.0,
comm_efficiency=1.0, virtual_stages=1) -> dict``
    Everything ``estimate_training`` computes, as arrays: step parts (``compute_s``,
    ``tp_comm_s``, ``pp_comm_s``, ``bubble_s``, ``dp_exposed_s``, ``optimizer_s``, ``step_s``),
    ``t_dp_s``, ``n_gpus, n_nodes, n_micro, steps, model_flops, hardware_flops,
    tflops_per_gpu, hw_tflops_per_gpu, mfu, hfu, tokens_per_s, work_s`` (failure-free wall),
    ``gpu_hours, cost_usd``, memory (``mem_weights, mem_gradients, mem_optimizer,
    mem_activations, mem_total``), reliability (``mtbf_s, checkpoint_interval_s,
    expected_wall_s, goodput, expected_interruptions, lost_work_s, checkpoint_overhead_s,
    expected_gpu_hours, expected_cost_usd``), the infeasibility masks (``tp_exceeds_node,
    tp_splits_heads, pp_exceeds_layers, batch_not_divisible, out_of_memory,
    interleave_invalid``) and ``feasible``. ``recompute_code``: 0 none, 1 selective, 2 full
    (``RECOMPUTE_CODES``). ``scale_out_bw_bytes_per_s`` is per GPU; ``comm_efficiency``
    scales both fabrics.
``_training_step_arrays(*, flops_micro, peak_flops_per_s, efficiency, pp, n_micro,
t_tp_micro=0, t_pp_micro=0, t_dp=0, backward_share=2/3, t_optimizer=0, virtual_stages=1)``
    The step-time composition alone -> dict of ``compute, tp_comm, pp_comm, bubble,
    dp_exposed, optimizer, step``.
``_training_flops_arrays(spec, tokens, seq_len, recompute_code) -> (model_flops, hw_flops)``
``_flops_per_token(spec, seq_len, recompute_code) -> (layer_model, layer_hw, head)``
``_training_memory_arrays(spec, micro_batch, seq_len, tp, pp, dp, zero_stage, recompute_code,
sequence_parallel, n_micro_batches=None, weight_bytes=2, grad_bytes=2, optim_bytes=12,
act_bytes=2, virtual_stages=1) -> dict`` of ``weights, gradients, optimizer, activations,
total`` [B per GPU].
``_model_state_bytes(params, dp, zero_stage, weight_bytes=2, grad_bytes=2, optim_bytes=12)
-> (weights, gradients, optimizer)`` [B] under ZeRO.
``_stage_params(spec, tp, pp)``: parameters on one GPU of the largest pipeline stage.
``_activation_bytes_per_layer(spec, micro_batch, seq_len, tp, sequence_parallel,
recompute_code, act_bytes=2)``: Korthikanti et al. 2022, Table 2.
``_training_feasibility(spec, *, tp, pp, dp, global_batch, micro_batch, gpus_per_node,
memory_total, gpu_memory_bytes, reserve_bytes=2 GiB, virtual_stages=1) -> dict`` of masks.
``_reliability_arrays(work_s, n_gpus, n_nodes, checkpoint_s, restart_s,
failures_per_gpu_hour=..., preemptions_per_node_hour=0) -> dict`` (``mtbf_s, interval_s,
expected_wall_s, goodput, expected_interruptions, checkpoint_overhead_s, lost_work_s``).

Inference

``_inference_arrays(spec, *, tp, batch, prompt_tokens, output_tokens, peak_flops_per_s,
mem_bw_bytes_per_s, memory_bytes, compute_efficiency, bandwidth_efficiency,
scale_up_bw_bytes_per_s=inf, scale_up_latency_s=0, weight_bytes=2, kv_bytes=2, act_bytes=2,
price_usd_per_gpu_hour=nan) -> dict``
    One replica at a batch: ``weights_bytes, kv_bytes_per_seq, workspace_bytes, max_batch,
    fits, prefill_s, decode_step_s, tpot_s, ttft_s`` (unloaded), ``service_s, requests_per_s,
    output_tokens_per_s, prefill_share, cost_usd_per_hour, usd_per_1m_input,
    usd_per_1m_output`` (at full load). Pass ``scale_up_bw_bytes_per_s`` already multiplied
    by the collective efficiency.
``_prefill_arrays(spec, *, n_seqs, prompt_tokens, tp, ...)``, ``_decode_step_arrays(spec, *,
batch, context_tokens, tp, ...)``: the roofline parts; ``_max_batch_arrays(spec, *, tp,
context_tokens, memory_bytes, weight_bytes=2, kv_bytes=2, act_bytes=2, utilization=0.9)``.
``_replicas_arrays(*, rate, batch, service_s, base_ttft_s, ttft_target_s=inf,
percentile=0.9, max_replicas=100000) -> (replicas, ttft_s)``: smallest replica count under
the TTFT target (M/M/c over ``replicas * batch`` slots; ``inf`` when impossible).
``_erlang_c(c, a)``, ``_ttft_quantile(replicas, batch, rate, service_s, base_ttft_s,
percentile=0.9)``.
"""

from __future__ import annotations

from ._demand import (
    DEFAULT_TRACE,
    DemandPlan,
    autoscale,
    capacity_for_replicas,
    list_traces,
    load_trace,
    synthetic_diurnal_trace,
)
from ._inference import (
    DEFAULT_BANDWIDTH_EFFICIENCY,
    DEFAULT_TTFT_PERCENTILE,
    GPU_MEMORY_UTILIZATION,
    INFERENCE_KERNEL_FACTOR,
    PREFILL_CHUNK_TOKENS,
    InferenceEstimate,
    estimate_inference,
    latency_curve,
    replicas_for_rate,
)
from ._inference import (
    _decode_step_arrays as _decode_step_arrays,
)
from ._inference import (
    _erlang_c as _erlang_c,
)
from ._inference import (
    _inference_arrays as _inference_arrays,
)
from ._inference import (
    _max_batch_arrays as _max_batch_arrays,
)
from ._inference import (
    _prefill_arrays as _prefill_arrays,
)
from ._inference import (
    _replicas_arrays as _replicas_arrays,
)
from ._inference import (
    _ttft_quantile as _ttft_quantile,
)
from ._memory import (
    OPTIMIZER_STATE_BYTES,
    RECOMPUTE_CODES,
    RUNTIME_RESERVE_BYTES,
    MemoryBreakdown,
    kv_cache_bytes,
    training_memory,
)
from ._memory import (
    _activation_bytes_per_layer as _activation_bytes_per_layer,
)
from ._memory import (
    _model_state_bytes as _model_state_bytes,
)
from ._memory import (
    _stage_params as _stage_params,
)
from ._memory import (
    _training_memory_arrays as _training_memory_arrays,
)
from ._reliability import (
    DEFAULT_FAILURES_PER_GPU_HOUR,
    DEFAULT_RESTART_S,
    DEFAULT_SPOT_PREEMPTIONS_PER_NODE_HOUR,
    DEFAULT_SPOT_RESTART_S,
    expected_wall_time,
    optimal_checkpoint_interval,
)
from ._reliability import (
    _reliability_arrays as _reliability_arrays,
)
from ._spec import FFN_TYPES, ModelSpec, get_model, list_models, load_models
from ._training import (
    CHECKPOINT_BYTES_PER_PARAM,
    TRAINING_KERNEL_FACTOR,
    Cluster,
    Hardware,
    TrainingEstimate,
    TrainingJob,
    estimate_training,
    resolve_hardware,
    training_flops,
)
from ._training import (
    _flops_per_token as _flops_per_token,
)
from ._training import (
    _training_eval_arrays as _training_eval_arrays,
)
from ._training import (
    _training_feasibility as _training_feasibility,
)
from ._training import (
    _training_flops_arrays as _training_flops_arrays,
)
from ._training import (
    _training_step_arrays as _training_step_arrays,
)

__all__ = [  # noqa: RUF022 - plain sorted(), as tests/test_exports.py checks
    "CHECKPOINT_BYTES_PER_PARAM",
    "Cluster",
    "DEFAULT_BANDWIDTH_EFFICIENCY",
    "DEFAULT_FAILURES_PER_GPU_HOUR",
    "DEFAULT_RESTART_S",
    "DEFAULT_SPOT_PREEMPTIONS_PER_NODE_HOUR",
    "DEFAULT_SPOT_RESTART_S",
    "DEFAULT_TRACE",
    "DEFAULT_TTFT_PERCENTILE",
    "DemandPlan",
    "FFN_TYPES",
    "GPU_MEMORY_UTILIZATION",
    "Hardware",
    "INFERENCE_KERNEL_FACTOR",
    "InferenceEstimate",
    "MemoryBreakdown",
    "ModelSpec",
    "OPTIMIZER_STATE_BYTES",
    "PREFILL_CHUNK_TOKENS",
    "RECOMPUTE_CODES",
    "RUNTIME_RESERVE_BYTES",
    "TRAINING_KERNEL_FACTOR",
    "TrainingEstimate",
    "TrainingJob",
    "autoscale",
    "capacity_for_replicas",
    "estimate_inference",
    "estimate_training",
    "expected_wall_time",
    "get_model",
    "kv_cache_bytes",
    "latency_curve",
    "list_models",
    "list_traces",
    "load_models",
    "load_trace",
    "optimal_checkpoint_interval",
    "replicas_for_rate",
    "resolve_hardware",
    "synthetic_diurnal_trace",
    "training_flops",
    "training_memory",
]
