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
  weights and activations (no paging, no free-memory fraction); no batch cap but memory.

Every plan names the engine and its rule in its assumptions (:meth:`EngineSpec.assumption`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ENGINES", "EngineSpec", "engine_kv_budget_bytes", "get_engine"]


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
    """

    name: str
    memory_rule: str
    memory_fraction: float | tuple = 0.9
    max_batch: int | None = None
    max_num_tokens: int | None = None
    source: str = ""

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
        return f"engine {self.name}: {frac} {rule}{cap} ({self.source})"


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
                                       "left after weights and activations, no free-memory fraction"),
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
