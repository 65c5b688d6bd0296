"""Serving engines as presets: how much memory each gives the KV cache and how many sequences it runs.

The engines differ in the rule that sizes the KV cache, not only in speed, so the largest batch
that "fits" depends on the engine (the same model and GPU run several times more sequences under
TensorRT-LLM's rule than under a vLLM rule when the weights fill most of the memory):

* ``vllm``: ``gpu_memory_utilization`` (default 0.90) of the **total** memory is the budget for
  weights, activations (a profiling run) and KV cache; ``max_num_seqs`` (default 256) caps the
  running batch; chunked prefill. Source: vLLM engine arguments (``--gpu-memory-utilization 0.9``,
  ``--max-num-seqs 256``).
* ``trtllm``: ``KvCacheConfig.free_gpu_memory_fraction`` (default 0.90) of the memory **left free
  after** weights and activations goes to the KV cache; ``max_batch_size`` 2048 and
  ``max_num_tokens`` 8192 (LLM API build defaults); in-flight batching with chunked context.
* ``sglang``: ``mem_fraction_static`` of the total memory holds weights and the KV pool; the
  default depends on tensor parallelism (0.88 at TP 1, 0.87 at 2, 0.85 at 4, 0.81 at 8 in
  ``server_args``; version-dependent); the running batch is bounded by the pool only.
* ``trtllm-static``: TensorRT-LLM's early static batching (v0.5 ``gptSessionBenchmark``): the
  KV cache of the whole batch at its full length is allocated up front in the memory left after
  weights and activations (no paging, no free-memory fraction); no batch cap but memory. Its
  generation kernel is that release's masked multi-head attention, which runs one thread block
  per (sequence, query head) (``docs/source/gpt_attention.md``: ``batch_size * num_heads``
  blocks) and so reads a grouped-query model's KV head once per query head of its group
  (``EngineSpec.decode_kv_reads = "per_query_head"``); the XQA kernel (v0.8,
  ``docs/source/blogs/XQA-kernel.md``: "reducing data loading" for MQA/GQA, 2.4x Llama-70B
  throughput) reads it once per group, as the other presets do.

Every plan names the engine and its rule in its assumptions (:meth:`EngineSpec.assumption`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DECODE_KV_READS", "ENGINES", "EngineSpec", "engine_kv_budget_bytes", "get_engine"]

#: how a decode attention kernel reads the KV cache (``EngineSpec.decode_kv_reads``)
DECODE_KV_READS = ("per_kv_head", "per_query_head")


@dataclass(frozen=True)
class EngineSpec:
    """A serving engine's memory rule and batch limits.

    Parameters
    ----------
    name : str
    memory_rule : {"fraction_of_total", "fraction_of_free"}
        ``fraction_of_total``: ``fraction * memory - weights - workspace`` is the KV budget;
        ``fraction_of_free``: ``fraction * (memory - weights - workspace)``.
    memory_fraction : float or dict
        The fraction (a dict ``{tp: fraction}`` when it depends on tensor parallelism: the entry
        with the largest ``tp`` not above the replica's).
    max_batch : int or None
        Running sequences cap (None: memory only).
    max_num_tokens : int or None
        Tokens per scheduler iteration (chunked prefill budget).
    source : str
    decode_kv_reads : {"per_kv_head", "per_query_head"}
        How the decode attention kernel reads a grouped-query model's KV cache: once per KV head
        (today's kernels: FlashDecoding, XQA, vLLM's paged attention) or once per query head (a
        kernel with one thread block per query head, e.g. TensorRT-LLM's masked MHA before XQA):
        ``n_heads / n_kv_heads`` times the bytes (:meth:`kv_read_factor`).
    """

    name: str
    memory_rule: str
    memory_fraction: float | tuple = 0.9
    max_batch: int | None = None
    max_num_tokens: int | None = None
    source: str = ""
    decode_kv_reads: str = "per_kv_head"

    def __post_init__(self):
        if self.decode_kv_reads not in DECODE_KV_READS:
            raise ValueError(f"decode_kv_reads must be one of {DECODE_KV_READS}, got {self.decode_kv_reads!r}")

    def kv_read_factor(self, spec) -> float:
        """KV-cache bytes one decode step reads per byte cached [-] for model ``spec``.

        1 for ``decode_kv_reads="per_kv_head"``; ``n_heads / n_kv_heads`` (the grouped-query group
        size; 1 for multi-head attention) for ``"per_query_head"``. Multi-head latent attention
        (``spec.kv_lora_rank > 0``) caches one latent per token that every head reads: 1.
        """
        if self.decode_kv_reads != "per_query_head" or getattr(spec, "kv_lora_rank", 0):
            return 1.0
        return float(spec.n_heads) / float(spec.n_kv_heads)

    def fraction(self, tp=1):
        """The memory fraction at tensor parallelism ``tp`` (arrays broadcast)."""
        if isinstance(self.memory_fraction, tuple):
            tp = np.asarray(tp, dtype=float)
            out = np.full(tp.shape, self.memory_fraction[0][1], dtype=float)
            for t_min, frac in self.memory_fraction:
                out = np.where(tp >= t_min, frac, out)
            return float(out) if out.ndim == 0 else out
        return float(self.memory_fraction)

    def assumption(self) -> str:
        """One line for a plan's assumptions."""
        rule = ("of the total memory for weights + activations + KV cache" if self.memory_rule == "fraction_of_total"
                else "of the memory left after weights and activations for the KV cache")
        frac = (", ".join(f"{f:.2f} at TP>={t}" for t, f in self.memory_fraction)
                if isinstance(self.memory_fraction, tuple) else f"{self.memory_fraction:.2f}")
        cap = f"; at most {self.max_batch} running sequences" if self.max_batch else "; batch bounded by memory"
        reads = ("; decode attention reads each KV head once per query head (n_heads / n_kv_heads x the KV "
                 "cache of a grouped-query model)" if self.decode_kv_reads == "per_query_head" else "")
        return f"engine {self.name}: {frac} {rule}{cap}{reads} ({self.source})"


ENGINES = {
    "vllm": EngineSpec("vllm", "fraction_of_total", 0.90, max_batch=256, max_num_tokens=8192,
                       source="vLLM engine args: gpu_memory_utilization 0.9, max_num_seqs 256"),
    "trtllm": EngineSpec("trtllm", "fraction_of_free", 0.90, max_batch=2048, max_num_tokens=8192,
                         source="TensorRT-LLM: KvCacheConfig.free_gpu_memory_fraction 0.9, max_batch_size 2048, "
                                "max_num_tokens 8192"),
    "sglang": EngineSpec("sglang", "fraction_of_total", ((1, 0.88), (2, 0.87), (4, 0.85), (8, 0.81)),
                         max_batch=None, max_num_tokens=8192,
                         source="SGLang server_args: mem_fraction_static by TP, chunked_prefill_size 8192"),
    "trtllm-static": EngineSpec("trtllm-static", "fraction_of_free", 1.0, max_batch=None, max_num_tokens=None,
                                source="TensorRT-LLM <= 0.5 static batching (gptSessionBenchmark): a contiguous KV "
                                       "cache of max_batch_size x (input + output) tokens allocated in the memory "
                                       "left after weights and activations, no free-memory fraction; generation "
                                       "by the masked MHA kernel, one thread block per (sequence, query head), "
                                       "before the v0.8 XQA kernel",
                                decode_kv_reads="per_query_head"),
}


def get_engine(name: str | EngineSpec) -> EngineSpec:
    """An engine preset by name (``"vllm"``, ``"trtllm"``, ``"sglang"``) or an :class:`EngineSpec`."""
    from .._errors import UnknownNameError

    if isinstance(name, EngineSpec):
        return name
    def norm(n):
        return str(n).lower().replace("-", "").replace("_", "").replace("tensorrtllm", "trtllm")

    by_key = {norm(k): v for k, v in ENGINES.items()}
    key = norm(name)
    if key not in by_key:
        raise UnknownNameError("serving engine", str(name), list(ENGINES),
                               hint="(or pass an aicost.model EngineSpec with your own memory rule)")
    return by_key[key]


def engine_kv_budget_bytes(engine: EngineSpec, *, memory_bytes, weights_bytes, workspace_bytes, tp=1):
    """KV-cache bytes per GPU the engine's memory rule leaves (>= 0; arrays broadcast)."""
    mem = np.asarray(memory_bytes, float)
    w = np.asarray(weights_bytes, float)
    ws = np.asarray(workspace_bytes, float)
    frac = engine.fraction(tp)
    if engine.memory_rule == "fraction_of_total":
        out = frac * mem - w - ws
    elif engine.memory_rule == "fraction_of_free":
        out = frac * (mem - w - ws)
    else:
        raise ValueError(f"unknown memory_rule {engine.memory_rule!r}: 'fraction_of_total' or 'fraction_of_free'")
    out = np.maximum(out, 0.0)
    return float(out) if out.ndim == 0 else out
