"""`plan_inference`: search offers x pricing x tensor parallelism x batch for serving a model.

Every candidate (an instance offer at a pricing, replicas of ``tp`` GPUs, ``batch`` concurrent
sequences per replica) is evaluated vectorized with ``aicost.model``'s inference cores: the
prefill/decode roofline and the largest batch that fits (``inference_arrays``), then the
replicas the request rate needs under the TTFT target with Erlang-C queueing
(``replicas_arrays``). Replicas are packed onto whole instances (``GPUs per node // tp``
replicas per instance) and priced per instance-hour, which is what a cloud bills.

With a demand curve (``demand=``: a shipped trace name, a CSV path or a DataFrame with
``time_s`` and ``requests_per_s``), candidates are sized for the peak and the recommendation is
also provisioned over the day, autoscaled against static (``aicost.model.autoscale``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd

from .._checks import as_tuple, check_positive
from .._errors import InfeasibleError
from .._units import (
    DTYPE_BYTES,
    GIB,
    HOUR_S,
    format_bytes,
    format_duration,
    normalize_dtype,
    parse_duration,
)
from ..hardware import Cluster, load_catalog, normalize_pricings, offers_table, shape_aware_source
from ..model import (
    DEFAULT_BANDWIDTH_EFFICIENCY,
    GPU_MEMORY_UTILIZATION,
    INFERENCE_KERNEL_FACTOR,
    PREFILL_CHUNK_TOKENS,
    EngineSpec,
    allreduce_base_latency_s,
    autoscale,
    decode_bound,
    estimate_inference,
    get_engine,
    inference_arrays,
    load_trace,
    max_batch_arrays,
    replicas_arrays,
    resolve_model,
    serving_compute_efficiency,
)
from . import _evaluate as ev
from ._reasons import ServingDrop
from ._result import Plan, Recommendation, Sensitivity, _fmt_usd

__all__ = [
    "INFERENCE_COLUMNS",
    "INFERENCE_REASONS",
    "MAX_REQUESTS_PER_S",
    "MAX_SERVING_TP_SEARCHED",
    "ServingContext",
    "ServingPlan",
    "ServingSearch",
    "plan_inference",
]

#: why a serving candidate was dropped, by code (``ServingDrop``'s values and texts)
INFERENCE_REASONS = {int(r): r.text for r in ServingDrop if r is not ServingDrop.OK}
_OK = int(ServingDrop.OK)
D = ServingDrop

#: largest tensor parallelism a serving search tries by default [GPUs]: powers of two up to the
#: offers' scale-up domain (8 in a DGX node, 72 in a GB200/GB300 NVL72 rack), at most this many
#: (a TPU slice's ICI domain of thousands of chips does not make tp 4096 a serving layout)
MAX_SERVING_TP_SEARCHED = 64

#: batch sizes searched: powers of two, plus the largest batch that fits (code -1)
_BATCH_GRID = tuple(2 ** k for k in range(0, 12)) + (-1,)

#: columns of Plan.candidates people read first
INFERENCE_COLUMNS = (
    "provider", "instance_type", "accelerator", "pricing", "tp", "batch", "replicas", "instances",
    "gpus", "ttft_s", "tpot_s", "latency_s", "utilization", "cost_usd_per_hour",
    "usd_per_million_tokens", "bottleneck", "estimated", "reason",
)


def _demand_rate(demand):
    trace = load_trace(demand)
    return trace, float(trace["requests_per_s"].max())


def _kernel(c: dict, lay: dict, ctx: dict) -> dict:
    """Serving candidates: config arrays ``c`` broadcast against layout arrays ``lay``."""
    spec = ctx.spec
    tp, bcode = lay["tp"], lay["batch"]
    common = dict(weight_bytes=ctx.weight_bytes, kv_bytes=ctx.kv_bytes, act_bytes=ctx.act_bytes)
    max_b = max_batch_arrays(spec, tp=tp, context_tokens=ctx.prompt_tokens + ctx.output_tokens,
                              memory_bytes=c["memory_bytes"], engine=ctx.engine, **common)
    batch = np.where(bcode < 0, np.maximum(max_b, 1.0), bcode)
    r = inference_arrays(
        spec, tp=tp, batch=batch, prompt_tokens=ctx.prompt_tokens, output_tokens=ctx.output_tokens,
        peak_flops_per_s=c["peak_flops_per_s"], mem_bw_bytes_per_s=c["mem_bw_bytes_per_s"],
        memory_bytes=c["memory_bytes"], compute_efficiency=c["efficiency"],
        bandwidth_efficiency=c["bandwidth_efficiency"],
        scale_up_bw_bytes_per_s=c["scale_up_bw_bytes_per_s"] * c["comm_efficiency"],
        scale_up_latency_s=c["scale_up_latency_s"],
        price_usd_per_gpu_hour=c["price_usd_per_hour"] / c["gpus_per_node"], engine=ctx.engine,
        gemm_e_max=c["gemm_e_max"], gemm_k_half=c["gemm_k_half"], compute_units=c["compute_units"],
        allreduce_base_latency_s=c["allreduce_base_latency_s"], **common)
    r["batch"] = batch + 0.0 * r["tpot_s"]
    return r


def _codes(c, lay, r, ctx) -> np.ndarray:
    """Structural reason codes (offer, tp, memory); latency targets and budget come later
    (`_finish`), so the codes do not depend on them."""
    shape = np.shape(r["tpot_s"])
    code = np.zeros(shape, dtype=np.int8)

    def mark(mask, v):
        code[np.broadcast_to(mask, shape)] = v

    mark(r["batch"] > r["max_batch"], D.ENGINE_BATCH_CAP)  # the KV cache holds it, the engine's cap does not
    mark(r["batch"] > r["max_batch_kv"], D.KV_CACHE_DOES_NOT_FIT)
    mark(r["max_batch"] < 1, D.WEIGHTS_DO_NOT_FIT)
    mark((ctx.spec.n_heads % lay["tp"]) != 0, D.TP_SPLITS_HEADS)
    mark(lay["tp"] > c["scale_up_domain_gpus"], D.TP_EXCEEDS_NODE)  # NVL72: tp across instances
    price = c["price_usd_per_hour"]
    mark(~np.isfinite(price) | ~(price > 0), D.NOT_OFFERED)
    return code


def unique_replicas(*, rate, batch, service_s, base_ttft_s, ttft_target_s, percentile):
    """``aicost.model.replicas_arrays`` evaluated once per distinct (batch, service time,
    unloaded TTFT): offers of one accelerator in many regions, providers and pricings share
    them. The function is elementwise, so the result is the same array."""
    trip = np.stack([np.asarray(batch, float), np.asarray(service_s, float),
                     np.asarray(base_ttft_s, float)], axis=1)
    if trip.shape[0] == 0:
        return np.empty(0), np.empty(0)
    u, inv = np.unique(trip, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    reps, ttft = replicas_arrays(rate=rate, batch=u[:, 0], service_s=u[:, 1], base_ttft_s=u[:, 2],
                                 ttft_target_s=ttft_target_s, percentile=percentile)
    return np.asarray(reps, dtype=float)[inv], np.asarray(ttft, dtype=float)[inv]


def _size(c, lay, r, ctx, rate, replicas=unique_replicas) -> dict:
    """Replicas for ``rate`` under the TTFT target, whole instances, cost, $ per token (1-D).

    ``replicas`` sizes the replicas (`unique_replicas`, or a memo of it: `ServingPlanCache`)."""
    target = np.inf if ctx.ttft_target_s is None else ctx.ttft_target_s
    reps, ttft = replicas(rate=rate, batch=r["batch"], service_s=r["service_s"],
                          base_ttft_s=r["ttft_s"], ttft_target_s=target, percentile=ctx.percentile)
    reps = np.asarray(reps, dtype=float)
    # replicas per instance: gpus_per_node // tp, or 1/k for a replica spanning k instances of one
    # scale-up domain (tp 16 on 4-GPU GB200 instances of an NVL72 rack: 1/4)
    gpn, tp = c["gpus_per_node"], lay["tp"]
    per_inst = np.where(tp > gpn, 1.0 / np.ceil(tp / gpn), np.maximum(np.floor_divide(gpn, tp), 1.0))
    inst = np.ceil(reps / per_inst - 1e-9)
    cost_h = inst * c["price_usd_per_hour"]
    tokens_h = rate * (ctx.prompt_tokens + ctx.output_tokens) * HOUR_S
    share = r["prefill_share"]
    with np.errstate(divide="ignore", invalid="ignore"):
        util = rate * r["service_s"] / (reps * r["batch"])
        out = {
            "replicas": reps, "instances": inst, "gpus": reps * lay["tp"],
            "replicas_per_instance": per_inst, "ttft_queued_s": np.asarray(ttft, dtype=float),
            "utilization": util, "cost_usd_per_hour": cost_h,
            "usd_per_million_tokens": cost_h / tokens_h * 1e6,
            "usd_per_million_input_tokens": cost_h * share / (rate * ctx.prompt_tokens * HOUR_S) * 1e6,
            "usd_per_million_output_tokens": cost_h * (1 - share) / (rate * ctx.output_tokens * HOUR_S) * 1e6,
        }
    out["latency_s"] = out["ttft_queued_s"] + ctx.output_tokens * r["tpot_s"]
    return out


#: reason text by code (index = `ServingDrop` value; "" when feasible)
_REASON_TEXT = np.array([INFERENCE_REASONS.get(i, "") for i in range(_OK + 1)], dtype=object)
#: candidate columns that depend on the request rate, the TTFT target or the budget
_SIZED_COLUMNS = ("replicas", "instances", "gpus", "replicas_per_instance", "utilization",
                  "cost_usd_per_hour", "usd_per_million_tokens", "usd_per_million_input_tokens",
                  "usd_per_million_output_tokens", "latency_s")


@dataclass(frozen=True, eq=False)
class _Base:
    """The part of a serving search that no request rate, latency target or budget changes:
    every candidate (configs x layouts, a batch that is both a grid point and "the largest that
    fits" kept once) through the model (``aicost.model.inference_arrays``), its structural
    reason code, and the candidate table with the sized columns still empty. `_finish` sizes it
    for a rate and applies the targets; `ServingPlanCache` keeps it."""

    frame: pd.DataFrame
    struct: np.ndarray  # int8 structural code per candidate (0: fits)
    c: dict  # per candidate: gpus_per_node, price_usd_per_hour
    lay: dict  # per candidate: tp
    r: dict  # per candidate: batch, service_s, ttft_s, tpot_s, prefill_share


def _base(cfg: pd.DataFrame, lay: dict, ctx: ServingContext, scale: float = 1.0) -> _Base:
    """The model side of every candidate (configs x layouts), independent of rate and targets."""
    n_cfg, n_lay = len(cfg), lay["tp"].size
    carr = {k: cfg[k].to_numpy(dtype=float)[:, None] for k in
            ("gpus_per_node", "scale_up_domain_gpus", "price_usd_per_hour", "peak_flops_per_s",
             "mem_bw_bytes_per_s", "memory_bytes", "efficiency", "bandwidth_efficiency",
             "comm_efficiency", "scale_up_bw_bytes_per_s", "scale_up_latency_s", "gemm_e_max", "gemm_k_half",
             "compute_units", "allreduce_base_latency_s")}
    carr["efficiency"] = carr["efficiency"] * scale
    carr["gemm_e_max"] = carr["gemm_e_max"] * scale  # the shape-aware efficiency is linear in e_max
    carr["bandwidth_efficiency"] = carr["bandwidth_efficiency"] * scale
    larr = {k: v[None, :] for k, v in lay.items()}
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = _kernel(carr, larr, ctx)
        code = _codes(carr, larr, r, ctx)
    ci = np.repeat(np.arange(n_cfg), n_lay)
    li = np.tile(np.arange(n_lay), n_cfg)
    batch = np.broadcast_to(r["batch"], code.shape).ravel()
    # a batch equal to a grid point and to "the largest that fits" is the same candidate
    keep = ~pd.DataFrame({"c": ci, "t": lay["tp"][li], "b": batch.astype(np.int64)}).duplicated().to_numpy()
    ci, li = ci[keep], li[keep]
    flat = {k: np.broadcast_to(v, code.shape).ravel()[keep] for k, v in r.items()}
    code = code.ravel()[keep]
    df = cfg.iloc[ci].reset_index(drop=True)
    df["config_id"] = ci
    df["tp"] = lay["tp"][li].astype(np.int64)
    df["batch"] = flat["batch"].astype(np.int64)
    for k in ("max_batch", "max_batch_kv", "prefill_s", "decode_step_s", "tpot_s", "service_s", "requests_per_s",
              "output_tokens_per_s", "prefill_share", "weights_bytes", "kv_bytes_per_seq",
              "workspace_bytes"):
        df[k] = flat[k]
    df["ttft_unloaded_s"] = flat["ttft_s"]
    df["prefill_efficiency"], df["decode_efficiency"] = _serving_efficiencies(df, ctx)
    df = df.rename(columns={"requests_per_s": "requests_per_s_per_replica",
                            "output_tokens_per_s": "output_tokens_per_s_per_replica"})
    nan = np.full(len(df), np.nan)
    for k in _SIZED_COLUMNS:
        df[k] = nan
    df["ttft_s"] = nan
    df["memory_per_gpu_gib"] = (df["weights_bytes"] + df["workspace_bytes"]
                                + df["batch"] * df["kv_bytes_per_seq"]) / GIB
    df["feasible"] = code == 0
    df["code"] = code
    df["reason"] = _REASON_TEXT[code]
    df["bottleneck"] = _bottleneck(df, ctx)
    c1 = {k: carr[k][:, 0][ci] for k in ("gpus_per_node", "price_usd_per_hour")}
    r1 = {k: flat[k] for k in ("batch", "service_s", "ttft_s", "tpot_s", "prefill_share")}
    return _Base(frame=df, struct=code, c=c1, lay={"tp": lay["tp"][li]}, r=r1)


def _finish(base: _Base, ctx: ServingContext, rate: float, replicas=unique_replicas) -> pd.DataFrame:
    """The candidates of ``base`` for ``rate`` and the context's targets and budget: the TPOT
    target, replicas under the TTFT target (Erlang C), cost, and the final reason codes."""
    code = base.struct.copy()
    if ctx.tpot_target_s is not None:
        code[(code == 0) & (base.r["tpot_s"] > ctx.tpot_target_s)] = D.TPOT_MISSED
    todo = np.flatnonzero(code == 0)
    n = code.size
    sized = {}
    if todo.size:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            part = _size({k: v[todo] for k, v in base.c.items()}, {k: v[todo] for k, v in base.lay.items()},
                         {k: v[todo] for k, v in base.r.items()}, ctx, rate, replicas=replicas)
        for k, v in part.items():
            full = np.full(n, np.nan)
            full[todo] = v
            sized[k] = full
        reps = sized["replicas"][todo]
        sub = code[todo]
        sub[~np.isfinite(reps)] = D.TTFT_MISSED
        if ctx.budget_usd_per_hour is not None:
            sub[(sub == 0) & (sized["cost_usd_per_hour"][todo] > ctx.budget_usd_per_hour)] = D.OVER_BUDGET
        code[todo] = sub
    df = base.frame.copy()
    for k in _SIZED_COLUMNS:
        if k in sized:
            df[k] = sized[k]
    if "ttft_queued_s" in sized:
        df["ttft_s"] = sized["ttft_queued_s"]
    df["feasible"] = code == 0
    df["code"] = code
    df["reason"] = _REASON_TEXT[code]
    return df


def _serving_efficiencies(df: pd.DataFrame, ctx) -> tuple[np.ndarray, np.ndarray]:
    """Prefill and decode compute efficiency of each candidate (``aicost.model.serving_compute_efficiency``:
    shape-aware where its accelerator has a GEMM curve, else its ``efficiency``) [-]."""
    kw = {k: df[k].to_numpy(float) for k in ("gemm_e_max", "gemm_k_half", "compute_units")}
    tp = df["tp"].to_numpy(float)
    flat = df["efficiency"].to_numpy(float)
    prefill = serving_compute_efficiency(ctx.spec, min(ctx.prompt_tokens, PREFILL_CHUNK_TOKENS), tp,
                                         compute_efficiency=flat, **kw)
    decode = serving_compute_efficiency(ctx.spec, df["batch"].to_numpy(float), tp, compute_efficiency=flat, **kw)
    return np.asarray(prefill, float) + 0.0 * tp, np.asarray(decode, float) + 0.0 * tp


def _bottleneck(df: pd.DataFrame, ctx: dict) -> np.ndarray:
    """What limits a serving candidate: the latency target that stopped a larger batch, memory
    capacity (KV cache), the engine's batch cap, or the decode roofline side
    (``aicost.model.decode_bound``)."""
    bound = decode_bound(ctx.spec, batch=df["batch"].to_numpy(float),
                         context_tokens=ctx.prompt_tokens + ctx.output_tokens / 2.0, tp=df["tp"].to_numpy(float),
                         peak_flops_per_s=df["peak_flops_per_s"].to_numpy(),
                         mem_bw_bytes_per_s=df["mem_bw_bytes_per_s"].to_numpy(),
                         compute_efficiency=df["efficiency"].to_numpy(),
                         bandwidth_efficiency=df["bandwidth_efficiency"].to_numpy(),
                         weight_bytes=ctx.weight_bytes, kv_bytes=ctx.kv_bytes,
                         gemm_e_max=df["gemm_e_max"].to_numpy(float), gemm_k_half=df["gemm_k_half"].to_numpy(float),
                         compute_units=df["compute_units"].to_numpy(float),
                         kv_read_factor=1.0 if ctx.engine is None else ctx.engine.kv_read_factor(ctx.spec))
    out = np.where(bound == "compute", "compute", "memory bandwidth").astype(object)
    at_max = df["batch"].to_numpy() >= df["max_batch"].to_numpy()
    capped = df["max_batch"].to_numpy() < df["max_batch_kv"].to_numpy()
    out[at_max & ~capped] = "memory capacity (KV cache)"
    out[at_max & capped] = "engine batch cap"
    return out


#: most requests per second a plan accepts (10 million: beyond the largest public services)
MAX_REQUESTS_PER_S = 1e7


def plan_inference(
    model,
    requests_per_s: float | None = None,
    *,
    demand=None,
    prompt_tokens: int = 512,
    output_tokens: int = 256,
    ttft_s=None,
    tpot_s=None,
    ttft_percentile: float | None = 0.9,
    providers: Iterable[str] | None = None,
    pricing: Iterable[str] | str = ("on_demand", "spot"),
    catalog=None,
    store=None,
    accelerators: Iterable[str] | None = None,
    estimates: bool = True,
    dtype: str = "bf16",
    kv_dtype: str | None = None,
    tp=None,
    batch=None,
    budget_usd_per_hour: float | None = None,
    efficiency=None,
    bandwidth_efficiency: float | None = None,
    objective: str = "auto",
    min_replicas: int = 1,
    scale_up_lag_s: float = 300.0,
    engine=None,
) -> ServingPlan:
    """Find what to rent to serve ``model`` at a request rate under latency targets.

    Parameters
    ----------
    model : str or aicost.model.ModelSpec
    requests_per_s : float, optional
        Offered load [requests/s] (or ``demand``).
    demand : str, path or pandas.DataFrame, optional
        A demand curve (``time_s``, ``requests_per_s``): a shipped trace name such as
        ``"synthetic_diurnal_chat_24h"``, a CSV, or a DataFrame. Candidates are sized for its
        peak; the recommendation is also provisioned over it, autoscaled against static
        (``ServingPlan.demand``).
    prompt_tokens, output_tokens : int
        Mean prompt and output length [tokens].
    ttft_s, tpot_s : float or str, optional
        Targets: time to first token (at ``ttft_percentile``, queueing included) and time per
        output token (``"1s"``, ``"50ms"``).
    ttft_percentile : float or None
        Percentile the TTFT target applies to (None: the mean).
    providers, pricing, catalog, store, accelerators, estimates : as in `plan_training`.
    dtype, kv_dtype : str
        Weight/compute and KV-cache dtypes.
    tp, batch : int or sequence, optional
        Restrict tensor parallelism (default: powers of two up to the scale-up domain, at most
        :data:`MAX_SERVING_TP_SEARCHED`) and batch
        (default: powers of two up to 2048 and the largest that fits).
    budget_usd_per_hour : float, optional
        Largest acceptable cost [USD/h].
    efficiency : float, aicost.calibrate.Efficiency or dict, optional
        Prefill compute efficiency (fraction of peak), used as given; an
        ``aicost.calibrate.Efficiency`` (``aicost.fleet.efficiency``) is a GEMM efficiency and
        is multiplied by ``aicost.model.INFERENCE_KERNEL_FACTOR``. Default GEMM efficiency
        (calibrated) times ``aicost.model.INFERENCE_KERNEL_FACTOR``.
    bandwidth_efficiency : float, optional
        Decode memory-bandwidth efficiency (default ``aicost.model.DEFAULT_BANDWIDTH_EFFICIENCY``).
    objective : {"auto", "cost", "time", "balanced"}
        What `Plan.best` minimizes: ``auto`` is cost per hour when a latency target or budget is
        given, else the knee of the latency-cost frontier.
    min_replicas, scale_up_lag_s : int, float [s]
        The autoscaler of the demand comparison.
    engine : {None, "vllm", "trtllm", "sglang"} or aicost.model.EngineSpec, optional
        Serving engine preset (``aicost.model.ENGINES``): its KV-cache memory rule and batch cap
        size the largest batch, and the assumptions name it. None keeps aicost's engine-neutral
        rule (``GPU_MEMORY_UTILIZATION`` of the memory, no batch cap).

    Returns
    -------
    ServingPlan
        ``kind="inference"``; ``time_col="latency_s"`` (TTFT at the percentile + output x
        TPOT), ``cost_col="cost_usd_per_hour"``.

    Raises
    ------
    InfeasibleError
        When no candidate meets the targets (which one removed them, and what to relax).
    UnknownNameError, ValueError
        For unknown names and impossible numbers.
    """
    t0 = time.perf_counter()
    ctx, rate, trace, pricing, objective, be = _validate(
        model, requests_per_s, demand, prompt_tokens=prompt_tokens, output_tokens=output_tokens,
        ttft_s=ttft_s, tpot_s=tpot_s, ttft_percentile=ttft_percentile,
        budget_usd_per_hour=budget_usd_per_hour, objective=objective, dtype=dtype, kv_dtype=kv_dtype,
        pricing=pricing, bandwidth_efficiency=bandwidth_efficiency, engine=engine)
    cfg, lay = _resolve(ctx, catalog=catalog, store=store, pricing=pricing, providers=providers,
                        accelerators=accelerators, efficiency=efficiency, bandwidth_efficiency=be, tp=tp,
                        batch=batch, estimates=estimates)
    search = ServingSearch(configs=cfg, layouts=lay, context=ctx, rate=rate)
    return _plan(search, trace, pricing, objective, be, providers, demand, min_replicas, scale_up_lag_s, t0)


def _plan(search: ServingSearch, trace, pricing, objective, be, providers, demand, min_replicas,
          scale_up_lag_s, t0) -> ServingPlan:
    """`plan_inference` after the arguments are checked and the offers resolved: size the
    candidates for the rate, score them and assemble the `ServingPlan` (also
    `ServingPlanCache`'s answer, from a cached ``search.memo``)."""
    cfg, lay, ctx, rate = search.configs, search.layouts, search.context, search.rate
    cands, reason_counts = _search(search)
    sort_col, objective_text = _score(cands, ctx, objective)
    spec = ctx.spec
    request = {"model": spec.name, "requests_per_s": rate, "demand": None if demand is None else
               (demand if isinstance(demand, str) else "DataFrame"),
               "prompt_tokens": ctx.prompt_tokens, "output_tokens": ctx.output_tokens,
               "ttft_s": ctx.ttft_target_s, "tpot_s": ctx.tpot_target_s,
               "ttft_percentile": ctx.percentile, "pricing": list(pricing), "dtype": ctx.dtype,
               "kv_dtype": ctx.kv_dtype, "budget_usd_per_hour": ctx.budget_usd_per_hour,
               "engine": None if ctx.engine is None else ctx.engine.name,
               "providers": None if providers is None else list(providers) if not isinstance(providers, str)
               else providers}
    plan = ServingPlan(candidates=cands, request=request, n_evaluated=len(cfg) * lay["tp"].size,
                       reason_counts=reason_counts, elapsed_s=time.perf_counter() - t0, sort_col=sort_col,
                       objective=objective_text,
                       assumptions=_assumptions(ctx, rate, be, min_replicas, scale_up_lag_s, demand is not None),
                       search=search)
    if not cands["feasible"].any():
        raise InfeasibleError(_infeasible_message(cands, ctx, rate, cfg))
    if trace is not None:
        plan.demand = demand_curve(plan, trace, min_replicas=min_replicas, scale_up_lag_s=scale_up_lag_s)
    return plan


@dataclass(frozen=True)
class ServingContext:
    """The scalar side of a serving search: the model, the request shape and the targets.

    Attributes
    ----------
    spec : aicost.model.ModelSpec
    prompt_tokens, output_tokens : int
        Mean prompt and output length [tokens].
    ttft_target_s, tpot_target_s : float or None
        Latency targets [s] (None: no target).
    percentile : float or None
        The percentile the TTFT target applies to (None: the mean).
    budget_usd_per_hour : float or None
        Largest acceptable cost [USD/h].
    dtype, kv_dtype : str
    weight_bytes, kv_bytes, act_bytes : float
        Bytes per weight, per KV-cache element and per activation [B].
    engine : aicost.model.EngineSpec or None
        The serving engine preset (None: the engine-neutral memory rule).
    """

    spec: object
    prompt_tokens: int
    output_tokens: int
    ttft_target_s: float | None
    tpot_target_s: float | None
    percentile: float | None
    budget_usd_per_hour: float | None
    dtype: str
    kv_dtype: str
    weight_bytes: float
    kv_bytes: float
    act_bytes: float
    engine: EngineSpec | None = None


@dataclass(frozen=True)
class ServingSearch:
    """What a serving search evaluated: configurations (offers with efficiencies), the layout
    grid (``tp`` and ``batch`` arrays, batch -1 = the largest that fits), the context and the
    request rate it was sized for [requests/s]."""

    configs: pd.DataFrame
    layouts: dict
    context: ServingContext
    rate: float
    #: `ServingPlanCache`'s memo of what the rate and the targets do not change: ``"base"``
    #: (efficiency scale -> the model side of every candidate) and ``"replicas"`` (a memo of
    #: `unique_replicas`); empty for a cold plan (nothing kept: a plan holds its candidates only)
    memo: dict = field(default_factory=dict, repr=False, compare=False)


@dataclass(eq=False)
class ServingPlan(Plan):
    """`plan_inference`'s answer: candidates are offer x pricing x tp x batch, each sized in
    replicas for the request rate; ``demand`` holds the autoscaled-against-static comparison when
    the plan was made for a demand trace."""

    search: ServingSearch | None = field(default=None, repr=False)
    demand: dict | None = field(default=None, repr=False)

    kind: ClassVar[str] = "inference"
    time_col: ClassVar[str] = "latency_s"
    cost_col: ClassVar[str] = "cost_usd_per_hour"
    table_columns: ClassVar[tuple[str, ...]] = INFERENCE_COLUMNS
    distinct_by: ClassVar[tuple[str, ...]] = ("provider", "instance_type", "pricing", "tp")

    def _recommend(self) -> Recommendation | None:
        row = self.feasible.iloc[0]
        s = self.search
        sens = _sensitivity(row, s, self.sort_col)
        return _recommendation(row, s.context, s.rate, self.objective, sens, self.assumptions, self.demand)

    def latency_by_batch(self, offer: dict | None = None) -> pd.DataFrame:
        """TTFT (unloaded) and TPOT against batch for one configuration (default: the
        recommendation's offer, pricing and tp)."""
        return latency_by_batch(self, offer)

    def replicas_by_rate(self, rates=None, top: int = 4) -> pd.DataFrame:
        """Replicas, instances and cost per hour against the request rate for the ``top``
        cheapest distinct offers."""
        return replicas_by_rate(self, rates, top)

    @property
    def extras(self) -> dict:
        """Read-only: ``search`` as ``(configs, layouts, context, rate)`` and ``demand``."""
        out: dict = {}
        if self.search is not None:
            s = self.search
            out["search"] = (s.configs, s.layouts, s.context, s.rate)
        if self.demand is not None:
            out["demand"] = self.demand
        return out


def _validate(model, requests_per_s, demand, *, prompt_tokens, output_tokens, ttft_s, tpot_s,
              ttft_percentile, budget_usd_per_hour, objective, dtype, kv_dtype, pricing,
              bandwidth_efficiency, engine=None):
    """Check the arguments before any search; returns the context, the rate to size for, the
    demand trace (or None), the pricings, the objective and the bandwidth efficiency."""
    spec = resolve_model(model)
    trace = None
    if (requests_per_s is None) == (demand is None):
        raise ValueError("give exactly one of requests_per_s (a rate) or demand (a trace)")
    if demand is not None:
        trace, rate = _demand_rate(demand)
        if not rate > 0:
            raise ValueError("the demand trace never has a positive request rate")
    else:
        rate = check_positive("requests_per_s", requests_per_s, " [requests/s]")
    for name, v in (("prompt_tokens", prompt_tokens), ("output_tokens", output_tokens)):
        if isinstance(v, bool) or int(v) != v or v < 1:
            raise ValueError(f"{name} must be a positive whole number of tokens, got {v!r}")
    p, o = int(prompt_tokens), int(output_tokens)
    if rate > MAX_REQUESTS_PER_S:
        raise ValueError(f"requests_per_s must be at most {MAX_REQUESTS_PER_S:.0e} requests/s, got "
                         f"{rate:g}")
    if p + o > spec.seq_len:
        raise ValueError(f"prompt_tokens + output_tokens = {p + o:,} exceeds the {spec.seq_len:,}-token "
                         f"context of {spec.name}; use at most {spec.seq_len:,} tokens in all")
    ttft_t = None if ttft_s is None else parse_duration(ttft_s)
    tpot_t = None if tpot_s is None else parse_duration(tpot_s)
    for name, v in (("ttft_s", ttft_t), ("tpot_s", tpot_t)):
        if v is not None and not v > 0:
            raise ValueError(f"{name} must be a positive duration (e.g. '1s', '50ms'), got {v!r}")
    if ttft_percentile is not None and not 0 < ttft_percentile < 1:
        raise ValueError(f"ttft_percentile must be in (0, 1) or None, got {ttft_percentile!r}")
    if budget_usd_per_hour is not None:
        budget_usd_per_hour = check_positive("budget_usd_per_hour", budget_usd_per_hour, " [USD/h]")
    if objective not in ("auto", "cost", "time", "balanced"):
        raise ValueError(f"objective must be auto, cost, time or balanced, got {objective!r}")
    if objective == "auto":
        objective = "cost" if (ttft_t or tpot_t or budget_usd_per_hour) else "balanced"
    dtype = normalize_dtype(dtype)
    kv_dtype = normalize_dtype(kv_dtype or dtype)
    pricing = normalize_pricings(pricing)
    be = DEFAULT_BANDWIDTH_EFFICIENCY if bandwidth_efficiency is None else float(bandwidth_efficiency)
    if not 0 < be <= 1:
        raise ValueError(f"bandwidth_efficiency must be in (0, 1], got {be!r}")
    wb = float(DTYPE_BYTES[dtype])
    ctx = ServingContext(spec=spec, prompt_tokens=p, output_tokens=o, ttft_target_s=ttft_t,
                         tpot_target_s=tpot_t, percentile=ttft_percentile,
                         budget_usd_per_hour=budget_usd_per_hour, dtype=dtype, kv_dtype=kv_dtype,
                         weight_bytes=wb, kv_bytes=float(DTYPE_BYTES[kv_dtype]),
                         act_bytes=2.0 if wb < 2 else wb,
                         engine=None if engine is None else get_engine(engine))
    return ctx, rate, trace, pricing, objective, be


def _resolve(ctx: ServingContext, *, catalog, store, pricing, providers, accelerators, efficiency,
             bandwidth_efficiency, tp, batch, estimates=True):
    """Offers (``aicost.hardware``) with their efficiencies, and the (tp, batch) grid."""
    cat = load_catalog(catalog)
    cfg = offers_table(cat, pricing=pricing, providers=providers, accelerators=accelerators, dtype=ctx.dtype,
                       estimates=estimates)
    cfg = cfg[np.isfinite(cfg["peak_flops_per_s"].to_numpy())].reset_index(drop=True)
    if cfg.empty:
        raise InfeasibleError(f"no offer in the catalog matches providers={providers}, "
                              f"accelerators={accelerators}, dtype={ctx.dtype}"
                              f"{'' if estimates else ', estimates=False'}; widen the filters")
    eff = ev.efficiencies(sorted(set(cfg["accelerator"])), ctx.dtype, store, efficiency,
                          kernel_factor=INFERENCE_KERNEL_FACTOR, catalog=cat)
    cfg["efficiency"] = cfg["accelerator"].map(lambda a: eff[a].compute).astype(float)
    cfg["comm_efficiency"] = cfg["accelerator"].map(lambda a: eff[a].comm).astype(float)
    cfg["efficiency_source"] = cfg["accelerator"].map(lambda a: eff[a].compute_source)
    # shape-aware prefill/decode efficiency where the accelerator has a GEMM curve (none when the
    # caller gave the efficiency): aicost.model.serving_compute_efficiency, as estimate_inference
    curves = {a: e.gemm_curve for a, e in eff.items()}
    nan = float("nan")
    cfg["gemm_e_max"] = cfg["accelerator"].map(lambda a: curves[a].e_max if curves[a] else nan).astype(float)
    cfg["gemm_k_half"] = cfg["accelerator"].map(lambda a: curves[a].k_half if curves[a] else nan).astype(float)
    cfg["compute_units"] = cfg["accelerator"].map(lambda a: eff[a].compute_units).astype(float)
    cfg["efficiency_source"] = cfg["accelerator"].map(
        lambda a: (f"{shape_aware_source(curves[a])} (prefill GEMMs at the prompt's tokens, decode at the "
                   f"batch) x INFERENCE_KERNEL_FACTOR {INFERENCE_KERNEL_FACTOR}") if curves[a]
        else eff[a].compute_source)
    cfg["bandwidth_efficiency"] = bandwidth_efficiency
    # the collective library's fixed cost of a tensor-parallel all-reduce (NCCL / RCCL), by vendor
    vendor = {a: cat.accelerator(a).vendor for a in set(cfg["accelerator"])}
    cfg["allreduce_base_latency_s"] = cfg["accelerator"].map(lambda a: allreduce_base_latency_s(vendor[a])).astype(float)

    if "scale_up_domain_gpus" not in cfg:
        cfg["scale_up_domain_gpus"] = cfg["gpus_per_node"]
    cfg["scale_up_domain_gpus"] = np.maximum(cfg["scale_up_domain_gpus"].fillna(cfg["gpus_per_node"]),
                                             cfg["gpus_per_node"])
    max_dom = int(cfg["scale_up_domain_gpus"].max())
    tps = as_tuple(tp, [t for t in (1, 2, 4, 8, 16, 32, 64) if t <= min(max_dom, MAX_SERVING_TP_SEARCHED)])
    for t in tps:
        if isinstance(t, bool) or int(t) != t or t < 1:
            raise ValueError(f"tp must be positive integers, got {t!r}")
    if min(tps) > max_dom:
        raise ValueError(f"tp={min(tps)} is larger than the GPUs of any scale-up domain searched (at "
                         f"most {max_dom}): a replica's tensor parallelism stays on one NVLink/ICI domain")
    batches = as_tuple(batch, _BATCH_GRID)
    for b in batches:
        if isinstance(b, bool) or int(b) != b or (b < 1 and b != -1):
            raise ValueError(f"batch must be positive integers, got {b!r}")
    grid = np.meshgrid(np.array(tps, dtype=float), np.array(batches, dtype=float), indexing="ij")
    return cfg, {"tp": grid[0].ravel(), "batch": grid[1].ravel()}


def _searched(search: ServingSearch, scale: float = 1.0) -> pd.DataFrame:
    """The candidates of ``search`` with efficiency ``scale`` times the configurations' (the model
    side from ``search.memo`` when it has it), sized for its rate under its targets."""
    bases = search.memo.get("base")
    base = None if bases is None else bases.get(scale)
    if base is None:
        base = _base(search.configs, search.layouts, search.context, scale)
        if bases is not None:
            bases[scale] = base
    return _finish(base, search.context, search.rate, replicas=search.memo.get("replicas", unique_replicas))


def _search(search: ServingSearch) -> tuple[pd.DataFrame, pd.Series]:
    """Every candidate evaluated, and the dropped ones counted by reason."""
    cands = _searched(search)
    counts = np.bincount(cands["code"].to_numpy(), minlength=_OK)
    reason_counts = pd.Series({INFERENCE_REASONS[i]: int(counts[i]) for i in sorted(INFERENCE_REASONS)
                               if counts[i] > 0}, dtype=np.int64)
    return cands, reason_counts


_OBJECTIVES = {
    "cost": ("cost_usd_per_hour", "cheapest plan that meets the latency targets"),
    "time": ("latency_s", "lowest-latency plan that meets the constraints"),
    "balanced": ("balanced_score", "knee of the latency-cost frontier (smallest latency x cost)"),
}


def _score(cands: pd.DataFrame, ctx: ServingContext, objective: str) -> tuple[str, str]:
    """The column `ServingPlan.best` minimizes (adding ``balanced_score`` when asked)."""
    sort_col, objective_text = _OBJECTIVES[objective]
    if sort_col == "balanced_score":
        ok = cands["feasible"].to_numpy()
        t, c = cands["latency_s"].to_numpy(), cands["cost_usd_per_hour"].to_numpy()
        tmin = np.nanmin(np.where(ok, t, np.nan)) if ok.any() else 1.0
        cmin = np.nanmin(np.where(ok, c, np.nan)) if ok.any() else 1.0
        cands["balanced_score"] = (t / tmin) * (c / cmin)
    return sort_col, objective_text


def _assumptions(ctx, rate, be, min_replicas, lag, with_demand) -> tuple[str, ...]:
    pct = "mean" if ctx.percentile is None else f"p{ctx.percentile * 100:g}"
    out = [
        f"{rate:.4g} requests/s{' at the peak' if with_demand else ''} of {ctx.prompt_tokens} prompt + {ctx.output_tokens} output tokens, Poisson arrivals; "
        f"TTFT target on the {pct} with M/M/c (Erlang C) queueing over replicas x batch slots",
        "continuous batching: each decode iteration admits batch/output new requests whose prefill "
        "shares it (TPOT includes that share)",
        f"decode reaches {be:.0%} of the memory bandwidth; "
        + (f"the engine uses {GPU_MEMORY_UTILIZATION:.0%} of GPU memory (vLLM's default), the rest of it "
           "after weights and workspace holds the KV cache; no batch cap (engine=None)" if ctx.engine is None
           else ctx.engine.assumption()),
        "tensor parallelism inside the scale-up domain (a node, or the instances of one NVL72 "
        "rack); replicas packed onto whole instances (GPUs per node // tp each, or tp / GPUs per "
        "node instances each) and billed per instance-hour",
        "prices are the catalog's list prices; spot capacity assumed available (serving on spot "
        "needs spare replicas for preemptions, not modeled here)",
    ]
    if with_demand:
        out.append(f"demand: reactive autoscaler with a {format_duration(lag)} lag and at least "
                   f"{min_replicas} replica(s); static fleet sized for the peak; the demand costs count "
                   "GPU-hours at the offer's price per GPU-hour (replicas packed across instances)")
    return tuple(out)


def _headline(row) -> str:
    where = f"{row['provider']} {row['instance_type']}"
    if row.get("region"):
        where += f", {row['region']}"
    return (f"{int(row['instances'])} x {where} ({str(row['pricing']).replace('_', '-')}): "
            f"{int(row['replicas'])} replica(s) of {int(row['tp'])} x {row['accelerator']}, "
            f"batch {int(row['batch'])}")


def _recommendation(row, ctx, rate, objective, sens, assumptions, demand) -> Recommendation:
    pct = "mean" if ctx.percentile is None else f"p{ctx.percentile * 100:g}"
    bott = str(row["bottleneck"])
    details = [
        f"Latency: TTFT {format_duration(float(row['ttft_s']))} ({pct}, queueing included; "
        f"{format_duration(float(row['ttft_unloaded_s']))} unloaded), TPOT "
        f"{format_duration(float(row['tpot_s']))}, a {ctx.output_tokens}-token answer in "
        f"{format_duration(float(row['latency_s']))}.",
        f"Each replica serves {float(row['requests_per_s_per_replica']):.2f} req/s "
        f"({float(row['output_tokens_per_s_per_replica']):,.0f} output tokens/s) at batch "
        f"{int(row['batch'])} (at most {int(row['max_batch'])} fit); utilization "
        f"{100 * float(row['utilization']):.0f}% at {rate:.4g} req/s.",
        f"Memory per GPU: weights {format_bytes(float(row['weights_bytes']))}, KV cache "
        f"{format_bytes(float(row['kv_bytes_per_seq']) * int(row['batch']))} for the batch, workspace "
        f"{format_bytes(float(row['workspace_bytes']))}, of {float(row['memory_gib']):.0f} GiB.",
        f"Cost {_fmt_usd(float(row['cost_usd_per_hour']))}/h ({int(row['instances'])} instance(s) at "
        f"{_fmt_usd(float(row['price_usd_per_hour']))}/h): {_fmt_usd(float(row['usd_per_million_tokens']))} "
        f"per 1M tokens ({_fmt_usd(float(row['usd_per_million_input_tokens']))} input, "
        f"{_fmt_usd(float(row['usd_per_million_output_tokens']))} output).",
    ]
    if bott == "memory bandwidth":
        details.append("Decode is memory-bandwidth-bound: each step reads the weights and the KV cache; "
                       "a larger batch (more memory) or a higher-bandwidth accelerator lowers cost per token.")
    elif bott.startswith("memory capacity"):
        details.append("The batch is capped by the KV cache that fits: more GPU memory per replica "
                       "(larger tp or an accelerator with more memory) would raise throughput per GPU.")
    if ctx.tpot_target_s is not None and float(row["tpot_s"]) > 0.9 * ctx.tpot_target_s:
        bott = "latency target (TPOT)"
        details.append("The TPOT target caps the batch: relaxing it would allow larger batches and a "
                       "lower cost per token.")
    if demand is not None:
        s = demand["summary"]
        details.append(
            f"Over the day's demand (peak {s['peak_requests_per_s']:.4g} req/s): autoscaled "
            f"{_fmt_usd(s['autoscaled_usd_per_day'])}/day against static {_fmt_usd(s['static_usd_per_day'])}"
            f"/day; static idles {_fmt_usd(s['static_idle_usd_per_day'])}/day of capacity, autoscaling "
            f"leaves {100 * s['autoscaled_unmet_fraction']:.2f}% of requests over target while it "
            "catches up.")
    return Recommendation(
        kind="inference", row=row.to_dict(), headline=_headline(row), objective=objective,
        bottleneck=bott, details=tuple(details), assumptions=tuple(assumptions),
        efficiency=float(row["prefill_efficiency"]),
        efficiency_source=(f"{row['efficiency_source']}: prefill {float(row['prefill_efficiency']):.2f}, decode "
                           f"{float(row['decode_efficiency']):.2f} of the peak; decode bandwidth efficiency "
                           f"{float(row['bandwidth_efficiency']):.2f}"),
        sensitivity=sens, time_col="latency_s", cost_col="cost_usd_per_hour")


def _sensitivity(row, search: ServingSearch, sort_col, scale: float = 0.8) -> Sensitivity:
    """Re-evaluate every candidate with compute and bandwidth efficiency ``scale`` times lower."""
    cands = _searched(search, scale)
    same = cands[(cands["config_id"] == row["config_id"]) & (cands["tp"] == row["tp"])]
    # the same replica shape at the same batch (or the largest that still fits)
    same = same[same["batch"] <= int(row["batch"])].sort_values("batch").tail(1)
    s = same.iloc[0] if len(same) else None
    ok = cands[cands["feasible"]]
    if sort_col == "balanced_score" and not ok.empty:
        t, c = ok["latency_s"].to_numpy(), ok["cost_usd_per_hour"].to_numpy()
        ok = ok.assign(balanced_score=(t / t.min()) * (c / c.min()))
    ok = ok.sort_values([sort_col, "latency_s", "cost_usd_per_hour"], kind="stable")
    s_time = float(s["latency_s"]) if s is not None else float("nan")
    s_cost = float(s["cost_usd_per_hour"]) if s is not None else float("nan")
    s_ok = bool(s["feasible"]) if s is not None else False
    s_reason = str(s["reason"]) if s is not None else "does not fit"
    if ok.empty:
        return Sensitivity(scale, s_time, s_cost, s_ok, s_reason, None, float("nan"), float("nan"))
    nb = ok.iloc[0]
    return Sensitivity(scale, s_time, s_cost, s_ok, s_reason, _headline(nb), float(nb["latency_s"]),
                       float(nb["cost_usd_per_hour"]))


def _infeasible_message(cands, ctx, rate, cfg) -> str:
    spec = ctx.spec
    counts = cands["reason"].value_counts()
    summary = "; ".join(f"{r}: {n}" for r, n in counts.items())
    codes = cands["code"].to_numpy()
    if (codes == D.NOT_OFFERED).all():
        pricings = ", ".join(sorted(set(cands["pricing"])))
        return (f"no offer searched has a price for {pricings}; allow another pricing model (e.g. "
                f"pricing=('on_demand', 'spot')) or other providers. Dropped: {summary}")
    if (codes <= D.TP_SPLITS_HEADS).all():
        return (f"no tensor-parallel degree searched is valid on these offers ({summary}); tp must fit "
                f"in the scale-up domain (a node, or an NVL72 rack) and divide {spec.name}'s "
                f"{spec.n_heads} attention heads")
    if (codes <= D.WEIGHTS_DO_NOT_FIT).all():
        # nothing fits: the leanest replica (largest tp: the scale-up domain) against the largest memory
        w = float(spec.n_params * ctx.weight_bytes)
        dom = np.minimum(cfg["scale_up_domain_gpus"].to_numpy(dtype=float), MAX_SERVING_TP_SEARCHED)
        i = int(np.argmax(cfg["memory_bytes"].to_numpy() * dom))
        r = cfg.iloc[i]
        gpn, tpx = int(r["gpus_per_node"]), int(dom[i])
        usable = float(r["memory_bytes"]) * GPU_MEMORY_UTILIZATION
        if w / tpx < usable:
            # the weights fit; the KV cache of a single sequence (plus the workspace) does not
            seq = ctx.prompt_tokens + ctx.output_tokens
            return (f"{spec.name} fits on no offer searched: the weights fit ({format_bytes(w / tpx)} per GPU "
                    f"at tp={tpx} on {r['provider']} {r['instance_type']}, {gpn} x {r['accelerator']}), but "
                    f"the KV cache of one {seq:,}-token sequence and the prefill workspace do not fit in the "
                    f"{GPU_MEMORY_UTILIZATION:.0%} of memory the engine uses; use a shorter context, an fp8 KV "
                    f"cache (kv_dtype='fp8'), or offers with more memory. Dropped: {summary}")
        return (f"{spec.name} fits on no offer searched: its weights alone need {format_bytes(w)} "
                f"({format_bytes(w / tpx)} per GPU at tp={tpx}), "
                f"against {float(r['memory_gib']):.0f} GiB x {GPU_MEMORY_UTILIZATION:.0%} usable per GPU "
                f"on the largest ({r['provider']} {r['instance_type']}, {gpn} x "
                f"{r['accelerator']}); use a smaller dtype (fp8), or add offers with more memory. "
                f"Dropped: {summary}")
    if ctx.tpot_target_s is not None and not (codes >= D.TTFT_MISSED).any() and not (codes == 0).any():
        fits = cands[codes >= D.TPOT_MISSED]
        best = fits.loc[fits["tpot_s"].idxmin()]
        return (f"no configuration meets TPOT {format_duration(ctx.tpot_target_s)}: the fastest "
                f"({int(best['tp'])} x {best['accelerator']} on {best['provider']} {best['instance_type']}, "
                f"batch {int(best['batch'])}) takes {format_duration(float(best['tpot_s']))} per token; "
                f"relax tpot_s to >= {format_duration(float(best['tpot_s']) * 1.01)} or allow larger tp. "
                f"Dropped: {summary}")
    if ctx.ttft_target_s is not None and not (codes >= D.OVER_BUDGET).any() and not (codes == 0).any():
        fits = cands[codes == D.TTFT_MISSED]
        best = fits.loc[fits["ttft_unloaded_s"].idxmin()]
        return (f"no configuration meets TTFT {format_duration(ctx.ttft_target_s)} at {rate:g} req/s: "
                f"even unloaded the fastest ({int(best['tp'])} x {best['accelerator']} on {best['provider']} "
                f"{best['instance_type']}) needs {format_duration(float(best['ttft_unloaded_s']))} to the "
                f"first token; relax ttft_s to >= {format_duration(float(best['ttft_unloaded_s']) * 1.2)}, "
                f"shorten prompts or allow larger tp. Dropped: {summary}")
    if ctx.budget_usd_per_hour is not None:
        fits = cands[codes == D.OVER_BUDGET]
        if len(fits):
            best = fits.loc[fits["cost_usd_per_hour"].idxmin()]
            return (f"no configuration fits the {_fmt_usd(ctx.budget_usd_per_hour)}/h budget: the cheapest that meets "
                    f"the targets ({_headline(best)}) costs {_fmt_usd(float(best['cost_usd_per_hour']))}/h; "
                    f"raise the budget or relax the latency targets. Dropped: {summary}")
    return f"no serving configuration meets the constraints; relax the latency targets. Dropped: {summary}"


# --------------------------------------------------------------------------- views used by Plan
def latency_by_batch(plan: ServingPlan, offer: dict | None = None) -> pd.DataFrame:
    """TTFT (unloaded) and TPOT against batch for one configuration (default: the recommendation's
    offer, pricing and tp), from the plan's candidates (batches that fit)."""
    df = plan.candidates
    if offer is None:
        best = plan.best
        if best is None:
            raise ValueError("the plan has no recommendation; pass offer=dict(provider=..., "
                             "instance_type=..., pricing=..., tp=...)")
        offer = {k: best.row[k] for k in ("provider", "instance_type", "pricing", "tp")}
    sel = np.ones(len(df), dtype=bool)
    for k, v in offer.items():
        if k not in df.columns:
            raise ValueError(f"unknown candidate column {k!r}")
        sel &= (df[k] == v).to_numpy()
    code = df["code"].to_numpy()
    runs = (code == 0) | ((code > D.WEIGHTS_DO_NOT_FIT)  # batches the memory and the engine take
                          & (code != D.KV_CACHE_DOES_NOT_FIT) & (code != D.ENGINE_BATCH_CAP))
    part = df[sel & runs]
    part = part.sort_values("batch").drop_duplicates("batch")
    out = part[["batch", "ttft_unloaded_s", "tpot_s", "requests_per_s_per_replica", "feasible",
                "reason"]].rename(columns={"ttft_unloaded_s": "ttft_s"}).reset_index(drop=True)
    out.attrs["title"] = ", ".join(f"{v}" for v in offer.values())
    return out


def replicas_by_rate(plan: ServingPlan, rates=None, top: int = 4) -> pd.DataFrame:
    """Replicas and instances needed against the request rate for the ``top`` cheapest distinct
    offers of the plan (their recommended tp and batch), under the plan's TTFT target."""
    ok = plan.feasible.drop_duplicates(subset=["provider", "instance_type", "pricing"], keep="first").head(top)
    if ok.empty:
        raise ValueError("the plan has no feasible candidate")
    ctx, rate = plan.search.context, plan.search.rate
    r = np.asarray(rates if rates is not None else np.linspace(rate / 20, rate * 2, 60), dtype=float)
    if np.any(r < 0):
        raise ValueError("rates must be >= 0")
    target = np.inf if ctx.ttft_target_s is None else ctx.ttft_target_s
    frames = []
    for _, row in ok.iterrows():
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            reps, _ = replicas_arrays(rate=r, batch=float(row["batch"]), service_s=float(row["service_s"]),
                                       base_ttft_s=float(row["ttft_unloaded_s"]), ttft_target_s=target,
                                       percentile=ctx.percentile)
        reps = np.where(r > 0, reps, 0.0)
        inst = np.ceil(reps / float(row["replicas_per_instance"]))
        frames.append(pd.DataFrame({
            "label": f"{row['provider']} {row['instance_type']} ({row['pricing']}, tp={int(row['tp'])}, "
                     f"batch {int(row['batch'])})",
            "requests_per_s": r, "replicas": reps, "instances": inst,
            "cost_usd_per_hour": inst * float(row["price_usd_per_hour"])}))
    return pd.concat(frames, ignore_index=True)


def demand_curve(plan: ServingPlan, trace, *, min_replicas: int = 1, scale_up_lag_s: float = 300.0) -> dict:
    """Provision the recommendation over a demand trace, autoscaled against static.

    Uses ``aicost.model.estimate_inference`` on the recommended configuration (its hardware
    numbers passed explicitly, so the numbers are the plan's) and ``aicost.model.autoscale``.

    Returns
    -------
    dict
        ``curve`` (DataFrame per interval: hour, requests_per_s, replicas and instances needed /
        autoscaled / static, capacities [req/s], cost rates), ``summary`` (dict of daily totals),
        ``demand_plan`` (the model's DemandPlan).
    """
    row = plan.feasible.iloc[0]
    ctx = plan.search.context
    est = estimate_inference(
        ctx.spec, Cluster(accelerator=row["accelerator"], gpus=int(row["tp"]),
                             gpus_per_node=int(row["gpus_per_node"]),
                             scale_up_domain_gpus=int(row["scale_up_domain_gpus"]),
                             price_usd_per_gpu_hour=float(row["price_usd_per_hour"]) / int(row["gpus_per_node"]),
                             peak_flops_per_s=float(row["peak_flops_per_s"]),
                             memory_bytes=float(row["memory_bytes"]),
                             mem_bw_bytes_per_s=float(row["mem_bw_bytes_per_s"]),
                             scale_up_bw_bytes_per_s=float(row["scale_up_bw_bytes_per_s"]),
                             scale_up_latency_s=float(row["scale_up_latency_s"]),
                             scale_out_bw_bytes_per_s=float(row["scale_out_bw_bytes_per_s"])),
        tp=int(row["tp"]), prompt_tokens=ctx.prompt_tokens, output_tokens=ctx.output_tokens,
        requests_per_s=float(trace["requests_per_s"].max()), ttft_s=ctx.ttft_target_s,
        tpot_s=ctx.tpot_target_s, ttft_percentile=ctx.percentile, batch=int(row["batch"]),
        compute_efficiency=None if np.isfinite(float(row["gemm_e_max"])) else float(row["efficiency"]),
        bandwidth_efficiency=float(row["bandwidth_efficiency"]),
        engine=ctx.engine)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        dp = autoscale(est, trace, min_replicas=min_replicas, scale_up_lag_s=scale_up_lag_s)
    tl = dp.timeline
    per_inst = float(row["replicas_per_instance"])
    curve = pd.DataFrame({
        "hour": tl["hour"].to_numpy(), "requests_per_s": tl["requests_per_s"].to_numpy(),
        "replicas_needed": tl["replicas_needed"].to_numpy(),
        "replicas_autoscaled": tl["replicas_autoscaled"].to_numpy(),
        "replicas_static": tl["replicas_static"].to_numpy(),
        "instances_autoscaled": np.ceil(tl["replicas_autoscaled"].to_numpy() / per_inst),
        "instances_static": np.ceil(tl["replicas_static"].to_numpy() / per_inst),
        "capacity_autoscaled_rps": tl["capacity_rps_autoscaled"].to_numpy(),
        "capacity_static_rps": tl["capacity_rps_static"].to_numpy(),
    })
    s = dp.summary.set_index("policy")
    hours = float((tl["time_s"].iloc[-1] - tl["time_s"].iloc[0]) / HOUR_S) * len(tl) / max(len(tl) - 1, 1)
    per_day = 24.0 / hours if hours > 0 else float("nan")
    summary = {
        "peak_requests_per_s": float(tl["requests_per_s"].max()),
        "mean_requests_per_s": float(tl["requests_per_s"].mean()),
        "autoscaled_usd_per_day": float(s.loc["autoscaled", "cost_usd"]) * per_day,
        "static_usd_per_day": float(s.loc["static", "cost_usd"]) * per_day,
        "autoscaled_idle_usd_per_day": float(s.loc["autoscaled", "idle_cost_usd"]) * per_day,
        "static_idle_usd_per_day": float(s.loc["static", "idle_cost_usd"]) * per_day,
        "autoscaled_unmet_fraction": float(s.loc["autoscaled", "unmet_fraction"]),
        "static_unmet_fraction": float(s.loc["static", "unmet_fraction"]),
        "static_replicas": int(dp.static_replicas),
    }
    summary["savings_usd_per_day"] = summary["static_usd_per_day"] - summary["autoscaled_usd_per_day"]
    return {"curve": curve, "summary": summary, "demand_plan": dp}
