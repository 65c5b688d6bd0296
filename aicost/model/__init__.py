"""Workload models: model presets, training FLOPs/memory/step time, reliability, inference.

Scalar API
----------
``ModelSpec``, ``get_model``, ``list_models``, ``load_models``: architectures and presets.
``training_flops``, ``training_memory``, ``kv_cache_bytes``, ``model_state_bytes``: formulas.
``TrainingJob``, ``Cluster``, ``estimate_training`` -> ``TrainingEstimate``.
``optimal_checkpoint_interval``, ``expected_wall_time``: reliability (Young/Daly).
``estimate_inference`` -> ``InferenceEstimate``, ``latency_curve``, ``replicas_for_rate``;
``synthetic_diurnal_trace``, ``load_trace``, ``list_traces``, ``autoscale`` -> ``DemandPlan``,
``capacity_for_replicas``. Hardware resolution (``Cluster``, ``resolve_hardware``,
``Hardware``) lives in ``aicost.hardware`` and is re-exported here.

Array kernels
-------------
Every argument except ``spec`` may be a numpy array; arrays broadcast together. The scalar
functions above call these, and so does ``aicost.plan``: the planner's vectorized evaluation and
the scalar one agree by construction (tests check it to 1e-12).

``training_arrays(spec, *, tokens, global_batch, micro_batch, seq_len, tp, pp, dp, ...)``
    Everything ``estimate_training`` computes (step parts, MFU, wall time, memory, reliability,
    the infeasibility masks), as a dict of arrays.
``reliability_arrays(work_s, n_gpus, n_nodes, checkpoint_s, restart_s, ...)``
    Young/Daly checkpoint interval, expected wall time and goodput; the same in two steps:
    ``reliability_factors`` (what does not depend on the work) and ``reliability_for_work``.
``inference_arrays(spec, *, tp, batch, prompt_tokens, output_tokens, ...)``
    One serving replica at a batch: sizes, prefill, decode step, TPOT, TTFT, throughput, cost.
``prefill_arrays``, ``decode_step_arrays``, ``decode_roofline`` (compute and memory time of a
decode layer, written once), ``decode_bound`` (which side bounds), ``max_batch_arrays``.
``replicas_arrays(*, rate, batch, service_s, base_ttft_s, ttft_target_s, percentile)``
    Smallest replica count under a TTFT target (M/M/c), with ``erlang_c`` and ``ttft_quantile``.
``activation_bytes_per_layer``, ``model_state_bytes``, ``optimizer_state_bytes``: memory parts.
"""

from __future__ import annotations

from ..calibrate import (
    DEFAULT_BANDWIDTH_EFFICIENCY,
    INFERENCE_KERNEL_FACTOR,
    TRAINING_KERNEL_FACTOR,
)
from ..hardware import Cluster, Hardware, resolve_hardware
from ._comm import EP_DISPATCHERS, ep_dispatch_copies
from ._demand import (
    DEFAULT_TRACE,
    DemandPlan,
    autoscale,
    capacity_for_replicas,
    list_traces,
    load_trace,
    synthetic_diurnal_trace,
)
from ._engines import DECODE_KV_READS, ENGINES, EngineSpec, engine_kv_budget_bytes, get_engine
from ._failure_rates import (
    DEFAULT_FLEET_CLASS,
    FailureRates,
    failure_rates,
    interruption_rate_per_hour,
    load_failure_rates,
)
from ._inference import (
    ALLREDUCE_BASE_LATENCY_S,
    DEFAULT_ALLREDUCE_BASE_LATENCY_S,
    DEFAULT_TTFT_PERCENTILE,
    GPU_MEMORY_UTILIZATION,
    PREFILL_CHUNK_TOKENS,
    InferenceEstimate,
    allreduce_base_latency_s,
    decode_bound,
    decode_roofline,
    decode_step_arrays,
    erlang_c,
    estimate_inference,
    inference_arrays,
    latency_curve,
    max_batch_arrays,
    prefill_arrays,
    replicas_arrays,
    replicas_for_rate,
    serving_compute_efficiency,
    ttft_quantile,
)
from ._memory import (
    FP8_GEMM_INPUT_BYTES,
    FP8_WEIGHT_CACHE_BYTES_PER_PARAM,
    OPTIMIZER_STATE_BYTES,
    RECOMPUTE_CODES,
    RUNTIME_RESERVE_BYTES,
    MemoryBreakdown,
    activation_bytes_per_layer,
    kv_cache_bytes,
    model_state_bytes,
    optimizer_state_bytes,
    training_memory,
)
from ._reliability import (
    DEFAULT_FAILURES_PER_GPU_HOUR,
    DEFAULT_JOB_FAILURES_PER_HOUR,
    DEFAULT_RESTART_S,
    DEFAULT_SPOT_PREEMPTIONS_PER_NODE_HOUR,
    DEFAULT_SPOT_RESTART_S,
    expected_wall_time,
    optimal_checkpoint_interval,
    reliability_arrays,
    reliability_factors,
    reliability_for_work,
)
from ._spec import FFN_TYPES, ModelSpec, get_model, list_models, load_models, resolve_model
from ._training import (
    CHECKPOINT_BYTES_PER_PARAM,
    EP_OVERLAP_PAIRING,
    EP_OVERLAP_SM_SHARE,
    GRAD_BUCKET_PARAMS,
    TP_OVERLAP_EXPOSED_SHARE,
    TRAINING_SCHEDULES,
    ZERO_BUBBLE_ASSUMPTION,
    TrainingEstimate,
    TrainingJob,
    ep_overlap_exposed,
    ep_overlap_unpaired_share,
    estimate_training,
    fp8_training_assumption,
    schedule_code,
    training_arrays,
    training_flops,
)

