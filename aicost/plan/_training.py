"""`plan_training`: search offers x node counts x pricing x storage tiers x parallel layouts.

How the search is organised
---------------------------
A *configuration* is one offer (provider, instance type, pricing) at one node count with one
checkpoint storage tier; a *layout* is one (tp, pp, micro-batch, ZeRO stage, recompute). Every
configuration is evaluated against every layout as a 2-D numpy broadcast (configurations down,
layouts across) -- no Python loop per candidate. Within a configuration the price per hour is
fixed, so the fastest feasible layout is also the cheapest: each configuration keeps that layout
(``detail=True`` keeps them all), and the Pareto frontier and the recommendation are computed
over configurations.

Each candidate is checked in stages, and a dropped candidate keeps the first stage it failed
(``REASONS``): the structure of the layout, then memory, then the deadline, then the budget. A
configuration none of whose layouts is feasible reports the reason of the layout that got
furthest, so "deadline missed" means some layout fit in memory but none was fast enough.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd

from .._checks import as_tuple, check_positive
from .._errors import InfeasibleError
from .._units import normalize_dtype, parse_duration
from ..hardware import load_catalog, normalize_pricings, offers_table, shape_aware_source
from ..model import resolve_model
from . import _evaluate as ev
from ._result import Plan, Recommendation, Sensitivity

__all__ = [
    "DEFAULT_GLOBAL_BATCH_TOKENS",
    "CP_MIN_SEQ_LEN",
    "DEFAULT_MAX_GPUS",
    "MAX_TRAINING_TOKENS",
    "TRAINING_COLUMNS",
    "TrainingPlan",
    "TrainingSearch",
    "plan_training",
]

#: Llama 2 (Touvron et al. 2023, sec. 2.2) trains every size with a global batch of 4M tokens
DEFAULT_GLOBAL_BATCH_TOKENS = 4 * 2**20
#: the largest cluster searched by default (Llama 3 405B trained on 16,384 H100s, Meta 2024)
DEFAULT_MAX_GPUS = 16384

_RECOMPUTE = ("none", "selective", "full")
#: context parallelism is searched only from this sequence length on [tokens]: below it a
#: sequence's activations fit without splitting it and the ring traffic cannot pay (Megatron-LM
#: and Llama 3 use CP for their long-context stages, 32k-128k)
CP_MIN_SEQ_LEN = 16384
#: the shortest sequence chunk per CP rank searched [tokens] and the largest cp searched (Llama 3
#: 405B's 128k-token stage used cp=16, 8192 tokens per rank, the largest published)
_CP_MIN_CHUNK = 8192
_CP_MAX = 16
#: the largest tensor parallelism searched by default: inside a scale-up domain of 72 (NVL72) or
#: thousands (TPU ICI) GPUs, tp beyond 16 leaves each GPU GEMMs 1/32 as wide for the same per-layer
#: all-reduce bytes, and pipeline or data parallelism does better (pin ``tp=`` to search more)
_TP_MAX_SEARCHED = 16
#: virtual stages (model chunks per GPU) of the interleaved 1F1B schedule searched
_VIRTUAL_STAGES = (1, 2, 4)


#: columns of Plan.candidates people read first (the CLI and the text view show these; ``schedule``
#: exists only in a plan searched with ``schedules=`` holding ``"zb-h1"``)
TRAINING_COLUMNS = (
    "provider", "instance_type", "accelerator", "gpus", "nodes", "pricing", "tp", "pp", "dp", "cp",
    "virtual_stages", "schedule", "micro_batch", "zero_stage", "recompute", "memory_per_gpu_gib", "mfu", "time_s", "cost_usd",
    "storage_tier", "bottleneck", "estimated", "reason",
)


@dataclass(frozen=True)
class _Layouts:
    tp: np.ndarray
    pp: np.ndarray
    mb: np.ndarray
    zero: np.ndarray
    rc: np.ndarray  # index into _RECOMPUTE
    ep: np.ndarray | None = None  # expert parallelism (all 1 for dense models)
    cp: np.ndarray | None = None  # context parallelism (all 1 below CP_MIN_SEQ_LEN)
    v: np.ndarray | None = None  # virtual stages of the interleaved schedule (1: plain 1F1B)
    #: pipeline schedule code (``aicost.model.schedule_code``: 0 1F1B, 1 ZB-H1)
    sched: np.ndarray | None = None

    def __post_init__(self):
        for name in ("ep", "cp", "v"):
            if getattr(self, name) is None:
                object.__setattr__(self, name, np.ones_like(self.tp))
        if self.sched is None:
            object.__setattr__(self, "sched", np.zeros_like(self.tp))

    @property
    def n(self) -> int:
        return self.tp.size


def _powers_of_two(limit: int) -> list[int]:
    out, v = [], 1
    while v <= limit:
        out.append(v)
        v *= 2
    return out


def _node_counts(gpus_per_node: int, min_gpus: int, max_gpus: int) -> list[int]:
    """Node counts on a 1-1.5-2 geometric grid (1, 2, 3, 4, 6, 8, 12, ...) within the GPU limits."""
    out = []
    v = 1
    while v * gpus_per_node <= max_gpus:
        if v * gpus_per_node >= min_gpus:
            out.append(v)
        if v >= 2 and (v * 3 // 2) * gpus_per_node <= max_gpus and v * 3 // 2 * gpus_per_node >= min_gpus \
                and (v & (v - 1)) == 0:
            out.append(v * 3 // 2)
        v *= 2
    return sorted(set(out))


def _deadline_s(deadline, now: _dt.datetime | None) -> float | None:
    """Seconds until ``deadline`` (a duration, seconds, timedelta or datetime)."""
    if deadline is None:
        return None
    if isinstance(deadline, _dt.timedelta):
        seconds = deadline.total_seconds()
    elif isinstance(deadline, (_dt.datetime, _dt.date)):
        if not isinstance(deadline, _dt.datetime):
            deadline = _dt.datetime.combine(deadline, _dt.time(0, 0), tzinfo=_dt.timezone.utc)
        if deadline.tzinfo is None:
            deadline = deadline.replace(tzinfo=_dt.timezone.utc)
        now = now or _dt.datetime.now(_dt.timezone.utc)
        if now.tzinfo is None:
            now = now.replace(tzinfo=_dt.timezone.utc)
        seconds = (deadline - now).total_seconds()
        if seconds <= 0:
            raise ValueError(f"the deadline {deadline.isoformat()} has already passed "
                             f"(now is {now.isoformat(timespec='seconds')}); give a future date or a "
                             "duration such as '30d'")
    else:
        if isinstance(deadline, (int, float)) and deadline < 0:
            raise ValueError(f"deadline must be a positive duration, got {deadline!r}")
        seconds = parse_duration(deadline)
    if not seconds > 0:
        raise ValueError(f"deadline must be a positive duration (e.g. '30d'), got {deadline!r}")
    return float(seconds)


def _expert_parallel_choices(spec, max_domain: int) -> list[int]:
    """Expert-parallel degrees searched: 1 for dense models; for mixture-of-experts models the
    divisors of the routed experts up to the largest scale-up domain (all-to-all stays on the
    scale-up fabric; the search drops tp x ep beyond each offer's domain)."""
    if not spec.is_moe:
        return [1]
    return [d for d in range(1, min(int(spec.n_experts), int(max_domain)) + 1) if spec.n_experts % d == 0]


def _context_parallel_choices(seq_len: int | None) -> list[int]:
    """Context-parallel degrees searched: 1 below ``CP_MIN_SEQ_LEN``; from it on the powers of two
    up to ``_CP_MAX`` that leave every rank ``_CP_MIN_CHUNK`` tokens and split the sequence into
    ``2 cp`` equal chunks (the load-balanced causal split)."""
    if not seq_len or seq_len < CP_MIN_SEQ_LEN:
        return [1]
    return [c for c in _powers_of_two(_CP_MAX)
            if seq_len % (2 * c) == 0 and seq_len // c >= _CP_MIN_CHUNK or c == 1]


def _layouts(spec, max_gpn: int, tp, pp, micro_batch, zero_stage, recompute, ep=None, cp=None, v=None,
             schedules=None, *, max_domain: int | None = None, seq_len: int | None = None) -> _Layouts:
    """The layouts searched: the product of the axes (pinned or default), without the
    interleaved layouts that cannot run (``v > 1`` needs ``pp > 1`` and ``pp * v`` dividing the
    layers) unless ``v`` is pinned (then they are dropped with ``INTERLEAVE_INVALID``).

    ``schedules`` (names of ``aicost.model.TRAINING_SCHEDULES``; default ``("1f1b",)``): with
    ``"zb-h1"`` every layout with ``pp > 1`` and ``v == 1`` is searched under ZB-H1 too (under
    ZB-H1 alone when ``"1f1b"`` is not listed: then interleaved layouts are left out, and layouts
    without a pipeline, which have no bubble to schedule, stay as they are)."""
    domain = int(max_domain or max_gpn)
    tps = as_tuple(tp, _powers_of_two(min(domain, max(_TP_MAX_SEARCHED, max_gpn))))
    eps = as_tuple(ep, _expert_parallel_choices(spec, domain))
    pps = as_tuple(pp, [p for p in _powers_of_two(64) if p <= spec.n_layers])
    mbs = as_tuple(micro_batch, (1, 2, 4))
    zs = as_tuple(zero_stage, (1, 3))
    rcs = as_tuple(recompute, _RECOMPUTE)
    cps = as_tuple(cp, _context_parallel_choices(seq_len))
    vs = as_tuple(v, _VIRTUAL_STAGES)
    v_pinned = v is not None
    for name, vals in (("tp", tps), ("pp", pps), ("micro_batch", mbs), ("ep", eps), ("cp", cps),
                       ("virtual_stages", vs)):
        for x in vals:
            if int(x) != x or x < 1:
                raise ValueError(f"{name} must be positive integers, got {x!r}")
    for z in zs:
        if z not in (0, 1, 2, 3):
            raise ValueError(f"zero_stage must be 0, 1, 2 or 3, got {z!r}")
    for r in rcs:
        if r not in _RECOMPUTE:
            raise ValueError(f"recompute must be one of {', '.join(_RECOMPUTE)}, got {r!r}")
    bad_ep = [e for e in eps if e > 1 and (not spec.is_moe or spec.n_experts % e)]
    if bad_ep:
        raise ValueError(f"ep={bad_ep[0]} must divide the routed experts of a mixture-of-experts model "
                         f"({spec.name} has {spec.n_experts}); use ep=1 for a dense model")
    bad_cp = [c for c in cps if c > 1 and (not seq_len or seq_len % (2 * c))]
    if bad_cp:
        raise ValueError(f"cp={bad_cp[0]} needs a sequence length divisible by 2*cp = {2 * bad_cp[0]} "
                         f"(load-balanced causal chunks); seq_len is {seq_len}")
    if min(tps) > domain:
        raise ValueError(
            f"tp={min(tps)} is larger than the GPUs of any scale-up domain searched (at most {domain}): "
            "tensor parallelism runs inside a node or an NVLink rack (NVL72); use tp <= that")
    grids = np.meshgrid(np.array(tps, dtype=np.int64), np.array(pps, dtype=np.int64),
                        np.array(mbs, dtype=np.int64), np.array(zs, dtype=np.int64),
                        np.array([_RECOMPUTE.index(r) for r in rcs], dtype=np.int64),
                        np.array(eps, dtype=np.int64), np.array(cps, dtype=np.int64),
                        np.array(vs, dtype=np.int64), indexing="ij")
    flat = [g.ravel() for g in grids]
    if not v_pinned:  # interleaving only where it can run: pp > 1 and pp x v dividing the layers
        p, vv = flat[1], flat[7]
        ok = (vv == 1) | ((p > 1) & (spec.n_layers % np.maximum(p * vv, 1) == 0))
        flat = [a[ok] for a in flat]
    return _schedule_axis(flat, schedules)


def _schedule_axis(flat: list, schedules) -> _Layouts:
    """The layouts ``flat`` (tp, pp, mb, zero, rc, ep, cp, v) under the pipeline ``schedules``
    (`_layouts`): ZB-H1 copies of the layouts it can run (``pp > 1``, ``v == 1``) after the 1F1B ones."""
    from ..model import schedule_code

    codes = sorted({schedule_code(x) for x in as_tuple(schedules, ("1f1b",))})
    if codes == [0]:
        return _Layouts(*flat)
    p, vv = flat[1], flat[7]
    zb = (p > 1) & (vv == 1)
    if not zb.any():
        raise ValueError("schedules: 'zb-h1' needs pipelined layouts with one model chunk per GPU (pp > 1, "
                         "virtual_stages=1) and the layouts searched have none; allow pp > 1 and "
                         "virtual_stages=1, or search schedules=('1f1b',)")
    parts = []
    if 0 in codes:
        parts.append((list(flat), np.zeros(flat[0].size, dtype=np.int64)))
    else:  # ZB-H1 alone: the pipelined layouts run it, those without a pipeline stay (no bubble)
        plain = (p == 1) & (vv == 1)
        parts.append(([a[plain] for a in flat], np.zeros(int(plain.sum()), dtype=np.int64)))
    parts.append(([a[zb] for a in flat], np.ones(int(zb.sum()), dtype=np.int64)))
    cols = [np.concatenate([part[0][i] for part in parts]) for i in range(len(flat))]
    return _Layouts(*cols, sched=np.concatenate([part[1] for part in parts]))


def _checkpoint_tiers(cat, providers: Sequence[str], storage_tier) -> pd.DataFrame:
    """Storage tiers a checkpoint may go to, per provider: shared (file/object/block) tiers of the
    provider itself, else provider-neutral ones."""
    return ev.checkpoint_tiers(cat, providers, storage_tier)


#: most training tokens a plan accepts: 1e16, ~250x Llama 4's 40T; more is a typo or overflow
MAX_TRAINING_TOKENS = 1e16


def plan_training(
    model,
    tokens,
    deadline=None,
    budget_usd=None,
    *,
    providers: Iterable[str] | None = None,
    pricing: Iterable[str] | str = ("on_demand", "spot"),
    catalog=None,
    store=None,
    accelerators: Iterable[str] | None = None,
    estimates: bool = True,
    max_gpus: int = DEFAULT_MAX_GPUS,
    min_gpus: int = 1,
    storage_tier: str | None = None,
    efficiency=None,
    dtype: str = "bf16",
    seq_len: int | None = None,
    global_batch_tokens: float = DEFAULT_GLOBAL_BATCH_TOKENS,
    tp=None,
    pp=None,
    ep=None,
    cp=None,
    virtual_stages=None,
    micro_batch=None,
    zero_stage=None,
    recompute=None,
    schedules=None,
    failure_rate_per_gpu_hour: float | None = None,
    spot_preemption_rate_per_hour: float | None = None,
    restart_s: float | None = None,
    job_failure_rate_per_hour: float | None = None,
    fleet_class: str | None = None,
    preprocess_tokens_per_s_per_vcpu: float | None = None,
    overlap_tp_comm: bool = False,
    overlap_ep_comm: bool = False,
    ep_dispatcher: str = "alltoall",
    objective: str = "auto",
    detail: bool = False,
    now: _dt.datetime | None = None,
) -> TrainingPlan:
    """Find what to rent to train ``model`` on ``tokens`` tokens, by a deadline and/or a budget.

    Parameters
    ----------
    model : str or aicost.model.ModelSpec
        A preset name (``"llama-3.1-70b"``) or your own architecture.
    tokens : float
        Training tokens [tokens].
    deadline : str, float, datetime.timedelta or datetime.datetime, optional
        Longest acceptable expected wall time: a duration (``"30d"``, seconds) or a date.
    budget_usd : float, optional
        Largest acceptable expected cost [USD].
    providers : iterable of str, optional
        Only these providers (``["aws", "gcp"]``).
    pricing : iterable of str
        Pricing models to consider: ``on_demand``, ``spot``, ``reserved_1y``.
    catalog : aicost.catalog.Catalog, optional
        Defaults to the shipped catalog.
    store : aicost.store.Store, optional
        Results store whose GEMM measurements set the efficiency (default: the user's store).
    accelerators : iterable of str, optional
        Only these accelerators (any alias).
    estimates : bool
        Search offers built on catalog estimates too (default). ``False`` leaves out every offer
        whose price, accelerator count, or accelerator peak at ``dtype`` or memory bandwidth the
        catalog marks as estimated (``aicost.hardware.offers_table``); a plan that uses one says
        so in its recommendation ("price estimated, not a published list price").
    max_gpus, min_gpus : int
        Cluster sizes searched [GPUs].
    storage_tier : str, optional
        Checkpoint to this tier only (default: every shared tier of the offer's provider).
    efficiency : float, aicost.calibrate.Efficiency or dict, optional
        For every accelerator, or per accelerator name. A plain number is the end-to-end
        training compute efficiency (fraction of the dense peak while computing, the training
        kernel factor included; e.g. 0.55), used as given. An ``aicost.calibrate.Efficiency``
        (what ``aicost.fleet.efficiency(run)`` and ``aicost.calibrate.gemm_efficiency`` return)
        is a GEMM efficiency and is multiplied by ``aicost.calibrate.TRAINING_KERNEL_FACTOR``,
        as a calibrated one is: pass ``efficiency=fleet.efficiency(run)`` as it is. Default
        from ``aicost.calibrate`` (measured when the store has results, documented otherwise).
    dtype : str
        Training compute dtype (``bf16``).
    seq_len : int, optional
        Training sequence length [tokens] (default: the model's pre-training length).
    global_batch_tokens : float
        Tokens per optimizer step [tokens].
    tp, pp, micro_batch, zero_stage, recompute : int, str or sequence, optional
        Pin or restrict the layout search (default: tp 1..16, each offer up to its scale-up
        domain: its node, or the NVLink rack of an NVL72 offer, so tp 8 and 16 span instances
        there; a pinned tp may go up to the largest domain; pp 1..64,
        micro-batch 1/2/4, ZeRO 1 and 3, recompute none/selective/full).
    cp : int or sequence, optional
        Context parallelism (ring attention; ``tp x pp x dp x cp`` GPUs). Default: 1 below
        ``CP_MIN_SEQ_LEN`` (16k tokens), else the powers of two up to 16 that leave each rank
        8k tokens and divide ``seq_len`` into ``2 cp`` chunks.
    virtual_stages : int or sequence, optional
        Model chunks per GPU of the interleaved 1F1B schedule (default 1, 2, 4 where pp > 1 and
        ``pp x v`` divides the layers; the micro-batches per step must be a multiple of pp).
    schedules : str or sequence of str, optional
        Pipeline schedules searched (``aicost.model.TRAINING_SCHEDULES``). Default ``("1f1b",)``:
        Megatron-LM's 1F1B, interleaved with ``virtual_stages``. Add ``"zb-h1"`` (opt in: it needs
        a stack that runs it, e.g. the paper's Megatron-LM fork,
        ``sail-sg/zero-bubble-pipeline-parallelism``) to search every layout with ``pp > 1``
        and one model chunk per GPU under ZB-H1 as well (Qi et al., ICLR 2024: bubble
        ``(pp-1)(T_F+T_B-T_W)`` at 1F1B's memory); ``("zb-h1",)`` alone runs every pipelined layout
        under it (no interleaving). The candidates then carry a ``schedule`` column and the plan's
        assumptions name the model (``aicost.model.ZERO_BUBBLE_ASSUMPTION``).
    ep : int or sequence, optional
        Expert parallelism searched for a mixture-of-experts model (default: the divisors of its
        routed experts up to the largest scale-up domain, ``scale_up_domain_gpus``; ``tp x ep``
        must fit each offer's domain and ``ep`` divide ``tp x dp``); 1 for dense models.
    failure_rate_per_gpu_hour, spot_preemption_rate_per_hour, restart_s : float, optional
        Reliability assumptions (defaults: ``aicost.model`` reliability constants). A job on ``n``
        GPUs is interrupted ``failure_rate_per_gpu_hour * n + job_failure_rate_per_hour`` times
        an hour. A ``failure_rate_per_gpu_hour`` given here is the whole failure model: the
        per-job term is then 0 unless ``job_failure_rate_per_hour`` is given too (so
        ``failure_rate_per_gpu_hour=0`` means no failures) [1/(GPU h)], [1/(node h)], [s].
    job_failure_rate_per_hour : float, optional
        Interruptions per job-hour that do not scale with the GPUs (software, hangs) [1/h];
        default the fleet class's (0 when only ``failure_rate_per_gpu_hour`` is given).
    fleet_class : str, optional
        Both failure rates from ``aicost.model.failure_rates(fleet_class)``
        (``data/failure_rates.csv``; default ``aicost.model.DEFAULT_FLEET_CLASS``, the Llama 3
        report); rates given explicitly take precedence. The plan's assumptions name the source.
    preprocess_tokens_per_s_per_vcpu : float, optional
        Tokens one vCPU tokenizes per second [tokens/s] (default: the shipped text-pipeline rate,
        ``aicost.bench.default_preprocess_rates()["text"]``; measure your own with
        ``aicost.bench.preprocess_throughput("text")``; ``math.inf`` switches the check off). A
        candidate whose instance's vCPUs per GPU times this rate is below the tokens per second
        per GPU it trains at is dropped (``TrainingDrop.CPU_PREPROCESS_TOO_SLOW``); offers
        without a vCPU count in the catalog pass.
    overlap_tp_comm, overlap_ep_comm : bool
        Whether your training stack overlaps the tensor-parallel collectives with the GEMMs
        (TransformerEngine userbuffers, Megatron-LM ``--tp-comm-overlap``) and the expert
        all-to-all with another micro-batch's compute (DeepSeek-V3's DualPipe, Megatron-Core's
        1F1B all-to-all overlap; each transfer under its paired attention or MLP piece,
        ``aicost.model.EP_OVERLAP_PAIRING``). Options rather than search axes: the model never makes a step
        slower with them, so a search would always pick them, yet they need software support the
        planner cannot see. Default off (exposed); the plan's assumptions name each.
    ep_dispatcher : {"alltoall", "deepep"}
        How your stack's expert-parallel dispatch moves tokens (``aicost.model.EP_DISPATCHERS``):
        one copy per routed expert (default: Megatron-Core's all-to-all dispatcher) or one per
        destination node with NVLink forwarding (DeepEP, Megatron-Core's flex dispatcher), which
        the model's group-limited routing caps (``ModelSpec.expert_groups_per_token``). Named in the
        plan's assumptions.
    objective : {"auto", "cost", "time", "balanced"}
        What `Plan.best` minimizes; ``auto`` is cost under a deadline, time under a budget alone,
        and the knee of the frontier (``balanced``: the smallest time x cost) without either.
    detail : bool
        Keep every evaluated layout in `Plan.candidates` (large), not only each configuration's best.
    now : datetime.datetime, optional
        The current time, for a deadline given as a date (tests).

    Returns
    -------
    TrainingPlan

    Raises
    ------
    InfeasibleError
        When no candidate meets the constraints; the message says which constraint removed them
        and what to relax.
    UnknownNameError
        For an unknown model, accelerator, provider or storage tier (closest names suggested).
    ValueError
        For impossible numbers (zero tokens, negative budget, past deadline, tp > GPUs per node).
    """
    t0 = time.perf_counter()
    req = _validate(model, tokens, deadline, budget_usd, pricing=pricing, max_gpus=max_gpus,
                    min_gpus=min_gpus, objective=objective, seq_len=seq_len,
                    global_batch_tokens=global_batch_tokens, dtype=dtype, now=now)
    offers, lay, cfg, ctx = _resolve(req, catalog=catalog, store=store, providers=providers,
                                     accelerators=accelerators, storage_tier=storage_tier,
                                     efficiency=efficiency, estimates=estimates,
                                     layout=(tp, pp, micro_batch, zero_stage, recompute, ep, cp, virtual_stages,
                                             schedules),
                                     reliability=(failure_rate_per_gpu_hour, spot_preemption_rate_per_hour,
                                                  restart_s, job_failure_rate_per_hour, fleet_class),
                                     preprocess_rate=preprocess_tokens_per_s_per_vcpu,
                                     overlap=(overlap_tp_comm, overlap_ep_comm, ep_dispatcher))
    reduced, reason_counts, n_eval, details = ev.search_training(cfg, lay, ctx, detail=detail)
    cands, sort_col, objective_text = _score(cfg, reduced, lay, ctx, details, req.objective)
    search = TrainingSearch(configs=cfg, layouts=lay, context=ctx, ok=reduced["ok"],
                            n_modeled=int(reduced["n_modeled"]))
    request = {
        "model": req.spec.name, "tokens": req.tokens, "deadline_s": req.deadline_s,
        "budget_usd": req.budget_usd,
        "providers": None if providers is None else list(providers) if not isinstance(providers, str)
        else providers, "pricing": list(req.pricing), "max_gpus": req.max_gpus, "dtype": dtype,
        "seq_len": req.seq_len, "global_batch_tokens": req.global_batch_tokens, "storage_tier": storage_tier,
        "n_modeled": search.n_modeled,
    }
    plan = TrainingPlan(candidates=cands, request=request, n_evaluated=n_eval, reason_counts=reason_counts,
                        elapsed_s=time.perf_counter() - t0, sort_col=sort_col, objective=objective_text,
                        assumptions=ev.training_assumptions(ctx, req.batch_seqs, lay), search=search,
                        layouts=details)
    if not cands["feasible"].any():
        raise InfeasibleError(ev.training_infeasible_message(cands, ctx, offers, req.max_gpus))
    return plan


@dataclass(frozen=True)
class _TrainingRequest:
    """`plan_training`'s arguments, checked and in SI units."""

    spec: object
    tokens: float
    deadline_s: float | None
    budget_usd: float | None
    pricing: tuple[str, ...]
    max_gpus: int
    min_gpus: int
    objective: str
    seq_len: int
    global_batch_tokens: float
    batch_seqs: int
    dtype: str


def _validate(model, tokens, deadline, budget_usd, *, pricing, max_gpus, min_gpus, objective, seq_len,
              global_batch_tokens, dtype, now) -> _TrainingRequest:
    """Check the arguments (ValueError/UnknownNameError saying what to fix), before any search."""
    spec = resolve_model(model)
    tokens = check_positive("tokens", tokens, " of tokens")
    if budget_usd is not None:
        budget_usd = check_positive("budget_usd", budget_usd, " [USD]")
    if tokens > MAX_TRAINING_TOKENS:
        raise ValueError(f"tokens must be at most {MAX_TRAINING_TOKENS:.0e} (250 times the largest "
                         f"published training run), got {tokens:g}")
    deadline_s = _deadline_s(deadline, now)
    if int(max_gpus) < 1 or int(min_gpus) < 1 or min_gpus > max_gpus:
        raise ValueError(f"need 1 <= min_gpus <= max_gpus, got min_gpus={min_gpus}, max_gpus={max_gpus}")
    if objective not in ("auto", "cost", "time", "balanced"):
        raise ValueError(f"objective must be auto, cost, time or balanced, got {objective!r}")
    pricing = normalize_pricings(pricing)
    seq = int(seq_len or spec.pretrain_seq_len)
    if seq < 1:
        raise ValueError(f"seq_len must be a positive number of tokens, got {seq_len!r}")
    gb_tokens = check_positive("global_batch_tokens", global_batch_tokens, " of tokens")
    return _TrainingRequest(spec=spec, tokens=tokens, deadline_s=deadline_s, budget_usd=budget_usd,
                            pricing=pricing, max_gpus=int(max_gpus), min_gpus=int(min_gpus),
                            objective=objective, seq_len=seq, global_batch_tokens=gb_tokens,
                            batch_seqs=max(1, int(round(gb_tokens / seq))), dtype=normalize_dtype(dtype))


def _resolve(req: _TrainingRequest, *, catalog, store, providers, accelerators, storage_tier, efficiency,
             layout, reliability, preprocess_rate=None, overlap=(False, False), estimates=True):
    """The search space: offers (``aicost.hardware``) with their efficiencies, the layouts, the
    configurations (offers x node counts x checkpoint tiers) and the search context."""
    cat = load_catalog(catalog)
    offers = offers_table(cat, pricing=req.pricing, providers=providers, accelerators=accelerators,
                          dtype=req.dtype, estimates=estimates)
    offers = offers[np.isfinite(offers["peak_flops_per_s"].to_numpy())].reset_index(drop=True)
    if offers.empty:
        raise InfeasibleError(
            f"no offer in the catalog matches: providers={providers}, accelerators={accelerators}, "
            f"dtype={req.dtype}{'' if estimates else ', estimates=False'}; widen the filters"
            f"{'' if estimates else ' or allow offers built on estimates (estimates=True)'}")
    lay = _layouts(req.spec, int(offers["gpus_per_node"].max()), *layout,
                   max_domain=int(offers["scale_up_domain_gpus"].max()), seq_len=req.seq_len)
    eff = ev.efficiencies(sorted(set(offers["accelerator"])), req.dtype, store, efficiency, catalog=cat)
    # compute efficiency per (accelerator, layout): the shape-aware table (a caller's number is a
    # constant row); the efficiency column is NaN where the table varies with the layout
    offers["efficiency"] = offers["accelerator"].map(
        lambda a: np.nan if eff[a].shape_aware else eff[a].compute).astype(float)
    offers["comm_efficiency"] = offers["accelerator"].map(lambda a: eff[a].comm).astype(float)
    offers["efficiency_source"] = offers["accelerator"].map(
        lambda a: shape_aware_source(eff[a].gemm_curve) if eff[a].shape_aware else eff[a].compute_source)
    # table rows: every catalog accelerator (a filtered search indexes the same rows: PlanCache)
    names = getattr(cat, "accelerators", None)
    rows = sorted(set(names["name"].astype(str) if names is not None and "name" in names else ())
                  | set(offers["accelerator"]))
    offers["efficiency_row"] = offers["accelerator"].map({a: i for i, a in enumerate(rows)}).astype(np.int64)
    table, codes = ev.efficiency_table(req.spec, eff, rows, lay, dtype=req.dtype, seq_len=req.seq_len)
    wtable = (ev.weight_grad_table(req.spec, eff, rows, lay, dtype=req.dtype, seq_len=req.seq_len)
              if lay.sched.any() else None)  # ZB-H1 layouts searched: their W pass per accelerator x layout
    mtable = (ev.moe_sublayer_table(req.spec, eff, rows, lay, dtype=req.dtype, seq_len=req.seq_len)
              if bool(overlap[1]) and getattr(req.spec, "is_moe", False) else None)  # the EP overlap's pieces
    rel = ev.reliability_defaults(*reliability)
    tiers = _checkpoint_tiers(cat, sorted(set(offers["provider"])), storage_tier)
    cfg = ev.training_configs(offers, tiers, req.spec, min_gpus=req.min_gpus, max_gpus=req.max_gpus,
                              node_counts=_node_counts)
    if cfg.empty:
        raise InfeasibleError(
            f"no node count of any offer fits between min_gpus={req.min_gpus} and max_gpus={req.max_gpus}; "
            "raise max_gpus")
    if preprocess_rate is None:
        from ..bench import default_preprocess_rates

        preprocess_rate = default_preprocess_rates()["text"]
    if not (isinstance(preprocess_rate, (int, float)) and preprocess_rate == float("inf")):
        preprocess_rate = check_positive("preprocess_tokens_per_s_per_vcpu", preprocess_rate, " [tokens/s]")
    ctx = ev.TrainingContext(spec=req.spec, tokens=req.tokens, seq_len=req.seq_len, batch_seqs=req.batch_seqs,
                             deadline_s=req.deadline_s, budget_usd=req.budget_usd, rel=rel, dtype=req.dtype,
                             preprocess_tokens_per_s_per_vcpu=preprocess_rate,
                             overlap_tp_comm=bool(overlap[0]), overlap_ep_comm=bool(overlap[1]),
                             ep_dispatcher=_ep_dispatcher(overlap[2] if len(overlap) > 2 else "alltoall"),
                             efficiency_table=table, efficiency_codes=codes, weight_grad_table=wtable,
                             moe_sublayer_table=mtable,
                             efficiency_note=_efficiency_note(efficiency, req.dtype))
    return offers, lay, cfg, ctx


def _ep_dispatcher(name) -> str:
    """A known expert-parallel dispatcher name (``aicost.model.EP_DISPATCHERS``), lower case."""
    from ..model import EP_DISPATCHERS

    key = str(name).lower()
    if key not in EP_DISPATCHERS:
        raise ValueError(f"ep_dispatcher must be one of {', '.join(EP_DISPATCHERS)}, got {name!r}")
    return key


def _efficiency_note(efficiency, dtype: str) -> str:
    """The compute-efficiency assumption in words (from the request alone, so a filtered re-plan
    of `PlanCache` says the same; each candidate's ``efficiency_source`` names its curve)."""
    from ..calibrate_curves import DEFAULT_GEMM_CURVE, default_gemm_curve

    try:
        e_max = f"{default_gemm_curve(dtype).e_max:.2f}"
    except ValueError:  # a dtype without a documented default
        e_max = "the documented fallback"
    shaped = ("compute efficiency per layout, shape-aware: each layout's per-GPU GEMM shapes (micro-batch x "
              "seq_len / cp rows, widths / tp, tokens per expert gathered over ep) on the accelerator's GEMM "
              "curve, with the attention core and the memory-bound work between the GEMMs modelled "
              "(aicost.calibrate_curves; no kernel factor on top); the curve is fitted to the accelerator's "
              "measured GEMMs where aicost has them (results store, then data/results), else the default "
              f"family (e_max {e_max} = aicost.calibrate.DEFAULT_GEMM_EFFICIENCY[{dtype!r}] on the H100 SXM, "
              "scaled per accelerator by its published max achievable matmul efficiency relative to the H100 "
              f"SXM's where data/published_gemm_peaks.csv lists it; k_half {DEFAULT_GEMM_CURVE.k_half:.0f}); "
              "each candidate's efficiency_source names its curve")
    if efficiency is None:
        return shaped
    if isinstance(efficiency, dict):
        given = ", ".join(f"{k} {float(v):.2f}" for k, v in sorted(efficiency.items(), key=lambda kv: str(kv[0])))
        return f"{shaped}; given by the caller for every layout: {given}"
    return f"compute efficiency {float(efficiency):.2f} for every layout and accelerator (given by the caller)"


def _score(cfg, reduced, lay, ctx, details, objective) -> tuple[pd.DataFrame, str, str]:
    """The candidate table (one row per configuration, its chosen layout evaluated) and the
    column `TrainingPlan.best` minimizes."""
    cands = ev.training_frame(cfg, reduced, lay, ctx, details)
    sort_col, objective_text = _objective(objective, ctx.deadline_s, ctx.budget_usd)
    if sort_col == "balanced_score":
        cands["balanced_score"] = _balanced_score(cands, "time_s", "cost_usd")
    return cands, sort_col, objective_text


def _balanced_score(cands: pd.DataFrame, time_col: str, cost_col: str) -> np.ndarray:
    """time / fastest x cost / cheapest over the feasible rows (the knee of the frontier)."""
    ok = cands["feasible"].to_numpy()
    t = cands[time_col].to_numpy()
    c = cands[cost_col].to_numpy()
    tmin = np.nanmin(np.where(ok, t, np.nan)) if ok.any() else 1.0
    cmin = np.nanmin(np.where(ok, c, np.nan)) if ok.any() else 1.0
    return (t / tmin) * (c / cmin)


@dataclass(frozen=True)
class TrainingSearch:
    """What a training search evaluated, kept so the recommendation (and a re-plan) can re-use it.

    Attributes
    ----------
    configs : pandas.DataFrame
        Configurations (offer x node count x pricing x checkpoint tier), one per candidate row.
    layouts : _Layouts
        The parallel layouts searched (tp, pp, micro-batch, ZeRO stage, recompute arrays).
    context : TrainingContext
        The model, the job and the constraints.
    ok : numpy.ndarray of bool
        ``(n_configs, n_layouts)``: the feasible candidates.
    n_modeled : int
        Candidates that went through the full model.
    """

    configs: pd.DataFrame
    layouts: object
    context: ev.TrainingContext
    ok: np.ndarray
    n_modeled: int

    @property
    def n_candidates(self) -> int:
        """Configurations x layouts searched."""
        return len(self.configs) * self.layouts.n

    def evaluate(self, detail: bool = False):
        """Run the vectorized search again over the same candidates (what a plan spends its
        time on): ``(reduced, reason_counts, n_evaluated, details)``, as the planner uses them."""
        return ev.search_training(self.configs, self.layouts, self.context, detail=detail)


@dataclass(eq=False)
class TrainingPlan(Plan):
    """`plan_training`'s answer: candidates are offer x node count x pricing x storage tier with
    their best parallel layout (``layouts`` has every evaluated layout with ``detail=True``)."""

    search: TrainingSearch | None = field(default=None, repr=False)
    layouts: pd.DataFrame | None = field(default=None, repr=False)

    kind: ClassVar[str] = "training"
    time_col: ClassVar[str] = "time_s"
    cost_col: ClassVar[str] = "cost_usd"
    table_columns: ClassVar[tuple[str, ...]] = TRAINING_COLUMNS
    distinct_by: ClassVar[tuple[str, ...]] = ("provider", "instance_type", "nodes", "pricing")

    def _recommend(self) -> Recommendation | None:
        row = self.feasible.iloc[0]
        s = self.search
        sens = _training_sensitivity(row, s.configs, s.layouts, s.context, self.sort_col, s.ok)
        return ev.training_recommendation(row, s.context, self.objective, sens, self.assumptions)

    @property
    def extras(self) -> dict:
        """Read-only: ``search`` as ``(configs, layouts, context)`` and ``layouts`` (detail)."""
        out: dict = {}
        if self.search is not None:
            out["search"] = (self.search.configs, self.search.layouts, self.search.context)
        if self.layouts is not None:
            out["layouts"] = self.layouts
        return out


def _objective(objective: str, deadline_s, budget_usd) -> tuple[str, str]:
    if objective == "auto":
        if deadline_s is not None:
            objective = "cost"
        elif budget_usd is not None:
            objective = "time"
        else:
            objective = "balanced"
    return {
        "cost": ("cost_usd", "cheapest plan that meets the constraints"),
        "time": ("time_s", "fastest plan that meets the constraints"),
        "balanced": ("balanced_score", "knee of the time-cost frontier (smallest time x cost)"),
    }[objective]


def _training_sensitivity(row, cfg, lay, ctx, sort_col, ok, scale: float = 0.8) -> Sensitivity:
    """Re-evaluate the search with every efficiency multiplied by ``scale``.

    A lower efficiency only makes a candidate slower and dearer (and leaves its memory alone),
    so only the candidates feasible now (``ok``, configurations x layouts) can still be: they
    are re-evaluated in one vectorized call and the best of them is the new recommendation.
    """
    cfg2 = cfg.assign(efficiency=cfg["efficiency"].to_numpy() * scale)
    if ctx.efficiency_table is not None:
        ctx = dataclasses.replace(ctx, efficiency_table=ctx.efficiency_table * scale)
    same = ev.evaluate_one(cfg2.iloc[int(row["config_id"])], row, ctx)
    ci, li = np.nonzero(ok)
    larr = ev._lay_arrays(lay, row=False)
    if ctx.efficiency_table is not None:
        larr["ecol"] = ev.efficiency_columns(ctx, larr["ecode"])
    out = ev.evaluate_candidates(ev._cfg_arrays(cfg2, shape_col=False), larr, ci, li, ctx)
    feas = out["code"] == 0
    if not feas.any():
        return Sensitivity(scale, same["time_s"], same["cost_usd"], same["feasible"], same["reason"],
                           None, float("nan"), float("nan"))
    t = np.where(feas, out["time_s"], np.inf)
    c = np.where(feas, out["cost_usd"], np.inf)
    if sort_col == "balanced_score":
        key = (t / t.min()) * (c / c.min())
    else:
        key = c if sort_col == "cost_usd" else t
    order = np.lexsort((c, t, key))
    k = int(order[0])
    red = {"layout": np.array([li[k]]), "stage": np.array([ev.OK])}
    for name in ("fastest_fit_s", "cheapest_in_deadline_usd", "min_memory_bytes", "fastest_any_memory_s"):
        red[name] = np.array([np.nan])
    nb = ev.training_frame(cfg2.iloc[[int(ci[k])]].reset_index(drop=True), red, lay, ctx).iloc[0]
    return Sensitivity(scale, same["time_s"], same["cost_usd"], same["feasible"], same["reason"],
                       ev.training_headline(nb), float(nb["time_s"]), float(nb["cost_usd"]))
