"""Workload models: model presets, training FLOPs/memory/step time, reliability, inference.

Public API
----------
``ModelSpec``, ``get_model``, ``list_models``, ``load_models``: architectures and presets.
``training_flops``, ``training_memory``, ``kv_cache_bytes``: formulas.
``TrainingJob``, ``Cluster``, ``estimate_training``, ``TrainingEstimate``: the training estimate.
``optimal_checkpoint_interval``, ``expected_wall_time``: reliability (Young/Daly).

Array-level functions for the planner
-------------------------------------
These are importable from ``aicost.model`` (private by name, stable by contract). Every
argument except ``spec`` may be a numpy array; arrays broadcast together. The scalar
functions call them, so scalar and vectorized evaluations agree by construction.

``_training_eval_arrays(spec, *, tokens, global_batch, micro_batch, seq_len, tp, pp, dp,
zero_stage=0, recompute_code=0, sequence_parallel=False, peak_flops_per_s, efficiency,
gpus_per_node=8, scale_up_bw_bytes_per_s, scale_up_latency_s=5e-6, scale_out_bw_bytes_per_s,
scale_out_latency_s=1e-5, mem_bw_bytes_per_s=inf, gpu_memory_bytes=inf,
price_usd_per_gpu_hour=nan, dtype_bytes=2.0, optim_bytes=12.0, checkpoint_s=0.0,
restart_s=600.0, failures_per_gpu_hour=1.97e-5, preemptions_per_node_hour=0.0) -> dict``
    Everything ``estimate_training`` computes, as arrays: step parts (``compute_s``,
    ``tp_comm_s``, ``pp_comm_s``, ``bubble_s``, ``dp_exposed_s``, ``optimizer_s``, ``step_s``),
    ``n_gpus, n_nodes, n_micro, steps, model_flops, hardware_flops, tflops_per_gpu, mfu, hfu,
    tokens_per_s, work_s, gpu_hours, cost_usd``, memory (``mem_weights, mem_gradients,
    mem_optimizer, mem_activations, mem_total``), reliability (``mtbf_s,
    checkpoint_interval_s, expected_wall_s, goodput, expected_interruptions,
    expected_gpu_hours, expected_cost_usd``), the infeasibility masks (``tp_exceeds_node,
    tp_splits_heads, pp_exceeds_layers, batch_not_divisible, out_of_memory``) and ``feasible``.
    ``recompute_code``: 0 none, 1 selective, 2 full (``RECOMPUTE_CODES``).
``_training_step_arrays(*, flops_micro, peak_flops_per_s, efficiency, pp, n_micro,
t_tp_micro=0, t_pp_micro=0, t_dp=0, backward_share=2/3, t_optimizer=0) -> dict``
    The step-time composition alone.
``_training_flops_arrays(spec, tokens, seq_len, recompute_code) -> (model_flops, hw_flops)``
``_training_memory_arrays(spec, micro_batch, seq_len, tp, pp, dp, zero_stage, recompute_code,
sequence_parallel, n_micro_batches=None, weight_bytes=2, grad_bytes=2, optim_bytes=12,
act_bytes=2) -> dict`` of ``weights, gradients, optimizer, activations, total`` [B/GPU].
``_model_state_bytes(params, dp, zero_stage, weight_bytes=2, grad_bytes=2, optim_bytes=12)``
    ``(weights, gradients, optimizer)`` [B] under ZeRO.
``_training_feasibility(spec, *, tp, pp, dp, global_batch, micro_batch, gpus_per_node,
memory_total, gpu_memory_bytes, reserve_bytes=2 GiB) -> dict`` of boolean masks.
``_reliability_arrays(work_s, n_gpus, n_nodes, checkpoint_s, restart_s,
failures_per_gpu_hour=..., preemptions_per_node_hour=0) -> dict``.
``resolve_hardware(cluster, dtype="bf16", catalog=None, store=None) -> Hardware``
    Catalog + calibration lookups of one cluster (peak, memory, bandwidths, price, efficiency,
    and ``sources``), to feed the arrays.
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

__all__ = [
    "CHECKPOINT_BYTES_PER_PARAM",
    "DEFAULT_BANDWIDTH_EFFICIENCY",
    "DEFAULT_FAILURES_PER_GPU_HOUR",
    "DEFAULT_RESTART_S",
    "DEFAULT_SPOT_PREEMPTIONS_PER_NODE_HOUR",
    "DEFAULT_SPOT_RESTART_S",
    "DEFAULT_TRACE",
    "DEFAULT_TTFT_PERCENTILE",
    "FFN_TYPES",
    "GPU_MEMORY_UTILIZATION",
    "INFERENCE_KERNEL_FACTOR",
    "OPTIMIZER_STATE_BYTES",
    "PREFILL_CHUNK_TOKENS",
    "RECOMPUTE_CODES",
    "RUNTIME_RESERVE_BYTES",
    "TRAINING_KERNEL_FACTOR",
    "Cluster",
    "DemandPlan",
    "Hardware",
    "InferenceEstimate",
    "MemoryBreakdown",
    "ModelSpec",
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