__all__ = [  # noqa: RUF022 - plain sorted(), as tests/test_exports.py checks
    "ALLREDUCE_BASE_LATENCY_S",
    "CHECKPOINT_BYTES_PER_PARAM",
    "Cluster",
    "DECODE_KV_READS",
    "DEFAULT_ALLREDUCE_BASE_LATENCY_S",
    "DEFAULT_BANDWIDTH_EFFICIENCY",
    "DEFAULT_FAILURES_PER_GPU_HOUR",
    "DEFAULT_FLEET_CLASS",
    "DEFAULT_JOB_FAILURES_PER_HOUR",
    "DEFAULT_RESTART_S",
    "DEFAULT_SPOT_PREEMPTIONS_PER_NODE_HOUR",
    "DEFAULT_SPOT_RESTART_S",
    "DEFAULT_TRACE",
    "DEFAULT_TTFT_PERCENTILE",
    "DemandPlan",
    "ENGINES",
    "EP_DISPATCHERS",
    "EP_OVERLAP_PAIRING",
    "EP_OVERLAP_SM_SHARE",
    "EngineSpec",
    "FFN_TYPES",
    "FP8_GEMM_INPUT_BYTES",
    "FP8_WEIGHT_CACHE_BYTES_PER_PARAM",
    "FailureRates",
    "GPU_MEMORY_UTILIZATION",
    "GRAD_BUCKET_PARAMS",
    "Hardware",
    "INFERENCE_KERNEL_FACTOR",
    "InferenceEstimate",
    "MemoryBreakdown",
    "ModelSpec",
    "OPTIMIZER_STATE_BYTES",
    "PREFILL_CHUNK_TOKENS",
    "RECOMPUTE_CODES",
    "RUNTIME_RESERVE_BYTES",
    "TP_OVERLAP_EXPOSED_SHARE",
    "TRAINING_KERNEL_FACTOR",
    "TRAINING_SCHEDULES",
    "TrainingEstimate",
    "TrainingJob",
    "ZERO_BUBBLE_ASSUMPTION",
    "activation_bytes_per_layer",
    "allreduce_base_latency_s",
    "autoscale",
    "capacity_for_replicas",
    "decode_bound",
    "decode_roofline",
    "decode_step_arrays",
    "engine_kv_budget_bytes",
    "ep_dispatch_copies",
    "ep_overlap_exposed",
    "ep_overlap_unpaired_share",
    "erlang_c",
    "estimate_inference",
    "estimate_training",
    "expected_wall_time",
    "failure_rates",
    "fp8_training_assumption",
    "get_engine",
    "get_model",
    "inference_arrays",
    "interruption_rate_per_hour",
    "kv_cache_bytes",
    "latency_curve",
    "list_models",
    "list_traces",
    "load_failure_rates",
    "load_models",
    "load_trace",
    "max_batch_arrays",
    "model_state_bytes",
    "optimal_checkpoint_interval",
    "optimizer_state_bytes",
    "prefill_arrays",
    "reliability_arrays",
    "reliability_factors",
    "reliability_for_work",
    "replicas_arrays",
    "replicas_for_rate",
    "resolve_hardware",
    "resolve_model",
    "schedule_code",
    "serving_compute_efficiency",
    "synthetic_diurnal_trace",
    "training_arrays",
    "training_flops",
    "training_memory",
    "ttft_quantile",
]
