"""The vectorized evaluation behind `plan_training`: configurations, the kernel, the reduction,
and the words that explain the result.

The kernel (`training_kernel`) takes config arrays and layout arrays that broadcast against each
other (``(n_configs, 1)`` against ``(1, n_layouts)`` in the search, equal 1-D arrays when it
re-evaluates chosen candidates) and returns every quantity as arrays of the broadcast shape. The
model math is ``aicost.model``'s array-level cores (memory, step time, reliability); this module
only arranges the arrays and applies the constraints.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._errors import UnknownNameError
from .._units import GIB, HOUR_S, MONTH_S, format_bytes, format_duration
from ..hardware import (
    resolve_efficiencies,
    shape_aware_efficiency,
    shape_aware_moe_sublayer_shares,
    shape_aware_weight_grad_share,
)
from ..model import (
    CHECKPOINT_BYTES_PER_PARAM,
    DEFAULT_FAILURES_PER_GPU_HOUR,
    DEFAULT_FLEET_CLASS,
    DEFAULT_JOB_FAILURES_PER_HOUR,
    DEFAULT_RESTART_S,
    DEFAULT_SPOT_PREEMPTIONS_PER_NODE_HOUR,
    DEFAULT_SPOT_RESTART_S,
    EP_OVERLAP_PAIRING,
    RUNTIME_RESERVE_BYTES,
    TP_OVERLAP_EXPOSED_SHARE,
    TRAINING_KERNEL_FACTOR,
    TRAINING_SCHEDULES,
    ZERO_BUBBLE_ASSUMPTION,
    failure_rates,
    optimizer_state_bytes,
    reliability_factors,
    reliability_for_work,
    schedule_code,
    training_arrays,
)
from ._reasons import MIN_GOODPUT, REASON_DETAIL_SEP, TrainingDrop
from ._result import Recommendation, Sensitivity, _fmt_usd

__all__ = [
    "CHECKPOINT_KEEP",
    "DEFAULT_CHECKPOINT_BW_BYTES_PER_S",
    "OK",
    "PhysicsGroup",
    "REASONS",
    "TAIL_COLUMNS",
    "TrainingContext",
    "checkpoint_tiers",
    "config_terms",
    "efficiencies",
    "efficiency_codes",
    "efficiency_columns",
    "efficiency_table",
    "evaluate_candidates",
    "evaluate_one",
    "hardware_groups",
    "layout_codes",
    "layout_efficiency",
    "moe_sublayer_table",
    "physics_groups",
    "preprocess_reason",
    "reduce_layouts",
    "reliability_defaults",
    "search_physics",
    "search_training",
    "structural_codes",
    "tail_codes",
    "training_assumptions",
    "training_configs",
    "training_frame",
    "training_headline",
    "training_infeasible_message",
    "training_kernel",
    "training_overlap_text",
    "training_physics",
    "training_recommendation",
    "training_tail",
    "weight_grad_table",
]

#: checkpoints kept on the storage tier at any time (the latest and the one before, so a
#: failure while writing never loses both); billed for the run's duration
CHECKPOINT_KEEP = 2
#: checkpoint write rate used when the catalog has no shared storage tier for a provider [B/s]
#: (an assumption: 10 GB/s, a modest parallel file system)
DEFAULT_CHECKPOINT_BW_BYTES_PER_S = 10e9
#: per-chunk candidate budget of the search: bounds the temporary arrays (~60 of this size)
_CHUNK_CANDIDATES = 1 << 17

#: why a candidate was dropped, by code (``TrainingDrop``'s values and texts; kept for callers
#: that read the codes of `Plan.candidates`)
REASONS = {int(r): r.text for r in TrainingDrop if r is not TrainingDrop.OK}
#: the stage a feasible candidate reaches
OK = int(TrainingDrop.OK)
D = TrainingDrop


# --------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class TrainingContext:
    """The scalar side of a training search: the model, the job and the constraints."""

    spec: object
    tokens: float
    seq_len: int
    batch_seqs: int
    deadline_s: float | None
    budget_usd: float | None
    rel: dict
    dtype: str = "bf16"
    #: tokens per second one vCPU tokenizes [tokens/s] (``aicost.bench.default_preprocess_rates()``,
    #: text pipeline); ``inf`` switches the CPU preprocessing check off
    preprocess_tokens_per_s_per_vcpu: float = math.inf
    #: tensor-parallel collectives overlapped with the GEMMs (``aicost.model.training_arrays``'
    #: ``overlap_tp_comm``; a user option: it needs the training stack's support)
    overlap_tp_comm: bool = False
    #: expert all-to-all under another micro-batch's compute (DualPipe / Megatron-Core 1F1B
    #: all-to-all overlap; ``overlap_ep_comm``)
    overlap_ep_comm: bool = False
    #: how expert-parallel dispatch moves tokens (``aicost.model.EP_DISPATCHERS``: ``"alltoall"`` one
    #: copy per routed expert, ``"deepep"`` one per destination node with NVLink forwarding)
    ep_dispatcher: str = "alltoall"
    #: shape-aware compute efficiency per (accelerator row, layout key): ``efficiency_table[erow,
    #: col]`` with ``erow`` a configuration's ``efficiency_row`` and ``col`` the position of the
    #: layout's `efficiency_codes` key in ``efficiency_codes`` (sorted); None: every configuration
    #: uses its ``efficiency`` column (`efficiency_table` builds them)
    efficiency_table: np.ndarray | None = field(default=None, compare=False, repr=False)
    efficiency_codes: np.ndarray | None = field(default=None, compare=False, repr=False)
    #: the ZB-H1 weight-gradient pass's share of a layer's kernel time, indexed as
    #: ``efficiency_table`` (`weight_grad_table`; NaN rows: W's FLOP share); None: no ZB-H1 layouts
    weight_grad_table: np.ndarray | None = field(default=None, compare=False, repr=False)
    #: a MoE layer's attention and MoE MLP kernel-time shares (last axis, 2) indexed as
    #: ``efficiency_table`` (`moe_sublayer_table`; NaN rows: FLOP shares), the pieces the EP overlap
    #: pairs its transfers with; None: no EP overlap searched
    moe_sublayer_table: np.ndarray | None = field(default=None, compare=False, repr=False)
    #: the compute-efficiency assumption of the plan, in words
    efficiency_note: str = ""

    @property
    def dtype_bytes(self) -> float:
        """Bytes of weights, gradients and activations (fp8/int8 training keeps bf16 master
        weights and gradients, as ``aicost.model.estimate_training`` assumes)."""
        from .._units import DTYPE_BYTES

        return 2.0 if self.dtype in ("fp8", "int8") else float(DTYPE_BYTES[self.dtype])

    @property
    def optim_bytes(self) -> float:
        """AdamW state bytes per parameter for this dtype (``aicost.model``'s table)."""
        return float(optimizer_state_bytes("adamw", self.dtype))


def efficiencies(accelerators: Sequence[str], dtype: str, store, efficiency,
                 kernel_factor: float = TRAINING_KERNEL_FACTOR, catalog=None) -> dict:
    """``aicost.hardware.resolve_efficiencies`` (name -> `AcceleratorEfficiency`)."""
    return resolve_efficiencies(accelerators, dtype, store=store, efficiency=efficiency,
                                kernel_factor=kernel_factor, catalog=catalog)


def reliability_defaults(failure_rate, preemption_rate, restart_s, job_failure_rate=None,
                         fleet_class=None) -> dict:
    """The reliability assumptions, with ``aicost.model``'s defaults for those not given.

    Interruptions per hour of a job on ``n`` GPUs: ``failures_per_gpu_hour * n +
    job_failures_per_hour`` (``aicost.model.failure_rates``). By default both terms come from
    the fleet class (``fleet_class``, default ``aicost.model.DEFAULT_FLEET_CLASS``: the Llama 3
    report). A per-GPU rate given by the caller (``failure_rate``) replaces the whole failure
    model: the per-job term is then 0 unless ``job_failure_rate`` is given too, so
    ``failure_rate=0`` means no failures at all. ``job_failure_rate`` alone replaces only the
    per-job term. The returned ``failure_source`` says which applied.
    """
    def _nonneg(name, v, default):
        if v is None:
            return float(default)
        v = float(v)
        if not math.isfinite(v) or v < 0:
            raise ValueError(f"{name} must be >= 0, got {v!r}")
        return v

    if fleet_class is None:
        fleet = DEFAULT_FLEET_CLASS
        gpu_default, job_default = DEFAULT_FAILURES_PER_GPU_HOUR, DEFAULT_JOB_FAILURES_PER_HOUR
        fleet_source = "Llama 3 405B report, 419 interruptions in 54 days on 16,384 H100, 78% hardware"
    else:
        rates = failure_rates(fleet_class)
        fleet = rates.fleet_class
        gpu_default, job_default = rates.failures_per_gpu_hour, rates.job_failures_per_hour
        fleet_source = rates.source
    if failure_rate is not None and job_failure_rate is None:
        job_default = 0.0  # the caller's per-GPU rate is the whole failure model
    gpu = _nonneg("failure_rate_per_gpu_hour", failure_rate, gpu_default)
    job = _nonneg("job_failure_rate_per_hour", job_failure_rate, job_default)
    if failure_rate is None and job_failure_rate is None:
        source = f"fleet class {fleet}: {fleet_source}"
    elif failure_rate is None:
        source = f"per GPU-hour from fleet class {fleet}: {fleet_source}; per job-hour given by the caller"
    elif job_failure_rate is None:
        source = "given by the caller, per-job term off"
    else:
        source = "given by the caller"
    return {
        "failures_per_gpu_hour": gpu,
        "job_failures_per_hour": job,
        "failure_source": source,
        "preemptions_per_node_hour": _nonneg("spot_preemption_rate_per_hour", preemption_rate,
                                             DEFAULT_SPOT_PREEMPTIONS_PER_NODE_HOUR),
        "restart_s": _nonneg("restart_s", restart_s, DEFAULT_RESTART_S),
        "spot_restart_s": max(_nonneg("restart_s", restart_s, DEFAULT_RESTART_S),
                              DEFAULT_SPOT_RESTART_S),
    }


def checkpoint_tiers(cat, providers: Sequence[str], storage_tier) -> pd.DataFrame:
    """The storage tiers checkpoints may go to: ``(provider, tier)`` rows with the record.

    With ``storage_tier`` only that tier (for every provider: the user knows where it is
    reachable). Otherwise every shared (file, object, block) tier of each provider, or the
    provider-neutral ones (provider ``any``), or an assumed default when the catalog has none.
    """
    rows = []
    if storage_tier is not None:
        rec = cat.storage_tier(storage_tier)
        for p in providers:
            rows.append({"provider": p, "storage_tier": rec.name, "record": rec})
        return pd.DataFrame(rows)
    tiers = getattr(cat, "storage_tiers", None)
    for p in providers:
        recs = []
        if tiers is not None and len(tiers):
            prov = tiers["provider"].astype(str).str.lower()
            kind = tiers["kind"].astype(str).str.lower()
            shared = kind.isin(["file", "object", "block"]).to_numpy()
            mine = tiers[(prov == p.lower()).to_numpy() & shared]
            if mine.empty:
                mine = tiers[(prov == "any").to_numpy() & shared]
            recs = [cat.storage_tier(n) for n in mine["name"]]
        if not recs:
            rows.append({"provider": p, "storage_tier": "default (assumed 10 GB/s)", "record": None})
        rows += [{"provider": p, "storage_tier": r.name, "record": r} for r in recs]
    return pd.DataFrame(rows)


def _checkpoint_bytes(spec) -> float:
    """Bytes of one full training checkpoint (``aicost.model.CHECKPOINT_BYTES_PER_PARAM``)."""
    return float(spec.n_params) * CHECKPOINT_BYTES_PER_PARAM


def _has_cluster_network(cfg: pd.DataFrame) -> np.ndarray:
    """True where an offer has a scale-out fabric or a network bandwidth in the catalog."""
    fabric = cfg["scale_out_fabric"].fillna("").astype(str).str.len().to_numpy() > 0 \
        if "scale_out_fabric" in cfg else np.zeros(len(cfg), dtype=bool)
    net = pd.to_numeric(cfg["network_gbps"], errors="coerce").to_numpy(dtype=float) \
        if "network_gbps" in cfg else np.full(len(cfg), np.nan)
    return fabric | (np.isfinite(net) & (net > 0))


def training_configs(offers: pd.DataFrame, tiers: pd.DataFrame, spec, *, min_gpus: int, max_gpus: int,
                     node_counts) -> pd.DataFrame:
    """Configurations: offers x node counts x checkpoint tiers, with the per-config numbers."""
    ckpt = _checkpoint_bytes(spec)
    parts = []
    for gpn in sorted(set(offers["gpus_per_node"])):
        counts = node_counts(int(gpn), min_gpus, max_gpus)
        if not counts:
            continue
        sub = offers[offers["gpus_per_node"] == gpn]
        rep = sub.loc[sub.index.repeat(len(counts))].copy()
        rep["nodes"] = np.tile(np.array(counts, dtype=np.int64), len(sub))
        parts.append(rep)
    if not parts:
        return pd.DataFrame()
    cfg = pd.concat(parts, ignore_index=True)
    # Several nodes train together only over a cluster network the catalog knows of (a scale-out
    # fabric, or at least the instance's network bandwidth): single-GPU cloud VMs without either
    # are not offered as multi-node clusters, so they are planned as single nodes only.
    cfg = cfg[(cfg["nodes"] == 1) | _has_cluster_network(cfg)].reset_index(drop=True)
    if cfg.empty:
        return pd.DataFrame()
    cfg = cfg.merge(tiers, on="provider", how="left", sort=False)
    cfg["gpus"] = cfg["nodes"] * cfg["gpus_per_node"]

    # checkpoint write and read rates per (tier, nodes): a small loop over distinct pairs
    _, first, pair = np.unique(np.column_stack([pd.factorize(cfg["storage_tier"])[0],
                                                cfg["nodes"].to_numpy(dtype=np.int64)]),
                               axis=0, return_index=True, return_inverse=True)
    pair_write = np.empty(first.size)
    pair_usd = np.zeros(first.size)
    records = cfg["record"].to_numpy()
    nodes_all = cfg["nodes"].to_numpy()
    for j, i in enumerate(first):  # the record of the pair's first row, as a per-row loop would keep
        rec, nodes = records[i], int(nodes_all[i])
        if rec is None:
            pair_write[j] = DEFAULT_CHECKPOINT_BW_BYTES_PER_S
        else:
            cap = max(CHECKPOINT_KEEP * ckpt, (rec.min_capacity_gib or 0) * GIB)
            pair_write[j], pair_usd[j] = rec.throughput_for(cap, nodes=nodes), float(rec.price_usd_per_gb_month)
    write, usd_gb_month = pair_write[pair.ravel()], pair_usd[pair.ravel()]
    # every node writes its shard over its own network link, so the nodes' links cap the rate
    node_cap = cfg["nodes"].to_numpy() * cfg["scale_out_bw_bytes_per_s"].to_numpy()
    cfg["ckpt_bw_bytes_per_s"] = np.minimum(write, node_cap)
    cfg["storage_usd_per_gb_month"] = usd_gb_month
    cfg = cfg.drop(columns=["record"])
    cfg["config_id"] = np.arange(len(cfg), dtype=np.int64)
    return cfg


# --------------------------------------------------------------------------- compute efficiency
#: bits per layout field in `efficiency_codes` (tp, micro-batch, ep, cp: each below 2**15; 62 bits in all)
_CODE_BITS = 15


def efficiency_codes(larr: dict) -> np.ndarray:
    """One int64 key per layout for what its compute efficiency depends on: ``(tp, micro-batch,
    ep, cp, recompute)`` (``aicost.hardware.shape_aware_efficiency``'s layout arguments)."""
    out = np.zeros(np.shape(larr["tp"]), dtype=np.int64)
    for k in ("tp", "mb", "ep", "cp"):
        v = np.asarray(larr.get(k, 1.0), dtype=np.int64)
        if np.any(v >= 1 << _CODE_BITS):
            raise ValueError(f"layout {k} values must be below {1 << _CODE_BITS}")
        out = (out << _CODE_BITS) | v
    return (out << 2) | np.asarray(larr["rc"], dtype=np.int64)


def efficiency_columns(ctx: TrainingContext, codes: np.ndarray) -> np.ndarray:
    """Columns of ``ctx.efficiency_table`` for layout ``codes`` (`efficiency_codes`)."""
    col = np.searchsorted(ctx.efficiency_codes, codes)
    col = np.minimum(col, ctx.efficiency_codes.size - 1)
    if not np.array_equal(ctx.efficiency_codes[col], codes):
        raise ValueError("a layout outside the efficiency table of this search (internal error: build "
                         "the TrainingContext with efficiency_table over these layouts)")
    return col


def layout_efficiency(c: dict, lay: dict, ctx: TrainingContext):
    """Compute efficiency of configurations ``c`` x layouts ``lay`` (broadcast): the shape-aware
    table entry (``ctx.efficiency_table``), else the configurations' ``efficiency``."""
    if ctx.efficiency_table is None or "erow" not in c:
        return c["efficiency"]
    col = lay["ecol"] if "ecol" in lay else np.searchsorted(ctx.efficiency_codes, lay["ecode"])
    return ctx.efficiency_table[c["erow"], col]


def efficiency_table(spec, effs: dict, rows: Sequence[str], lay, *, dtype: str, seq_len: int):
    """The shape-aware efficiency table of a search: ``(table, codes)``.

    ``table[i, j]`` is ``aicost.hardware.shape_aware_efficiency`` of accelerator ``rows[i]``
    (`AcceleratorEfficiency` in ``effs``; NaN for a row not in it) at the ``j``-th distinct layout
    key ``codes[j]`` (`efficiency_codes` of the layouts ``lay``, sorted): one vectorized call per
    accelerator over the distinct (tp, micro-batch, ep, cp, recompute), not one per candidate.
    """
    return _layout_table(shape_aware_efficiency, spec, effs, rows, lay, dtype=dtype, seq_len=seq_len)


def weight_grad_table(spec, effs: dict, rows: Sequence[str], lay, *, dtype: str, seq_len: int) -> np.ndarray:
    """``aicost.hardware.shape_aware_weight_grad_share`` indexed as `efficiency_table` (rows
    accelerators ``rows``, columns the sorted `efficiency_codes` of ``lay``): the ZB-H1 W pass's
    share of a layer's kernel time; NaN for an accelerator without a GEMM curve or not in ``effs``."""
    return _layout_table(shape_aware_weight_grad_share, spec, effs, rows, lay, dtype=dtype, seq_len=seq_len)[0]


def moe_sublayer_table(spec, effs: dict, rows: Sequence[str], lay, *, dtype: str, seq_len: int) -> np.ndarray:
    """``aicost.hardware.shape_aware_moe_sublayer_shares`` indexed as `efficiency_table` (rows
    accelerators ``rows``, columns the sorted `efficiency_codes` of ``lay``, last axis the attention
    and MoE MLP shares [-]): the pieces of the EP overlap's pairing; NaN for an accelerator without a
    GEMM curve or not in ``effs``."""
    return _layout_table(shape_aware_moe_sublayer_shares, spec, effs, rows, lay, dtype=dtype, seq_len=seq_len,
                         tail=(2,))[0]


def _layout_table(fn, spec, effs: dict, rows: Sequence[str], lay, *, dtype: str, seq_len: int, tail=()):
    """``fn(eff, spec, ...)`` of each accelerator in ``rows`` (NaN where not in ``effs``) at each
    distinct layout key of ``lay`` (the sorted `efficiency_codes`): ``(table, codes)``; ``tail``: the
    trailing shape of ``fn``'s values."""
    larr = _lay_arrays(lay, row=False)
    codes, first = np.unique(efficiency_codes(larr), return_index=True)
    table = np.full((len(rows), codes.size, *tail), np.nan)
    for i, a in enumerate(rows):
        if a in effs:
            table[i] = fn(effs[a], spec, dtype=dtype, seq_len=seq_len, tp=larr["tp"][first],
                          micro_batch=larr["mb"][first], ep=larr.get("ep", np.ones(lay.n))[first],
                          cp=larr.get("cp", np.ones(lay.n))[first], recompute_code=larr["rc"][first])
    return table, codes


# --------------------------------------------------------------------------- the kernel
def _cfg_arrays(cfg: pd.DataFrame, shape_col: bool) -> dict[str, np.ndarray]:
    cols = ["gpus_per_node", "nodes", "gpus", "peak_flops_per_s", "efficiency", "memory_bytes",
            "mem_bw_bytes_per_s", "comm_efficiency",
            "scale_up_bw_bytes_per_s", "scale_out_bw_bytes_per_s", "scale_up_latency_s",
            "scale_out_latency_s", "price_usd_per_hour", "ckpt_bw_bytes_per_s",
            "storage_usd_per_gb_month"]
    out = {c: cfg[c].to_numpy(dtype=float) for c in cols}
    # vCPUs per instance (NaN where the catalog has none: the CPU check then passes)
    out["vcpus"] = cfg["vcpus"].to_numpy(dtype=float) if "vcpus" in cfg else np.full(len(cfg), np.nan)
    # GPUs one scale-up fabric joins (the tp x ep limit); the node where the catalog has none
    out["scale_up_domain_gpus"] = (cfg["scale_up_domain_gpus"].to_numpy(dtype=float)
                                   if "scale_up_domain_gpus" in cfg else out["gpus_per_node"].copy())
    out["spot"] = (cfg["pricing"].to_numpy() == "spot").astype(float)
    if "efficiency_row" in cfg:  # row of TrainingContext.efficiency_table
        out["erow"] = cfg["efficiency_row"].to_numpy(dtype=np.int64)
    if shape_col:
        out = {k: v[:, None] for k, v in out.items()}
    return out


#: configuration arrays (`_cfg_arrays`) that only `training_tail` reads: what a configuration
#: pays (price, checkpoint storage), how it checkpoints and restarts (storage tier, spot) and
#: how fast its vCPUs tokenize. Every other column feeds the model's physics
#: (`training_physics`), so configurations equal in all of those (the same hardware in another
#: region, provider, pricing or storage tier, at another price) share one evaluation of it.
TAIL_COLUMNS = frozenset({"price_usd_per_hour", "ckpt_bw_bytes_per_s", "storage_usd_per_gb_month", "vcpus",
                          "spot"})


def training_kernel(c: dict, lay: dict, ctx: TrainingContext) -> dict[str, np.ndarray]:
    """Evaluate candidates: config arrays ``c`` broadcast against layout arrays ``lay``.

    ``training_tail(c, training_physics(c, lay, ctx), ctx)``: the model math is
    ``aicost.model.training_arrays`` (the same core ``aicost.model.estimate_training`` calls);
    this adds the planner's side: the global batch rounded to whole micro-batches per replica,
    checkpoint and restart times from the storage tier, spot preemptions, storage cost, and the
    reason code of every candidate.

    Returns a dict of arrays: ``code`` (0 feasible, else a key of REASONS), ``time_s``
    (expected wall time), ``cost_usd`` (expected, storage included), ``memory_bytes`` (per GPU)
    and everything ``training_arrays`` returns.
    """
    return training_tail(c, training_physics(c, lay, ctx), ctx)


def training_physics(c: dict, lay: dict, ctx: TrainingContext, checked: bool = False) -> dict[str, np.ndarray]:
    """The model's side of `training_kernel`: step time, memory and the checks up to memory.

    Reads no column of ``TAIL_COLUMNS``, so the search evaluates it once per distinct
    hardware (`hardware_groups`). ``code`` holds the structural and memory checks (0 = passed);
    the reliability, cost and the later checks are `training_tail`'s (the reliability numbers
    ``training_arrays`` returns here are for a failure-free, unpriced run and are replaced there).
    ``checked=True``: the candidates passed `structural_codes` already (the search), only the
    memory check is marked.
    """
    spec = ctx.spec
    tp, pp, mb, zero, rc = lay["tp"], lay["pp"], lay["mb"], lay["zero"], lay["rc"]
    ep, cp, v = lay.get("ep", 1.0), lay.get("cp", 1.0), lay.get("v", 1.0)
    sched = lay.get("sched", 0)  # pipeline schedule code (aicost.model.schedule_code)
    eff = layout_efficiency(c, lay, ctx)
    w_share = np.nan  # ZB-H1's W pass share of a layer's kernel time (NaN: its FLOP share)
    if ctx.weight_grad_table is not None and "erow" in c and np.any(np.asarray(sched) == 1):
        col = lay["ecol"] if "ecol" in lay else np.searchsorted(ctx.efficiency_codes, lay["ecode"])
        w_share = ctx.weight_grad_table[c["erow"], col]
    pieces = None  # the EP overlap's attention and MoE MLP pieces (None / NaN: their FLOP shares)
    if ctx.moe_sublayer_table is not None and "erow" in c and ctx.overlap_ep_comm:
        col = lay["ecol"] if "ecol" in lay else np.searchsorted(ctx.efficiency_codes, lay["ecode"])
        pieces = ctx.moe_sublayer_table[c["erow"], col]
    gpn, gpus = c["gpus_per_node"], c["gpus"]
    domain = c.get("scale_up_domain_gpus", gpn)
    mp = tp * pp * cp  # GPUs of one data-parallel replica
    dp = np.floor_divide(gpus, mp)
    dp1 = np.maximum(dp, 1.0)
    m = np.floor_divide(ctx.batch_seqs, dp1 * mb)  # micro-batches per replica per step
    global_batch = np.maximum(m, 1.0) * dp1 * mb  # the target batch rounded down to whole micro-batches
    r = training_arrays(
        spec, tokens=ctx.tokens, global_batch=global_batch, micro_batch=mb, seq_len=ctx.seq_len,
        tp=tp, pp=pp, dp=dp1, zero_stage=zero, recompute_code=rc, sequence_parallel=tp > 1,
        peak_flops_per_s=c["peak_flops_per_s"], efficiency=eff, gpus_per_node=gpn,
        scale_up_bw_bytes_per_s=c["scale_up_bw_bytes_per_s"], scale_up_latency_s=c["scale_up_latency_s"],
        scale_out_bw_bytes_per_s=c["scale_out_bw_bytes_per_s"] / gpn,
        scale_out_latency_s=c["scale_out_latency_s"], mem_bw_bytes_per_s=c["mem_bw_bytes_per_s"],
        gpu_memory_bytes=c["memory_bytes"], dtype_bytes=ctx.dtype_bytes, optim_bytes=ctx.optim_bytes,
        failures_per_gpu_hour=0.0, job_failures_per_hour=0.0,  # the tail's reliability replaces these
        comm_efficiency=c["comm_efficiency"], expert_parallel=ep, context_parallel=cp, virtual_stages=v,
        scale_up_domain_gpus=domain, overlap_tp_comm=ctx.overlap_tp_comm, overlap_ep_comm=ctx.overlap_ep_comm,
        fp8=ctx.dtype == "fp8", ep_dispatcher=ctx.ep_dispatcher, schedule_code=sched, weight_grad_time_share=w_share,
        moe_sublayer_time_shares=pieces)
    # the checks up to memory, last first so the earliest failing check wins
    shape = np.broadcast_shapes(np.shape(r["step_s"]), np.shape(tp), np.shape(gpus))
    code = np.where(np.broadcast_to(r["out_of_memory"], shape), np.int8(D.OUT_OF_MEMORY), np.int8(0))
    if not checked:
        struct = np.broadcast_to(structural_codes(c, lay, ctx), shape)
        code = np.where(struct != 0, struct, code).astype(np.int8)
    r.update(code=code, memory_bytes=r["mem_total"], dp=dp, n_micro_batches=m, global_batch=global_batch,
             # tokens/s per GPU the instance's vCPUs must tokenize at this step time
             preprocess_need_tokens_per_s=global_batch * ctx.seq_len / (r["step_s"] * dp1 * mp),
             comm_exposed_s=r["tp_comm_s"] + r["pp_comm_s"] + r["dp_exposed_s"], efficiency=eff)
    return r


def config_terms(c: dict, ctx: TrainingContext, n_gpus=None, n_nodes=None) -> dict[str, np.ndarray]:
    """The per-configuration numbers of `training_tail`: checkpoint and restart times [s],
    price per GPU-hour [USD/h], the vCPUs' tokenizing rate per GPU [tokens/s], and the
    work-independent reliability factors (``aicost.model.reliability_factors``) of a job on
    ``n_gpus`` GPUs on ``n_nodes`` nodes (default the configuration's own)."""
    gpn = c["gpus_per_node"]
    ckpt_s = _checkpoint_bytes(ctx.spec) / c["ckpt_bw_bytes_per_s"]
    restart = np.where(c["spot"] > 0, ctx.rel["spot_restart_s"], ctx.rel["restart_s"]) + ckpt_s
    fac = reliability_factors(c["gpus"] if n_gpus is None else n_gpus, c["nodes"] if n_nodes is None else n_nodes,
                              ckpt_s, restart, ctx.rel["failures_per_gpu_hour"],
                              c["spot"] * ctx.rel["preemptions_per_node_hour"], ctx.rel["job_failures_per_hour"])
    return {"ckpt_s": ckpt_s, "restart_s": restart, "price_usd_per_hour": c["price_usd_per_hour"],
            "price_gpu": c["price_usd_per_hour"] / gpn, "storage_usd_per_gb_month": c["storage_usd_per_gb_month"],
            "have": c["vcpus"] / gpn * ctx.preprocess_tokens_per_s_per_vcpu,
            "mtbf_s": fac["mtbf_s"], "interval_s": fac["interval_s"], "wall_factor": fac["wall_factor"]}


def _reliability(t: dict, work_s) -> dict:
    """``aicost.model.reliability_for_work`` with `config_terms`' factors."""
    return reliability_for_work(work_s, {"mtbf_s": t["mtbf_s"], "interval_s": t["interval_s"],
                                         "checkpoint_s": t["ckpt_s"], "wall_factor": t["wall_factor"]})


def tail_codes(t: dict, work_s, n_gpus, need, code, ctx: TrainingContext):
    """The configuration's checks on candidates that passed `training_physics`' (``code``):
    expected wall time (``aicost.model.reliability_for_work``), cost with checkpoint storage,
    and the codes of the CPU, goodput, deadline and budget checks (the price check last: it
    comes first). ``t`` is `config_terms`, lined up with the candidates.

    Returns ``(code, wall_s, cost_usd, reliability dict, expected compute cost, storage cost)``.
    """
    rel = _reliability(t, work_s)
    wall = rel["expected_wall_s"]
    exp_cost = wall * n_gpus / HOUR_S * t["price_gpu"]  # training_arrays' expected_cost_usd
    storage_usd = CHECKPOINT_KEEP * _checkpoint_bytes(ctx.spec) / 1e9 * t["storage_usd_per_gb_month"] * (wall / MONTH_S)
    cost = exp_cost + storage_usd
    shape = np.broadcast_shapes(np.shape(wall), np.shape(code), np.shape(t["price_gpu"]))
    out = np.zeros(shape, dtype=np.int8)

    def mark(mask, value):
        out[np.broadcast_to(mask, shape)] = value

    if ctx.budget_usd is not None:
        mark(cost > ctx.budget_usd, D.OVER_BUDGET)
    if ctx.deadline_s is not None:
        mark(wall > ctx.deadline_s, D.DEADLINE_MISSED)
    # a run that spends most of its time failing and restarting is not a plan, deadline or not
    mark(~np.isfinite(wall) | ~(rel["goodput"] >= MIN_GOODPUT), D.LOW_GOODPUT)
    # the instance's vCPUs must tokenize the tokens its GPUs consume at this step time
    mark(need > t["have"], D.CPU_PREPROCESS_TOO_SLOW)
    code = np.broadcast_to(code, shape)
    out = np.where(code != 0, code, out)
    price = t["price_usd_per_hour"]
    mark(~np.isfinite(price) | ~(price > 0), D.NOT_OFFERED)
    return out, wall, cost, rel, exp_cost, storage_usd


def training_tail(c: dict, r: dict, ctx: TrainingContext) -> dict[str, np.ndarray]:
    """The configuration's side of `training_kernel` on `training_physics`' output ``r``:
    reliability, cost and the remaining checks (`config_terms`, `tail_codes`). Returns ``r``
    completed (a new dict)."""
    t = config_terms(c, ctx, r["n_gpus"], r["n_nodes"])
    code, wall, cost, rel, exp_cost, storage_usd = tail_codes(
        t, r["work_s"], r["n_gpus"], r["preprocess_need_tokens_per_s"], r["code"], ctx)
    phys = ("code", "memory_bytes", "dp", "n_micro_batches", "global_batch", "preprocess_need_tokens_per_s",
            "comm_exposed_s", "efficiency")
    out = {k: v for k, v in r.items() if k not in phys}  # training_arrays' keys, in its order
    out.update(mtbf_s=rel["mtbf_s"], checkpoint_interval_s=rel["interval_s"], expected_wall_s=wall,
               goodput=rel["goodput"], expected_interruptions=rel["expected_interruptions"],
               lost_work_s=rel["lost_work_s"], checkpoint_overhead_s=rel["checkpoint_overhead_s"],
               expected_gpu_hours=wall * r["n_gpus"] / HOUR_S, expected_cost_usd=exp_cost)
    z = 0.0 * wall
    out.update(code=code, time_s=wall, cost_usd=cost, memory_bytes=r["memory_bytes"], dp=r["dp"],
               n_micro_batches=r["n_micro_batches"], global_batch=r["global_batch"], checkpoint_s=t["ckpt_s"] + z,
               restart_s=t["restart_s"] + z, storage_usd=storage_usd,
               tokens_per_step=r["global_batch"] * ctx.seq_len + z,
               preprocess_need_tokens_per_s=r["preprocess_need_tokens_per_s"] + z,
               preprocess_have_tokens_per_s=t["have"] + z, comm_exposed_s=r["comm_exposed_s"],
               efficiency=r["efficiency"] + z)
    return out


def _ep_invalid(ep, tp, dp, domain, cp=1.0):
    """Expert parallelism is carved out of the tp x dp x cp ranks (``ep`` must divide
    ``tp * dp * cp``) and its all-to-all stays inside one scale-up domain (``tp * ep <= domain``)."""
    return (np.remainder(tp * dp * cp, ep) != 0) | (tp * ep > domain)


def layout_codes(larr: dict, ctx: TrainingContext, domain=None) -> np.ndarray:
    """The checks a layout fails on its own (``TrainingDrop`` codes, 0 = passes): tp beyond the
    scale-up ``domain`` (when given), tp not dividing the heads, pp beyond the layers, an
    interleaved schedule (``v > 1``) without pp > 1 or whose ``pp * v`` does not divide the
    layers (Megatron-LM's rule). The earliest failing check wins. Arrays broadcast."""
    spec = ctx.spec
    tp, pp = larr["tp"], larr["pp"]
    v = larr.get("v", 1.0)
    code = np.zeros(np.broadcast_shapes(np.shape(tp), np.shape(pp), np.shape(domain)), dtype=np.int8)
    if np.any(np.asarray(v) > 1):
        pv = np.maximum(pp * v, 1.0)
        code[np.broadcast_to((v > 1) & ((pp <= 1) | (np.remainder(spec.n_layers, pv) != 0)),
                             code.shape)] = D.INTERLEAVE_INVALID
    code[np.broadcast_to(pp > spec.n_layers, code.shape)] = D.PP_EXCEEDS_LAYERS
    code[np.broadcast_to(np.remainder(spec.n_heads, tp) != 0, code.shape)] = D.TP_SPLITS_HEADS
    if domain is not None:
        code[np.broadcast_to(tp > domain, code.shape)] = D.TP_EXCEEDS_NODE
    return code


def structural_codes(c: dict, larr: dict, ctx: TrainingContext, layout: bool = True) -> np.ndarray:
    """Every structural check of a candidate (no model evaluation): config arrays ``c``
    (``gpus``, ``gpus_per_node``, ``scale_up_domain_gpus``) against layout arrays ``larr``
    (``tp, pp, mb`` and optionally ``ep, cp, v``), broadcast. ``TrainingDrop`` codes, 0 = passes;
    the earliest failing check wins.

    Checks: the layout's own (`layout_codes`, with ``layout=True``; tp within the scale-up
    domain), the GPUs splitting into ``tp x pp x cp`` groups, expert parallelism (`_ep_invalid`),
    the global batch holding ``dp`` micro-batches, and the interleaved schedule's micro-batch
    count (a multiple of pp). The planner's kernel, its search and `PlanCache` all use it.
    """
    tp, pp, mb = larr["tp"], larr["pp"], larr["mb"]
    ep, cp, v = larr.get("ep", 1.0), larr.get("cp", 1.0), larr.get("v", 1.0)
    gpus = c["gpus"]
    domain = c.get("scale_up_domain_gpus", c["gpus_per_node"])
    mp = tp * pp * cp
    dp = np.floor_divide(gpus, mp)
    shape = np.broadcast_shapes(np.shape(gpus), np.shape(tp))
    code = np.zeros(shape, dtype=np.int8)

    def mark(mask, value):
        code[np.broadcast_to(mask, shape)] = value

    if np.any(np.asarray(v) > 1):
        m = np.floor_divide(ctx.batch_seqs, np.maximum(dp * mb, 1.0))
        mark((v > 1) & (np.remainder(m, pp) != 0), D.INTERLEAVE_INVALID)
    mark(dp * mb > ctx.batch_seqs, D.BATCH_TOO_SMALL)
    if np.any(np.asarray(ep) > 1):
        mark(_ep_invalid(ep, tp, dp, domain, cp), D.EP_INVALID)
    mark(np.remainder(gpus, mp) != 0, D.GPUS_NOT_DIVISIBLE)
    if layout:
        lc = np.broadcast_to(layout_codes(larr, ctx, domain), shape)
        code = np.where(lc != 0, lc, code)
    return code


# --------------------------------------------------------------------------- the search
_RECOMPUTE_NAMES = ("none", "selective", "full")


def _has_schedules(lay) -> bool:
    """Whether layouts ``lay`` carry the pipeline-schedule axis with a ZB-H1 layout in it."""
    sched = getattr(lay, "sched", None)
    return sched is not None and bool(np.asarray(sched).any())


def _lay_arrays(lay, idx=None, row: bool = True) -> dict[str, np.ndarray]:
    names = {"tp": lay.tp, "pp": lay.pp, "mb": lay.mb, "zero": lay.zero, "rc": lay.rc, "ep": lay.ep,
             "cp": lay.cp, "v": lay.v}
    sched = getattr(lay, "sched", None)
    if sched is not None and sched.any():  # the schedule axis (absent: 1F1B, the default grids)
        names["sched"] = sched
    out = {}
    for k, v in names.items():
        a = v.astype(float) if idx is None else v[idx].astype(float)
        out[k] = a[None, :] if row else a
    out["rc"] = out["rc"].astype(np.int64)
    out["zero"] = out["zero"].astype(np.int64)
    out["ecode"] = efficiency_codes(out)
    return out


def reduce_layouts(red: dict, counts: np.ndarray, rows: np.ndarray, keep: np.ndarray,
                   code: np.ndarray, t: np.ndarray, cost: np.ndarray, mem: np.ndarray,
                   oom_fastest_s: np.ndarray | None = None) -> None:
    """Fold one block of evaluated candidates into the per-configuration reduction, in place.

    ``code``, ``t`` [s], ``cost`` [USD] and ``mem`` [B] are ``(len(rows), len(keep))`` arrays for
    configurations ``rows`` x layouts ``keep``. Each configuration keeps its layout that got
    furthest through the checks (fastest among those; least memory when all ran out of it), the
    fastest time that fits, the cheapest cost within the deadline, and its ok mask; ``counts``
    adds the candidates per drop reason. ``oom_fastest_s`` (per row [s], optional): the fastest
    time among layouts that do not fit in memory, when ``t`` leaves them at inf. The dense form
    of the rules `search_training` applies to the layouts that fit (`_fold_group`);
    tests/test_plan_search.py checks one against the other.
    """
    inf = np.inf
    counts += np.bincount(code.ravel(), minlength=OK + 1)[: OK + 1]
    stage = np.where(code == 0, OK, code).astype(np.int64)
    best_stage = stage.max(axis=1)
    at_best = stage == best_stage[:, None]
    key = np.where(best_stage[:, None] == D.OUT_OF_MEMORY, mem, t)
    key = np.where(at_best, key, inf)
    red["layout"][rows] = keep[np.argmin(key, axis=1)]
    red["stage"][rows] = best_stage
    red["fastest_fit_s"][rows] = np.where(stage >= D.DEADLINE_MISSED, t, inf).min(axis=1)
    red["cheapest_in_deadline_usd"][rows] = np.where(stage >= D.OVER_BUDGET, cost, inf).min(axis=1)
    red["min_memory_bytes"][rows] = np.where(stage >= D.OUT_OF_MEMORY, mem, inf).min(axis=1)
    fastest = np.where(stage >= D.OUT_OF_MEMORY, t, inf).min(axis=1)
    red["fastest_any_memory_s"][rows] = fastest if oom_fastest_s is None else np.minimum(fastest, oom_fastest_s)
    red["ok"][np.ix_(rows, keep)] = stage == OK


def hardware_groups(carr: dict) -> tuple[np.ndarray, np.ndarray]:
    """Configurations `training_physics` cannot tell apart: equal in every column of ``carr``
    but ``TAIL_COLUMNS`` (compared bit for bit). Returns the group of each configuration and
    the first configuration of each group."""
    keys = sorted(k for k in carr if k not in TAIL_COLUMNS)
    n = np.size(carr[keys[0]])
    mat = np.ascontiguousarray(np.column_stack([np.asarray(carr[k], dtype=float).reshape(n) for k in keys]))
    rows = mat.view(np.dtype((np.void, mat.dtype.itemsize * mat.shape[1]))).reshape(n)
    _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
    return inverse.reshape(n), first


@dataclass
class PhysicsGroup:
    """`training_physics` of the configurations of one scale-up domain size, once per distinct
    hardware (`hardware_groups`) and layout: what `search_training` needs of it, independent of
    the token count, the deadline, the budget and the prices (so `PlanCache` keeps it).

    ``sel`` are the configuration rows, ``loc`` each one's hardware row, ``keep`` the layouts
    that pass `layout_codes` (``lcode``); ``code`` and ``mem`` are ``(hardware, keep)`` grids
    (physics codes, memory per GPU [B]); ``fit_*`` list the candidates that fit in memory and
    ``oom_*`` those that do not (hardware row, position in ``keep``, step time [s], tokens per
    step), row-major.
    """

    sel: np.ndarray
    loc: np.ndarray
    keep: np.ndarray
    lcode: np.ndarray
    code: np.ndarray
    mem: np.ndarray
    fit_h: np.ndarray
    fit_l: np.ndarray
    fit_step: np.ndarray
    fit_tps: np.ndarray
    fit_need: np.ndarray
    oom_h: np.ndarray
    oom_l: np.ndarray
    oom_step: np.ndarray
    oom_tps: np.ndarray
    valid: np.ndarray  # per hardware row: layouts that pass the structural checks
    n_physics: int = 0

    def __post_init__(self):
        n_h = self.code.shape[0]
        self.fit_n = np.bincount(self.fit_h, minlength=n_h)
        self.fit_start = np.cumsum(self.fit_n) - self.fit_n
        k = OK + 1
        self.hcounts = np.bincount((np.arange(n_h)[:, None] * k + self.code).ravel(),
                                   minlength=n_h * k).reshape(n_h, k)
        self.hcounts[:, 0] = 0
        # a configuration none of whose layouts fits: the layout that got furthest (least memory
        # among those that ran out of it; else the first: reduce_layouts' tie-breaking)
        self.fb_stage = self.code.max(axis=1, initial=0).astype(np.int64)
        oom = self.code == D.OUT_OF_MEMORY
        first_oom = np.argmin(np.where(oom, self.mem, np.inf), axis=1) if self.code.shape[1] else 0
        self.fb_layout = np.where(self.fb_stage == D.OUT_OF_MEMORY, first_oom, 0)
        self.min_mem = np.where((self.code == 0) | oom, self.mem, np.inf).min(axis=1, initial=np.inf)

    def arrays(self) -> list[np.ndarray]:
        """Its arrays (some shared with the group it is a `subset` of)."""
        return [v for v in vars(self).values() if isinstance(v, np.ndarray)]

    @property
    def nbytes(self) -> int:
        """Bytes of its arrays."""
        return int(sum(v.nbytes for v in self.arrays()))

    def subset(self, sel: np.ndarray, loc: np.ndarray, cols: np.ndarray | None = None) -> PhysicsGroup:
        """The same physics for other configuration rows ``sel`` (hardware rows ``loc``) and,
        with ``cols``, other layouts: ``cols[j]`` is the layout (index into the layouts this
        group was built over) of layout ``j`` of the new search. `PlanCache` answers a filtered
        request with it."""
        if cols is None:
            return dataclasses.replace(self, sel=sel, loc=loc)
        lcode = self.lcode[cols]
        keep = np.flatnonzero(lcode == 0)
        inv = np.full(self.lcode.size, -1)
        inv[self.keep] = np.arange(self.keep.size)
        pos = inv[cols[keep]]  # layout codes agree, so every kept layout was kept here
        newpos = np.full(self.keep.size, -1)
        newpos[pos] = np.arange(pos.size)
        code, mem = self.code[:, pos], self.mem[:, pos]

        def pick(h, l_old):
            l_new = newpos[l_old]
            m = np.flatnonzero(l_new >= 0)
            order = m[np.lexsort((l_new[m], h[m]))]  # row-major, as np.nonzero gives them
            return order, l_new[order]

        fo, fl = pick(self.fit_h, self.fit_l)
        oo, ol = pick(self.oom_h, self.oom_l)
        return dataclasses.replace(
            self, sel=sel, loc=loc, keep=keep, lcode=lcode, code=code, mem=mem, fit_h=self.fit_h[fo], fit_l=fl,
            fit_step=self.fit_step[fo], fit_tps=self.fit_tps[fo], fit_need=self.fit_need[fo],
            oom_h=self.oom_h[oo], oom_l=ol, oom_step=self.oom_step[oo], oom_tps=self.oom_tps[oo],
            valid=((code == 0) | (code == D.OUT_OF_MEMORY)).sum(axis=1), n_physics=0)


def evaluate_candidates(carr: dict, larr: dict, ci: np.ndarray, li: np.ndarray, ctx: TrainingContext):
    """`training_kernel`'s ``code``, ``time_s`` and ``cost_usd`` of the structurally valid
    candidates ``(ci, li)`` (configuration rows of ``carr``, layout positions of ``larr``, 1-D
    arrays), the physics once per distinct hardware and layout (`hardware_groups`)."""
    hw_of, first = hardware_groups(carr)
    n_lay = np.size(larr["tp"])
    pair, inv = np.unique(hw_of[ci].astype(np.int64) * n_lay + li, return_inverse=True)
    h, j = np.divmod(pair, n_lay)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = training_physics({k: v.take(first[h]) for k, v in carr.items()},
                             {k: v.take(j) for k, v in larr.items()}, ctx, checked=True)
        terms = config_terms({k: v.take(ci) for k, v in carr.items()}, ctx)
        code, wall, cost, *_ = tail_codes(terms, r["work_s"][inv], carr["gpus"].take(ci),
                                          r["preprocess_need_tokens_per_s"][inv], r["code"][inv], ctx)
    return {"code": code, "time_s": wall, "cost_usd": cost}


def search_physics(carr: dict, lay, ctx: TrainingContext) -> list[PhysicsGroup]:
    """`physics_groups` of configurations ``carr`` (`_cfg_arrays`) x layouts ``lay``: the
    priced configurations, the layouts' efficiency-table columns."""
    larr_all = _lay_arrays(lay, row=False)
    if ctx.efficiency_table is not None:  # the efficiency table's column of each layout, once
        larr_all["ecol"] = efficiency_columns(ctx, larr_all["ecode"])
    price = carr["price_usd_per_hour"]
    return physics_groups(carr, larr_all, ctx, np.isfinite(price) & (price > 0))


def physics_groups(carr: dict, larr_all: dict, ctx: TrainingContext, priced: np.ndarray) -> list[PhysicsGroup]:
    """The physics of a search: one `PhysicsGroup` per scale-up domain size of the priced
    configurations (the layout-only checks depend on it)."""
    hw_of, hw_first = hardware_groups(carr)
    dom_all = carr["scale_up_domain_gpus"]
    groups = []
    for dom in np.unique(dom_all[priced]):
        sel = np.flatnonzero(priced & (dom_all == dom))
        lcode = layout_codes(larr_all, ctx, dom)
        keep = np.flatnonzero(lcode == 0)
        hws, loc = np.unique(hw_of[sel], return_inverse=True)
        rows = hw_first[hws]
        c = {k: v[rows][:, None] for k, v in carr.items()}
        larr = {k: v[keep] for k, v in larr_all.items()}
        code = structural_codes(c, {k: v[None, :] for k, v in larr.items()}, ctx, layout=False)
        valid = (code == 0).sum(axis=1)
        ci, li = np.nonzero(code == 0)
        mem = np.full(code.shape, np.inf)
        step = np.full(ci.size, np.nan)
        tps = np.full(ci.size, np.nan)
        need = np.full(ci.size, np.nan)
        pcode = np.zeros(ci.size, dtype=np.int8)
        for lo in range(0, ci.size, _CHUNK_CANDIDATES):
            s = slice(lo, lo + _CHUNK_CANDIDATES)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                out = training_physics({k: v[:, 0].take(ci[s]) for k, v in c.items()},
                                       {k: v.take(li[s]) for k, v in larr.items()}, ctx, checked=True)
            pcode[s] = out["code"]
            mem[ci[s], li[s]] = out["memory_bytes"]
            step[s] = out["step_s"]
            tps[s] = out["global_batch"] * float(ctx.seq_len)  # training_arrays' tokens per step
            need[s] = out["preprocess_need_tokens_per_s"]
        code[ci, li] = pcode
        fit = pcode == 0
        oom = pcode == D.OUT_OF_MEMORY
        groups.append(PhysicsGroup(
            sel=sel, loc=loc, keep=keep, lcode=lcode, code=code, mem=mem,
            fit_h=ci[fit], fit_l=li[fit], fit_step=step[fit], fit_tps=tps[fit], fit_need=need[fit],
            oom_h=ci[oom], oom_l=li[oom], oom_step=step[oom], oom_tps=tps[oom], valid=valid, n_physics=int(ci.size)))
    return groups


def _work(tokens: float, step, tps):
    """Failure-free work [s]: ``training_arrays``' ``ceil(tokens / tokens per step) x step``."""
    return np.ceil(np.asarray(tokens, dtype=float) / tps) * step


def _fold_group(g: PhysicsGroup, carr: dict, terms: dict, ctx: TrainingContext, red: dict,
                counts: np.ndarray, det: list | None, memo: dict | None = None) -> None:
    """The configurations' side of one `PhysicsGroup`: `tail_codes` on the candidates that fit
    in memory, and the per-configuration reduction (`reduce_layouts`' rules, on those only:
    every other layout's stage and memory are the hardware's, and its time counts only as the
    fastest time ignoring memory, the least work's wall time).

    ``memo`` (a dict, `PlanCache`'s, one per group, configurations and token count) keeps what
    does not depend on the deadline and the budget (the tail before those two checks), so a
    change of either re-marks and reduces only."""
    inf = np.inf
    sel, loc, keep = g.sel, g.loc, g.keep
    n_h = g.code.shape[0]
    counts += (g.hcounts * np.bincount(loc, minlength=n_h)[:, None]).sum(axis=0)
    red["min_memory_bytes"][sel] = g.min_mem[loc]
    none = g.fit_n[loc] == 0
    red["stage"][sel[none]] = g.fb_stage[loc[none]]
    red["layout"][sel[none]] = keep[g.fb_layout[loc[none]]] if keep.size else 0
    memo = {} if memo is None else memo
    if "chunks" not in memo:
        memo.update(_fold_tail(g, carr, terms, dataclasses.replace(ctx, deadline_s=None, budget_usd=None)))
    red["fastest_any_memory_s"][sel] = memo["oom_fastest"]
    for p0, p1, rows_c, lpos, base, wall, cst in memo["chunks"]:
        tc = base
        if ctx.deadline_s is not None or ctx.budget_usd is not None:  # tail_codes' two last checks
            tc = base.copy()
            free = base == 0
            if ctx.budget_usd is not None:
                tc[free & (cst > ctx.budget_usd)] = D.OVER_BUDGET
            if ctx.deadline_s is not None:
                tc[free & (wall > ctx.deadline_s)] = D.DEADLINE_MISSED
        t = np.nan_to_num(wall, nan=inf)
        cost = np.nan_to_num(cst, nan=inf)
        counts += np.bincount(tc, minlength=OK + 1)[: OK + 1]
        stage = np.where(tc == 0, OK, tc).astype(np.int64)
        n_c = g.fit_n[loc[p0:p1]]
        has = n_c > 0
        seglen = n_c[has]
        starts = np.cumsum(seglen) - seglen
        rws = sel[p0:p1][has]
        best = np.maximum.reduceat(stage, starts)
        key = np.where(stage == np.repeat(best, seglen), t, inf)
        kmin = np.minimum.reduceat(key, starts)
        first = np.flatnonzero(key == np.repeat(kmin, seglen))
        seg = np.repeat(np.arange(seglen.size), seglen)[first]
        first = first[np.r_[True, seg[1:] != seg[:-1]]]
        # reduce_layouts' argmin: the first fastest at the best stage; all inf -> the first layout
        red["layout"][rws] = np.where(np.isinf(kmin), keep[0], keep[lpos[first]])
        red["stage"][rws] = best
        red["fastest_fit_s"][rws] = np.minimum.reduceat(np.where(stage >= D.DEADLINE_MISSED, t, inf), starts)
        red["cheapest_in_deadline_usd"][rws] = np.minimum.reduceat(
            np.where(stage >= D.OVER_BUDGET, cost, inf), starts)
        red["fastest_any_memory_s"][rws] = np.minimum(red["fastest_any_memory_s"][rws],
                                                      np.minimum.reduceat(t, starts))
        ok = tc == 0
        red["ok"][rows_c[ok], keep[lpos[ok]]] = True
    if det is not None:
        _detail_rows(g, carr, terms, ctx, det)


def _fold_tail(g: PhysicsGroup, carr: dict, terms: dict, ctx: TrainingContext) -> dict:
    """`_fold_group`'s part that does not depend on the deadline and the budget (``ctx`` has
    neither): per configuration the fastest layout that does not fit, and in chunks of
    configurations the fitting candidates' rows, layouts, codes, wall times and costs."""
    inf = np.inf
    sel, loc = g.sel, g.loc
    # the fastest layout that does not fit: the wall time of the least work (it grows with it)
    w = _work(ctx.tokens, g.oom_step, g.oom_tps)
    w = np.where(np.isnan(w), inf, w)
    oom_work = np.full(g.code.shape[0], inf)
    np.minimum.at(oom_work, g.oom_h, w)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        wall = _reliability({k: v[sel] for k, v in terms.items()}, oom_work[loc])["expected_wall_s"]
    out = {"oom_fastest": np.nan_to_num(wall, nan=inf), "chunks": []}
    # the candidates that fit, configuration by configuration (in chunks of configurations)
    nfit = g.fit_n[loc]
    ends = np.cumsum(nfit)
    p0 = 0
    while p0 < sel.size:
        p1 = max(p0 + 1, int(np.searchsorted(ends, ends[p0] - nfit[p0] + _CHUNK_CANDIDATES, side="right")))
        n_c = nfit[p0:p1]
        tot = int(n_c.sum())
        if tot:
            cpos = np.repeat(np.arange(p0, p1), n_c)
            fi = np.repeat(g.fit_start[loc[p0:p1]] - (np.cumsum(n_c) - n_c), n_c) + np.arange(tot)
            rows_c = sel[cpos]
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                tc, wall, cst, *_ = tail_codes({k: v.take(rows_c) for k, v in terms.items()},
                                               _work(ctx.tokens, g.fit_step[fi], g.fit_tps[fi]),
                                               carr["gpus"].take(rows_c), g.fit_need[fi], np.int8(0), ctx)
            out["chunks"].append((p0, p1, rows_c.astype(np.int32), g.fit_l[fi].astype(np.int32), tc, wall, cst))
        p0 = p1
    return out


def _detail_rows(g: PhysicsGroup, carr: dict, terms: dict, ctx: TrainingContext, det: list) -> None:
    """``detail=True``: every candidate of the group with its code, time, cost and memory (the
    tail evaluated on the layouts that do not fit too)."""
    inf = np.inf
    keep = g.keep
    n_h, n_k = g.code.shape
    steps = np.full((n_h, n_k), np.nan)
    tps = np.full((n_h, n_k), np.nan)
    need = np.full((n_h, n_k), np.nan)
    fit_l = g.fit_l
    steps[g.fit_h, fit_l], tps[g.fit_h, fit_l], need[g.fit_h, fit_l] = g.fit_step, g.fit_tps, g.fit_need
    steps[g.oom_h, g.oom_l], tps[g.oom_h, g.oom_l] = g.oom_step, g.oom_tps
    rows = max(1, _CHUNK_CANDIDATES // max(n_k, 1))
    for lo in range(0, g.sel.size, rows):
        idx, hl = g.sel[lo:lo + rows], g.loc[lo:lo + rows]
        code = g.code[hl]
        t = np.full(code.shape, inf)
        cost = np.full(code.shape, inf)
        ci, li = np.nonzero((code == 0) | (code == D.OUT_OF_MEMORY))
        if ci.size:
            r, h = idx[ci], hl[ci]
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                tc, wall, cst, *_ = tail_codes({k: v.take(r) for k, v in terms.items()},
                                               _work(ctx.tokens, steps[h, li], tps[h, li]), carr["gpus"].take(r),
                                               need[h, li], code[ci, li], ctx)
            code[ci, li] = tc
            t[ci, li] = np.nan_to_num(wall, nan=inf)
            cost[ci, li] = np.nan_to_num(cst, nan=inf)
        det.append(pd.DataFrame({
            "config_id": np.repeat(idx, keep.size), "layout": np.tile(keep, idx.size),
            "code": code.ravel(), "time_s": t.ravel(), "cost_usd": cost.ravel(),
            "memory_bytes": g.mem[hl].ravel()}))


def search_training(cfg: pd.DataFrame, lay, ctx: TrainingContext, detail: bool = False,
                    physics: list[PhysicsGroup] | None = None, memo: list[dict] | None = None):
    """Evaluate every configuration against every layout.

    In three steps, none a Python loop per candidate:

    1. the structural checks (`layout_codes` per scale-up domain size, `structural_codes` on
       the rest) on the grid of distinct hardware (`hardware_groups`: configurations that differ
       only in provider, region, pricing, storage tier, price or vCPUs share the model's
       physics) x layouts;
    2. the model's physics (`training_physics`: step time, memory) once per distinct hardware
       and structurally valid layout (`physics_groups`; ``physics`` passes them in, as
       `PlanCache` does: they do not depend on the tokens, the limits or the prices; ``memo``,
       one dict per group, keeps what the tail computes before the deadline and budget checks
       for these configurations and this token count);
    3. per configuration, `tail_codes` (reliability, cost, the CPU/goodput/deadline/budget
       checks) on the layouts that fit in memory only, and the reduction (`_fold_group`).

    Every candidate keeps the numbers and the reason a full `training_kernel` evaluation gives
    it (tests/test_plan_training.py checks the search against the kernel on every candidate).

    Returns
    -------
    reduced : dict of arrays (one entry per configuration)
        ``layout`` (index of the chosen layout: the fastest feasible one, else the one that got
        furthest), ``stage``, ``fastest_fit_s`` (fastest layout that fits in memory, ignoring the
        deadline and budget), ``cheapest_in_deadline_usd``, ``min_memory_bytes`` (smallest memory
        per GPU of a structurally valid layout), ``fastest_any_memory_s`` (fastest ignoring
        memory), ``ok`` (the ``(n_configs, n_layouts)`` mask of feasible candidates),
        ``n_modeled`` (candidates that passed the structural checks: they have the model's
        numbers) and ``n_physics`` (distinct hardware x layout evaluations of the model).
    reason_counts : pandas.Series
        Dropped candidates per reason, layouts included.
    n_evaluated : int
    details : pandas.DataFrame or None
        With ``detail=True``, one row per candidate (config_id, layout, tp, pp, micro_batch,
        zero_stage, recompute, code, reason, time_s, cost_usd, memory_bytes).
    """
    n_cfg, n_lay = len(cfg), lay.n
    carr = _cfg_arrays(cfg, shape_col=False)
    red = {k: np.full(n_cfg, np.inf) for k in ("fastest_fit_s", "cheapest_in_deadline_usd",
                                                "min_memory_bytes", "fastest_any_memory_s")}
    red["layout"] = np.zeros(n_cfg, dtype=np.int64)
    red["stage"] = np.ones(n_cfg, dtype=np.int64)
    red["ok"] = np.zeros((n_cfg, n_lay), dtype=bool)
    counts = np.zeros(OK + 1, dtype=np.int64)
    det = [] if detail else None

    # configurations without a price at their pricing: every layout is "not offered"
    price = carr["price_usd_per_hour"]
    priced = np.isfinite(price) & (price > 0)
    counts[D.NOT_OFFERED] += int((~priced).sum()) * n_lay
    if physics is None:
        physics = search_physics(carr, lay, ctx)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        terms = config_terms(carr, ctx)
    n_modeled = n_physics = 0
    for i, g in enumerate(physics):
        lcode = g.lcode
        counts += np.bincount(lcode[lcode != 0], minlength=OK + 1)[: OK + 1] * g.sel.size
        if g.keep.size == 0:
            red["stage"][g.sel] = int(lcode.max())
            red["layout"][g.sel] = int(np.argmax(lcode))
            continue
        n_physics += g.n_physics
        n_modeled += int(g.valid[g.loc].sum())
        _fold_group(g, carr, terms, ctx, red, counts, det, None if memo is None else memo[i])
    red["n_modeled"] = n_modeled
    red["n_physics"] = n_physics
    reason_counts = pd.Series({REASONS[i]: int(counts[i]) for i in sorted(REASONS) if counts[i] > 0},
                              dtype=np.int64)
    details = None
    if detail and det:
        details = pd.concat(det, ignore_index=True).sort_values(["config_id", "layout"], kind="stable")
        li_all = details["layout"].to_numpy()
        details["tp"] = lay.tp[li_all]
        details["pp"] = lay.pp[li_all]
        details["ep"] = lay.ep[li_all]
        details["cp"] = lay.cp[li_all]
        details["virtual_stages"] = lay.v[li_all]
        if _has_schedules(lay):
            details["schedule"] = np.array(TRAINING_SCHEDULES, dtype=object)[lay.sched[li_all]]
        details["micro_batch"] = lay.mb[li_all]
        details["zero_stage"] = lay.zero[li_all]
        details["recompute"] = np.array(_RECOMPUTE_NAMES, dtype=object)[lay.rc[li_all]]
        details["reason"] = details["code"].map(lambda x: REASONS.get(int(x), ""))
        details = details.reset_index(drop=True)
    return red, reason_counts, n_cfg * n_lay, details


def training_frame(cfg: pd.DataFrame, red: dict, lay, ctx: TrainingContext, details=None) -> pd.DataFrame:
    """One row per configuration with its chosen layout fully evaluated (1-D kernel call)."""
    idx = red["layout"]
    carr = _cfg_arrays(cfg, shape_col=False)
    larr = _lay_arrays(lay, idx, row=False)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = training_kernel(carr, larr, ctx)
    # the columns are gathered first and joined in one step (a pandas insert per column costs
    # ~1 ms, most of a one-row frame's time); same columns, order and dtypes as inserting them
    base = cfg.drop(columns=["efficiency_source"])
    cols: dict = {"efficiency_source": cfg["efficiency_source"].to_numpy(), "tp": lay.tp[idx], "pp": lay.pp[idx],
                  "dp": out["dp"].astype(np.int64), "ep": lay.ep[idx], "cp": lay.cp[idx],
                  "virtual_stages": lay.v[idx], "micro_batch": lay.mb[idx], "zero_stage": lay.zero[idx],
                  "recompute": np.array(_RECOMPUTE_NAMES, dtype=object)[lay.rc[idx]],
                  "n_micro_batches": out["n_micro_batches"].astype(np.int64),
                  "memory_per_gpu_gib": out["memory_bytes"] / GIB}
    if _has_schedules(lay):  # searched with schedules=(..., "zb-h1"): the schedule of each row
        cols["schedule"] = np.array(TRAINING_SCHEDULES, dtype=object)[lay.sched[idx]]
    for k in ("weights", "gradients", "optimizer", "activations"):
        cols[f"memory_{k}_gib"] = out[f"mem_{k}"] / GIB
    replaced: dict = {}
    n = len(cfg)
    for k, v in out.items():
        if k in ("code", "memory_bytes", "dp", "n_micro_batches", "feasible") or k.startswith("mem_") \
                or np.asarray(v).dtype == bool:
            continue
        (replaced if k in base.columns else cols)[k] = np.broadcast_to(v, (n,)).astype(float)
    eff = replaced.get("efficiency", cols.get("efficiency", base["efficiency"].to_numpy() if "efficiency" in base else None))
    src = cols["efficiency_source"]
    shaped = pd.Series(src, dtype=object).astype(str).str.startswith("shape-aware").to_numpy()
    if shaped.any():  # the number this configuration's layout runs at
        src = src.copy()
        src[shaped] = [f"{s}: {e:.2f} at this layout" for s, e in zip(src[shaped], eff[shaped])]
        cols["efficiency_source"] = src
    code = out["code"].astype(np.int64)
    # a configuration whose chosen layout is feasible must be; keep the reduction's stage
    cols["feasible"] = code == 0
    reason = np.array([REASONS.get(int(x), "") for x in code], dtype=object)
    slow = code == D.CPU_PREPROCESS_TOO_SLOW
    if slow.any():
        reason[slow] = [preprocess_reason(a, b) for a, b in zip(cols["preprocess_need_tokens_per_s"][slow],
                                                                cols["preprocess_have_tokens_per_s"][slow])]
    cols["reason"] = list(reason)
    cols["stage"] = red["stage"]
    for k in ("fastest_fit_s", "cheapest_in_deadline_usd", "min_memory_bytes", "fastest_any_memory_s"):
        cols[k] = red[k]
    cols["work_gpu_hours"] = cols["gpu_hours"]
    cols["gpu_hours"] = cols["time_s"] * cfg["gpus"].to_numpy() / HOUR_S
    if replaced:
        base = base.assign(**replaced)
    df = pd.concat([base, pd.DataFrame(cols, index=base.index)], axis=1)
    df["bottleneck"] = _bottleneck(df)
    df["memory_bound"] = df["fastest_any_memory_s"] < 0.95 * df["fastest_fit_s"]
    df.loc[df["memory_bound"] & df["feasible"], "bottleneck"] = "memory"
    return df


def preprocess_reason(need: float, have: float) -> str:
    """The CPU preprocessing drop in numbers (per GPU, tokens/s)."""
    return f"{D.CPU_PREPROCESS_TOO_SLOW.text}{REASON_DETAIL_SEP}{need:,.0f} tokens/s per GPU, have {have:,.0f}"


def _bottleneck(df: pd.DataFrame) -> np.ndarray:
    """The largest share of the expected wall time: compute, communication, bubble, storage
    (checkpoint writes) or reliability (lost work and restarts)."""
    steps = df["steps"].to_numpy()
    parts = np.stack([
        df["compute_s"].to_numpy() * steps,
        df["comm_exposed_s"].to_numpy() * steps,
        df["bubble_s"].to_numpy() * steps,
        df["checkpoint_overhead_s"].to_numpy(),
        df["lost_work_s"].to_numpy(),
    ])
    names = np.array(["compute", "communication", "bubble", "storage", "reliability"], dtype=object)
    parts = np.nan_to_num(parts, nan=-1.0, posinf=-1.0)
    return names[np.argmax(parts, axis=0)]


def evaluate_one(cfg_row: pd.Series, row: pd.Series, ctx: TrainingContext) -> dict:
    """Re-evaluate one configuration with one layout (scalar path through the same kernel)."""
    carr = _cfg_arrays(cfg_row.to_frame().T.infer_objects(), shape_col=False)
    larr = {"tp": np.array([float(row["tp"])]), "pp": np.array([float(row["pp"])]),
            "mb": np.array([float(row["micro_batch"])]), "zero": np.array([int(row["zero_stage"])]),
            "rc": np.array([_RECOMPUTE_NAMES.index(row["recompute"])]),
            "ep": np.array([float(row.get("ep", 1))]), "cp": np.array([float(row.get("cp", 1))]),
            "v": np.array([float(row.get("virtual_stages", 1))]),
            "sched": np.array([float(schedule_code(row.get("schedule", "1f1b")))])}
    larr["ecode"] = efficiency_codes(larr)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = training_kernel(carr, larr, ctx)
    code = int(out["code"][0])
    return {"time_s": float(out["time_s"][0]), "cost_usd": float(out["cost_usd"][0]),
            "feasible": code == 0, "reason": REASONS.get(code, "")}


# --------------------------------------------------------------------------- words
def training_headline(row) -> str:
    """The configuration in words."""
    where = f"{row['provider']} {row['instance_type']}"
    ep = f" ep={int(row['ep'])}" if int(row.get("ep", 1)) > 1 else ""
    ep += f" cp={int(row['cp'])}" if int(row.get("cp", 1)) > 1 else ""
    ep += f", interleaved x{int(row['virtual_stages'])}" if int(row.get("virtual_stages", 1)) > 1 else ""
    ep += ", ZB-H1 schedule" if row.get("schedule", "1f1b") == "zb-h1" else ""
    region = row.get("region", "")
    if region:
        where += f", {region}"
    return (f"{int(row['gpus'])} x {row['accelerator']} ({int(row['nodes'])} x {where}, "
            f"{str(row['pricing']).replace('_', '-')}), tp={int(row['tp'])} pp={int(row['pp'])} "
            f"dp={int(row['dp'])}{ep}, micro-batch {int(row['micro_batch'])}, ZeRO-{int(row['zero_stage'])}, "
            f"recompute {row['recompute']}")


def training_overlap_text(zero_stages=(1,), ep: bool = False, cp: bool = False, tp_overlap: bool = False,
                          ep_overlap: bool = False, ep_dispatcher: str = "alltoall") -> str:
    """The overlap assumptions of the planner's kernel call, in the words of
    ``aicost.model.estimate_training``'s ``sources["overlap"]``: bucketed DP reduction on (always),
    TP collectives exposed or overlapped with the GEMMs (``tp_overlap``), EP all-to-all exposed or
    under another micro-batch's compute (``ep_overlap``, with ``ep``), CP ring under the attention
    kernel (with ``cp``); with ``ep`` also how the dispatch moves tokens (``ep_dispatcher``)."""
    text = "bucketed DP gradient reduction overlaps the last backward"
    if any(int(z) >= 1 for z in zero_stages):
        text += ", parameter all-gather the next forward (ZeRO >= 1)"
    text += ("; TP collectives overlapped with GEMMs (overlap_tp_comm: "
             f"{TP_OVERLAP_EXPOSED_SHARE:.0%} or what exceeds the compute stays exposed)" if tp_overlap
             else "; TP collectives exposed (overlap_tp_comm=False)")
    if ep:
        text += ("; EP all-to-all overlapped with another micro-batch's compute (overlap_ep_comm), "
                 + EP_OVERLAP_PAIRING + " (pieces from the layer kernel-time model, FLOP shares for an "
                 "efficiency given by hand; DualPipe's second parameter copy not charged)" if ep_overlap
                 else "; EP all-to-all exposed (no DualPipe-style overlap; overlap_ep_comm=False)")
        text += ("; EP dispatch one copy per destination node with NVLink forwarding (ep_dispatcher='deepep': "
                 "DeepEP / Megatron-Core flex dispatcher; node-limited routing caps the nodes)"
                 if ep_dispatcher == "deepep" else
                 "; EP dispatch one copy per routed expert (ep_dispatcher='alltoall')")
    if cp:
        text += "; CP ring traffic under the attention kernel"
    return text


def training_assumptions(ctx: TrainingContext, batch_seqs: int, lay=None) -> tuple[str, ...]:
    """The plan's assumptions; ``lay`` (the layouts searched) says whether context parallelism
    and the interleaved schedule were among them."""
    rel = ctx.rel
    moe = bool(getattr(ctx.spec, "is_moe", False))
    cp = lay is not None and bool((np.asarray(lay.cp) > 1).any())
    interleaved = lay is not None and bool((np.asarray(lay.v) > 1).any())
    zero_bubble = lay is not None and _has_schedules(lay)
    return (
        f"global batch {batch_seqs} sequences of {ctx.seq_len} tokens; {ctx.dtype} compute, AdamW with "
        f"{ctx.dtype_bytes:g} + {ctx.dtype_bytes:g} + {ctx.optim_bytes:g} bytes per parameter (weights, "
        "gradients, optimizer state), sharded by the ZeRO stage",
        "activations after Korthikanti et al. 2022 with sequence parallelism whenever tp > 1; "
        "1F1B pipeline schedule, bubble (pp-1)/m"
        + ("; interleaved 1F1B with v virtual stages searched (Narayanan et al. 2021: bubble "
           "(pp-1)/(v m), v times the stage sends, pp x v dividing the layers, micro-batches a "
           "multiple of pp)" if interleaved else "")
        + ("; " + ZERO_BUBBLE_ASSUMPTION + "; searched for pp > 1 with virtual_stages 1 (schedules=)"
           if zero_bubble else ""),
        f"{format_bytes(RUNTIME_RESERVE_BYTES)} per GPU kept free for the CUDA context, "
        "NCCL and fragmentation",
        "tensor parallelism inside the scale-up domain (the node, or the NVLink rack of an NVL72 "
        "offer: tp and ep groups spanning its instances talk at the scale-up bandwidth)"
        + ("; expert parallelism (ep) out of the tp x dp x cp ranks, tp x ep within the scale-up domain, "
           "all-to-all per MoE layer" if moe else "")
        + (f"; context parallelism (ring attention, cp) searched for sequences of {ctx.seq_len} tokens, "
           "tp x pp x dp x cp GPUs" if cp else "")
        + "; alpha-beta ring collectives; overlap: "
        + training_overlap_text(ep=moe, cp=cp, tp_overlap=ctx.overlap_tp_comm, ep_overlap=ctx.overlap_ep_comm,
                                ep_dispatcher=ctx.ep_dispatcher),
        "multi-node clusters only of offers with a cluster network in the catalog (a scale-out "
        "fabric or a network bandwidth); other offers are planned as single nodes",
        f"failures {rel['failures_per_gpu_hour']:.3g} per GPU-hour + {rel['job_failures_per_hour']:.3g} per "
        f"job-hour, {rel['failure_source']}; spot "
        f"preemptions {rel['preemptions_per_node_hour']:.3g} per node-hour; restart "
        f"{format_duration(rel['restart_s'])} ({format_duration(rel['spot_restart_s'])} after a "
        "preemption) plus reading the checkpoint",
        f"checkpoints of {CHECKPOINT_BYTES_PER_PARAM:g} bytes per parameter at the Daly-optimal interval, "
        f"{CHECKPOINT_KEEP} kept on the storage tier and billed for the run (730-hour billing month)",
        "prices are the catalog's list prices; spot capacity is assumed available at the spot price",
        (f"data loading: each vCPU tokenizes {ctx.preprocess_tokens_per_s_per_vcpu:,.0f} tokens/s (byte-level "
         "BPE, aicost.bench text pipeline); offers whose vCPUs per GPU cannot feed the GPUs at the step time "
         "are dropped" if math.isfinite(ctx.preprocess_tokens_per_s_per_vcpu) else
         "data loading not checked (preprocess_tokens_per_s_per_vcpu=inf)"),
    ) + ((ctx.efficiency_note,) if ctx.efficiency_note else ())


def training_recommendation(row: pd.Series, ctx: TrainingContext, objective: str,
                            sens: Sensitivity | None, assumptions) -> Recommendation:
    steps = float(row["steps"])
    total = float(row["time_s"])
    comp = float(row["compute_s"]) * steps
    comm = float(row["comm_exposed_s"]) * steps
    bub = float(row["bubble_s"]) * steps
    ck = float(row["checkpoint_overhead_s"])
    lost = float(row["lost_work_s"])

    def pct(x):
        return f"{100 * x / total:.0f}%" if total > 0 else "-"

    details = [
        f"Expected wall time {format_duration(total)} ({row['gpu_hours']:,.0f} GPU-hours), of which "
        f"compute {pct(comp)}, exposed communication {pct(comm)}, pipeline bubble {pct(bub)}, "
        f"checkpoint writes {pct(ck)}, failures and restarts {pct(lost)}.",
        f"MFU {100 * float(row['mfu']):.1f}% (model FLOPs / peak over the failure-free run); "
        f"step {format_duration(float(row['step_s']))}, {steps:,.0f} steps of "
        f"{float(row['tokens_per_step']):,.0f} tokens.",
        f"Memory per GPU {row['memory_per_gpu_gib']:.1f} GiB of {row['memory_gib']:.0f} GiB "
        f"(weights {row['memory_weights_gib']:.1f}, gradients {row['memory_gradients_gib']:.1f}, "
        f"optimizer {row['memory_optimizer_gib']:.1f}, activations {row['memory_activations_gib']:.1f}).",
        f"Reliability: job MTBF {format_duration(float(row['mtbf_s']))}, checkpoint "
        f"{format_duration(float(row['checkpoint_s']))} to {row['storage_tier']} every "
        f"{format_duration(float(row['checkpoint_interval_s']))}, goodput {100 * float(row['goodput']):.1f}%, "
        f"{float(row['expected_interruptions']):.1f} interruptions expected.",
        f"Cost {_fmt_usd(float(row['cost_usd']))}: {int(row['nodes'])} nodes at "
        f"{_fmt_usd(float(row['price_usd_per_hour']))}/h ({str(row['pricing']).replace('_', '-')}) plus "
        f"{_fmt_usd(float(row['storage_usd']))} of checkpoint storage.",
    ]
    if bool(row.get("memory_bound", False)):
        details.append(
            f"Memory shapes this plan: ignoring memory, the fastest layout on this hardware would take "
            f"{format_duration(float(row['fastest_any_memory_s']))} instead of "
            f"{format_duration(float(row['fastest_fit_s']))}; more memory per GPU would pay.")
    bottleneck = str(row["bottleneck"])
    return Recommendation(
        kind="training", row=row.to_dict(), headline=training_headline(row), objective=objective,
        bottleneck=bottleneck, details=tuple(details), assumptions=tuple(assumptions),
        efficiency=float(row["efficiency"]), efficiency_source=str(row["efficiency_source"]),
        sensitivity=sens, time_col="time_s", cost_col="cost_usd")


def training_infeasible_message(cands: pd.DataFrame, ctx: TrainingContext, offers: pd.DataFrame,
                                max_gpus: int) -> str:
    """Say which constraint removed the candidates and what to relax (SkyPilot style)."""
    spec = ctx.spec
    counts = cands["reason"].str.split(REASON_DETAIL_SEP, regex=False).str[0].value_counts()
    summary = "; ".join(f"{r}: {n}" for r, n in counts.items())
    stage = cands["stage"].to_numpy()
    fit = cands[np.isfinite(cands["fastest_fit_s"].to_numpy())]
    if (stage == D.NOT_OFFERED).all():
        pricings = ", ".join(sorted(set(cands["pricing"])))
        return (f"no offer searched has a price for {pricings}; allow another pricing model (e.g. "
                f"pricing=('on_demand', 'spot')) or other providers. Dropped: {summary}")
    if (stage <= D.OUT_OF_MEMORY).all():
        need = float(np.nanmin(cands["min_memory_bytes"].to_numpy()))
        largest = float(offers["memory_bytes"].max())
        if (stage == D.OUT_OF_MEMORY).any() and math.isfinite(need):
            i = int(np.nanargmin(cands["min_memory_bytes"].to_numpy()))
            r = cands.iloc[i]
            return (f"{spec.name} fits on no offer searched: the leanest layout (on "
                    f"{int(r['gpus'])} x {r['accelerator']}) still needs {format_bytes(need)} per GPU, "
                    f"against {format_bytes(largest)} on the largest accelerator available (minus "
                    f"{format_bytes(2 * GIB)} reserve). Allow more GPUs (max_gpus={max_gpus}) so "
                    f"ZeRO-3 and pipeline parallelism can shard further, add offers with more memory, or "
                    f"shorten seq_len. Dropped: {summary}")
        return (f"no layout of {spec.name} is valid on the offers searched ({summary}); check tp/pp "
                "against the scale-up domain (the node, or an NVL72 rack), cp against seq_len, virtual_stages against "
                "pp and the layers, and tp against the model's heads, or raise max_gpus")
    if (stage <= D.CPU_PREPROCESS_TOO_SLOW).all():
        slow = cands[stage == D.CPU_PREPROCESS_TOO_SLOW]
        ratio = (slow["preprocess_have_tokens_per_s"] / slow["preprocess_need_tokens_per_s"]).to_numpy()
        r = slow.iloc[int(np.nanargmax(ratio))]
        return (f"{spec.name} trains faster than the offers' vCPUs can tokenize: on {r['provider']} "
                f"{r['instance_type']} ({r['vcpus']:g} vCPUs for {int(r['gpus_per_node'])} GPUs) the GPUs need "
                f"{r['preprocess_need_tokens_per_s']:,.0f} tokens/s per GPU and the vCPUs give "
                f"{r['preprocess_have_tokens_per_s']:,.0f} ({ctx.preprocess_tokens_per_s_per_vcpu:,.0f} per vCPU); "
                "choose instances with more vCPUs per GPU, pre-tokenize the data set, or pass your measured "
                "rate (preprocess_tokens_per_s_per_vcpu, aicost.bench.preprocess_throughput). "
                f"Dropped: {summary}")
    parts = []
    if ctx.deadline_s is not None and not (stage >= D.OVER_BUDGET).any() and not fit.empty:
        i = int(np.argmin(fit["fastest_fit_s"].to_numpy()))
        r = fit.iloc[i]
        need = float(r["fastest_fit_s"])
        days = math.ceil(need / 86400.0 * 1.0001)
        parts.append(
            f"no plan meets the {format_duration(ctx.deadline_s)} deadline: the fastest candidate that "
            f"fits in memory ({int(r['gpus'])} x {r['accelerator']} on {r['provider']} "
            f"{r['instance_type']}, {str(r['pricing']).replace('_', '-')}) needs "
            f"{format_duration(need)}; relax the deadline to >= {days} days or allow more GPUs "
            f"(max_gpus={max_gpus})")
    elif ctx.budget_usd is not None:
        c = cands["cheapest_in_deadline_usd"].to_numpy()
        if np.isfinite(c).any():
            i = int(np.nanargmin(np.where(np.isfinite(c), c, np.nan)))
            r = cands.iloc[i]
            what = "meets the deadline" if ctx.deadline_s is not None else "fits in memory"
            parts.append(
                f"no plan fits the {_fmt_usd(ctx.budget_usd)} budget: the cheapest candidate that "
                f"{what} ({int(r['gpus'])} x {r['accelerator']} on {r['provider']} "
                f"{r['instance_type']}, {str(r['pricing']).replace('_', '-')}) costs "
                f"{_fmt_usd(float(c[i]))}; raise the budget to >= {_fmt_usd(float(c[i]) * 1.001)}"
                + (" or relax the deadline" if ctx.deadline_s is not None else "")
                + (" or allow spot pricing" if "spot" not in set(cands["pricing"]) else ""))
    if not parts:
        parts.append("no candidate is feasible; relax the deadline or the budget, or allow more GPUs")
    return parts[0] + f". Dropped configurations by reason: {summary}"


_ = (UnknownNameError,)
