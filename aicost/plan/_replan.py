"""`PlanCache`: re-plan a training job without re-evaluating the model when only the
constraints, the token count or the offer filters change.

What is cached
--------------
One *entry* per (model, catalog contents, calibration stamp, structural options): the
configurations of the whole catalog (every pricing model, provider and accelerator) against the
layouts, evaluated once by the planner's kernel (``_evaluate.training_kernel``) without a
deadline or a budget. Per candidate it keeps the reason code (structure, memory), the memory per
GPU and, for every candidate that went through the model, the step time, the global batch, the
expected wall time and the expected cost at the entry's token count.

A request then costs

* deadline or budget change: no model evaluation; the codes are re-marked and reduced again;
* tokens change: steps, work, the failure/checkpoint terms (``aicost.model.reliability_arrays``)
  and the cost are recomputed as arrays from the cached step times (step time and memory do not
  depend on the number of steps);
* pricing / provider / accelerator filter change: the filtered configurations are mapped onto
  the cached rows (no model evaluation);
* model or structural option change: one full evaluation (a new entry).

Every answer is built by the same scoring and assembly as `plan_training` and is identical to a
cold `plan_training` with the same arguments (tests/test_replan.py).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections import OrderedDict

import numpy as np
import pandas as pd

from .._errors import InfeasibleError
from .._units import HOUR_S, MONTH_S
from ..hardware import load_catalog
from ..model import DEFAULT_JOB_FAILURES_PER_HOUR, reliability_arrays
from . import _evaluate as ev
from . import _training as tr
from ._reasons import MIN_GOODPUT, TrainingDrop

__all__ = ["PlanCache"]

D = TrainingDrop
_FILTERS = ("providers", "pricing", "accelerators")
_SCORING = ("objective", "now")
#: all pricing models an entry evaluates
_ALL_PRICINGS = ("on_demand", "spot", "reserved_1y")
_CFG_KEY = ("provider", "instance_type", "region", "pricing", "accelerator", "nodes", "storage_tier",
            "gpus_per_node", "price_usd_per_hour", "efficiency", "comm_efficiency", "ckpt_bw_bytes_per_s")


#: plan_training's arguments in the order _training._resolve takes them (those it has)
_LAYOUT_ARGS = ("tp", "pp", "micro_batch", "zero_stage", "recompute", "ep", "cp", "virtual_stages")
_RELIABILITY_ARGS = ("failure_rate_per_gpu_hour", "spot_preemption_rate_per_hour", "restart_s",
                     "job_failure_rate_per_hour", "fleet_class")


def _plan_params() -> dict:
    import inspect

    return inspect.signature(tr.plan_training).parameters


def _lay_ep(lay) -> np.ndarray:
    ep = getattr(lay, "ep", None)
    return np.ones_like(lay.tp) if ep is None else ep


def _lay_keys(lay):
    """One key per layout: (tp, pp, micro-batch, ZeRO, recompute, ep, cp, virtual stages)."""
    ones = np.ones_like(lay.tp)
    return zip(lay.tp, lay.pp, lay.mb, lay.zero, lay.rc, _lay_ep(lay), getattr(lay, "cp", ones),
               getattr(lay, "v", ones))


def _row_keys(cfg: pd.DataFrame):
    """One hashable key per configuration row (NaN-safe: compared as text)."""
    return zip(*(cfg[c].astype(str).to_numpy() for c in _CFG_KEY))


def _frame_stamp(df) -> int:
    if not isinstance(df, pd.DataFrame) or df.empty:
        return 0
    return int(pd.util.hash_pandas_object(df.astype(str), index=False).to_numpy().sum())


_STAMPS: dict = {}


def _quick_stamp(cat) -> tuple:
    return tuple((getattr(cat, n, pd.DataFrame()).shape,
                  float(np.nansum(pd.to_numeric(getattr(cat, n, pd.DataFrame()).select_dtypes("number")
                                                .to_numpy(dtype=float, na_value=np.nan).ravel(),
                                                errors="coerce"))))
                 for n in ("instances", "accelerators", "storage_tiers", "fabrics"))


def catalog_stamp(cat) -> tuple:
    """A content fingerprint of a catalog (its four tables, hashed as text).

    The full hash is memoized per catalog object and re-checked by a cheap fingerprint (table
    shapes and the sum of the numeric cells), so a catalog edited in place gets a new stamp.
    """
    quick = _quick_stamp(cat)
    memo = _STAMPS.get(id(cat))
    if memo is not None and memo[0] is cat and memo[1] == quick:
        return memo[2]
    full = tuple(_frame_stamp(getattr(cat, n, None))
                 for n in ("instances", "accelerators", "storage_tiers", "fabrics"))
    _STAMPS.clear()  # keep one catalog (the strong reference stops id re-use)
    _STAMPS[id(cat)] = (cat, quick, full)
    return full


def calibration_stamp(store) -> tuple:
    """The store's identity and its file's modification stamp (a new measurement changes it)."""
    from .. import store as _store

    path = getattr(store, "path", None) if store is not None else _store.default_path()
    try:
        st = os.stat(path)
        return (str(path), st.st_mtime_ns, st.st_size)
    except (OSError, TypeError):  # no store file: no measurements, the shipped calibration
        return ("no store",)


def _hashable(v):
    if isinstance(v, dict):
        return tuple(sorted((k, _hashable(x)) for k, x in v.items()))
    if isinstance(v, (list, tuple, set, frozenset)):
        return tuple(_hashable(x) for x in (sorted(v, key=repr) if isinstance(v, (set, frozenset)) else v))
    if isinstance(v, (str, int, float, bool, type(None))):
        return v
    return repr(v)


@dataclasses.dataclass
class _Entry:
    lay: object
    lay_index: dict
    row_index: dict
    cfg: pd.DataFrame
    code: np.ndarray  # (rows, layouts) int8: final code without deadline/budget/low goodput
    mem: np.ndarray  # per modeled: memory per GPU [B]
    slot: np.ndarray  # (rows, layouts) int32: index into the modeled arrays, -1 if not modeled
    mrow: np.ndarray  # modeled -> row
    step_s: np.ndarray
    global_batch: np.ndarray
    n_gpus: np.ndarray
    ctx: ev.TrainingContext
    tails: OrderedDict  # tokens -> (t, cost, low_goodput) per modeled
    filters: OrderedDict  # filter key -> (offers, lay, cfg, rows, cols)
    wall_factor: np.ndarray  # per modeled: M e^{R/M} (e^{(tau+d)/M} - 1), independent of the work
    interval_s: np.ndarray  # per modeled: the Daly checkpoint interval tau
    no_failures: np.ndarray  # per modeled: infinite MTBF (wall = work)
    views: OrderedDict = dataclasses.field(default_factory=OrderedDict)  # (filters, tokens) -> _view


class PlanCache:
    """A bounded, keyed LRU cache of evaluated training searches, for fast re-plans.

    ``cache.plan_training(...)`` takes `plan_training`'s arguments and returns the same
    `TrainingPlan` a cold call would (same best plan, frontier, candidates and reason counts).
    Deadline, budget, objective, tokens and the pricing / provider / accelerator filters are
    answered from the cached candidate arrays; any other argument (model, catalog contents,
    the store's calibration, dtype, seq_len, layout pins, reliability, efficiency, GPU limits,
    storage tier) selects another entry, evaluated in full once.

    Parameters
    ----------
    max_entries : int
        Entries kept (least recently used dropped first). One entry for a 70B model over the
        whole shipped catalog (11M candidates, 2.6M of them modeled) holds ~270 MB of arrays
        (more while re-plans for other token counts or filters are kept: up to 2 each).

    Attributes
    ----------
    hits, misses : int
        Requests answered from an entry, and full evaluations.
    last_full : bool
        Whether the last request ran a full evaluation (widgets show "planning..." then).
    """

    def __init__(self, max_entries: int = 2):
        if int(max_entries) < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries!r}")
        self.max_entries = int(max_entries)
        self._entries: OrderedDict = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.last_full = False

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Drop every entry."""
        self._entries.clear()

    def will_reevaluate(self, model, **options) -> bool:
        """Whether `plan_training` with these arguments would run a full evaluation."""
        try:
            key, _ = self._key(model, options)
        except (ValueError, TypeError):
            return True
        return key not in self._entries

    # ------------------------------------------------------------------ keys
    def _key(self, model, options):
        from ..model import resolve_model

        spec = resolve_model(model)
        cat = load_catalog(options.get("catalog"))
        struct = tuple(sorted((k, _hashable(v)) for k, v in options.items()
                              if k not in _FILTERS + _SCORING + ("catalog", "store", "detail")))
        return (repr(spec), catalog_stamp(cat), calibration_stamp(options.get("store")), struct), cat

    # ------------------------------------------------------------------ the call
    def plan_training(self, model, tokens, deadline=None, budget_usd=None, **options) -> tr.TrainingPlan:
        """`plan_training` answered from the cache when it can (same arguments, same result)."""
        unknown = sorted(set(options) - set(_plan_params()))
        if unknown:
            raise TypeError(f"plan_training() got an unexpected keyword argument {unknown[0]!r}")
        if options.get("detail"):
            self.last_full = True
            return tr.plan_training(model, tokens, deadline, budget_usd, **options)
        t0 = time.perf_counter()
        key, cat = self._key(model, options)
        opts = dict(options, catalog=cat)
        entry = self._entries.get(key)
        self.last_full = entry is None
        if entry is None:
            self.misses += 1
            entry = self._build(model, tokens, opts)
            self._entries[key] = entry
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        else:
            self.hits += 1
            self._entries.move_to_end(key)
        return self._answer(entry, model, tokens, deadline, budget_usd, opts, t0)

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _args(model, tokens, deadline, budget_usd, opts, pricing):
        sig = {k: v for k, v in opts.items() if k not in _FILTERS + _SCORING + ("detail",)}
        req = tr._validate(model, tokens, deadline, budget_usd, pricing=pricing,
                           max_gpus=sig.get("max_gpus", tr.DEFAULT_MAX_GPUS), min_gpus=sig.get("min_gpus", 1),
                           objective=opts.get("objective", "auto"), seq_len=sig.get("seq_len"),
                           global_batch_tokens=sig.get("global_batch_tokens", tr.DEFAULT_GLOBAL_BATCH_TOKENS),
                           dtype=sig.get("dtype", "bf16"), now=opts.get("now"))
        params = _plan_params()
        layout = tuple(sig.get(k) for k in _LAYOUT_ARGS if k in params)
        rel = tuple(sig.get(k) for k in _RELIABILITY_ARGS if k in params)
        res = dict(catalog=sig["catalog"], store=sig.get("store"), storage_tier=sig.get("storage_tier"),
                   efficiency=sig.get("efficiency"), layout=layout, reliability=rel)
        if "preprocess_tokens_per_s_per_vcpu" in params:
            res["preprocess_rate"] = sig.get("preprocess_tokens_per_s_per_vcpu")
        if "overlap_tp_comm" in params:
            res["overlap"] = (sig.get("overlap_tp_comm", False), sig.get("overlap_ep_comm", False))
        if "estimates" in params:  # keys its own entry (offers built on estimates left out or not)
            res["estimates"] = sig.get("estimates", True)
        return req, res

    def _build(self, model, tokens, opts) -> _Entry:
        req, res = self._args(model, tokens, None, None, opts, _ALL_PRICINGS)
        _offers, lay, cfg, ctx = tr._resolve(req, providers=None, accelerators=None, **res)
        n_cfg, n_lay = len(cfg), lay.n
        carr = ev._cfg_arrays(cfg, shape_col=False)
        larr = ev._lay_arrays(lay, row=False)
        code = np.zeros((n_cfg, n_lay), dtype=np.int8)
        price = carr["price_usd_per_hour"]
        priced = np.isfinite(price) & (price > 0)
        code[~priced] = D.NOT_OFFERED
        # the search's structural checks, on the whole grid
        struct = ev.structural_codes({k: v[:, None] for k, v in carr.items()}, larr, ctx)
        code[priced] = struct[priced]
        todo = priced[:, None] & (struct == 0)
        flat = np.flatnonzero(todo)
        ci, li = np.divmod(flat, n_lay)
        nm = flat.size
        t = np.empty(nm)
        cost = np.empty(nm)
        low = np.empty(nm, dtype=bool)
        step = np.empty(nm)
        gb = np.empty(nm)
        ngpu = np.empty(nm)
        mem = np.empty(nm)
        chunk = ev._CHUNK_CANDIDATES
        for lo in range(0, nm, chunk):
            s = slice(lo, lo + chunk)
            c1 = {k: v.take(ci[s]) for k, v in carr.items()}
            l1 = {k: v.take(li[s]) for k, v in larr.items()}
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                out = ev.training_kernel(c1, l1, ctx)
            k = out["code"].astype(np.int8)
            low[s] = k == D.LOW_GOODPUT
            code.ravel()[flat[s]] = np.where(k == D.LOW_GOODPUT, np.int8(0), k)
            t[s] = np.nan_to_num(out["time_s"], nan=np.inf)
            cost[s] = np.nan_to_num(out["cost_usd"], nan=np.inf)
            mem[s] = out["memory_bytes"]
            step[s] = out["step_s"]
            gb[s] = out["global_batch"]
            ngpu[s] = out["n_gpus"]
        wall_factor, interval, no_fail = _reliability_factors(ctx, cfg, ci, step, gb, ngpu)
        slot = np.full((n_cfg, n_lay), -1, dtype=np.int32)
        slot.ravel()[flat] = np.arange(nm, dtype=np.int32)
        lay_index = {k: i for i, k in enumerate(_lay_keys(lay))}
        row_index: dict = {}
        for i, k in enumerate(_row_keys(cfg)):
            row_index.setdefault(k, i)
        tails = OrderedDict({req.tokens: (t, cost, low)})
        return _Entry(lay=lay, lay_index=lay_index, row_index=row_index, cfg=cfg, code=code, mem=mem,
                      slot=slot, mrow=ci.astype(np.int32), step_s=step, global_batch=gb, n_gpus=ngpu,
                      ctx=ctx, tails=tails, filters=OrderedDict(), wall_factor=wall_factor,
                      interval_s=interval, no_failures=no_fail)

    def _tail(self, e: _Entry, tokens: float, rows: np.ndarray, fkey):
        """Expected wall time, cost and the low-goodput mask of the modeled candidates of
        ``rows`` for ``tokens`` (the kernel's tail: steps, work, ``reliability_arrays``, cost);
        other entries are NaN (never read)."""
        base = e.tails.get(e.ctx.tokens)
        if tokens == e.ctx.tokens and base is not None:
            return base
        tkey = (tokens, fkey)
        if tkey in e.tails:
            e.tails.move_to_end(tkey)
            return e.tails[tkey]
        want = np.zeros(len(e.cfg), dtype=bool)
        want[rows] = True
        idx = np.flatnonzero(want[e.mrow])
        full = self._tail_at(e, tokens, idx)
        e.tails[tkey] = full
        while len(e.tails) > 3:  # the entry's own tokens stay first
            k = next(iter(k for k in e.tails if k != e.ctx.tokens))
            del e.tails[k]
        return full

    @staticmethod
    def _tail_at(e: _Entry, tokens: float, idx: np.ndarray):
        """The kernel's tail for the modeled candidates ``idx``: ``steps = ceil(tokens /
        tokens_per_step)``, ``work = steps x step``, the expected wall time ``A x work / tau``
        (``aicost.model.expected_wall_time`` with the failure/checkpoint factor ``A`` and the
        Daly interval ``tau`` cached: they do not depend on the work), the goodput and the cost."""
        ctx, cfg, r = e.ctx, e.cfg, e.mrow[idx]
        gpn = cfg["gpus_per_node"].to_numpy(dtype=float)[r]
        ckpt_bytes = ev._checkpoint_bytes(ctx.spec)
        price_gpu = (cfg["price_usd_per_hour"].to_numpy(dtype=float)[r] / gpn)
        store_rate = cfg["storage_usd_per_gb_month"].to_numpy(dtype=float)[r]
        n_gpus = e.n_gpus[idx]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            steps = np.ceil(np.asarray(float(tokens)) / (e.global_batch[idx] * float(ctx.seq_len)))
            w = steps * e.step_s[idx]
            wall = np.where(e.no_failures[idx], w, e.wall_factor[idx] * w / e.interval_s[idx])
            goodput = np.where(wall > 0, w / wall, 1.0)
            exp_cost = wall * n_gpus / HOUR_S * price_gpu
            storage = ev.CHECKPOINT_KEEP * ckpt_bytes / 1e9 * store_rate * (wall / MONTH_S)
            cost = exp_cost + storage
            low = ~np.isfinite(wall) | ~(goodput >= MIN_GOODPUT)
        n = e.mrow.size
        t_all, c_all, l_all = np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, dtype=bool)
        t_all[idx] = np.nan_to_num(wall, nan=np.inf)
        c_all[idx] = np.nan_to_num(cost, nan=np.inf)
        l_all[idx] = low
        return t_all, c_all, l_all

    def _filtered(self, e: _Entry, model, tokens, opts):
        fkey = tuple(_hashable(opts.get(k)) for k in _FILTERS)
        if fkey in e.filters:
            e.filters.move_to_end(fkey)
            return e.filters[fkey]
        req, res = self._args(model, tokens, None, None, opts, opts.get("pricing", ("on_demand", "spot")))
        offers, lay, cfg, ctx = tr._resolve(req, providers=opts.get("providers"),
                                            accelerators=opts.get("accelerators"), **res)
        cols = np.array([e.lay_index.get(k, -1) for k in _lay_keys(lay)], dtype=np.int64)
        rows = np.array([e.row_index.get(k, -1) for k in _row_keys(cfg)], dtype=np.int64)
        if (cols < 0).any() or (rows < 0).any():
            return None
        val = (offers, lay, cfg, rows, cols)
        e.filters[fkey] = val
        while len(e.filters) > 8:
            e.filters.popitem(last=False)
        return val

    def _answer(self, e: _Entry, model, tokens, deadline, budget_usd, opts, t0):
        req, _ = self._args(model, tokens, deadline, budget_usd, opts, opts.get("pricing", ("on_demand", "spot")))
        f = self._filtered(e, model, tokens, opts)
        if f is None:  # a filter whose layouts or rows the entry lacks: plan cold
            self.last_full = True
            return tr.plan_training(model, tokens, deadline, budget_usd, **opts)
        offers, lay, cfg, rows, cols = f
        ctx = dataclasses.replace(e.ctx, tokens=req.tokens, deadline_s=req.deadline_s, budget_usd=req.budget_usd)
        fkey = tuple(_hashable(opts.get(k)) for k in _FILTERS)
        tm, cm, lowm = self._tail(e, req.tokens, rows, fkey)
        vkey = (fkey, req.tokens)
        view = e.views.get(vkey)
        if view is None:
            view = _view(e, rows, cols, lay, cfg, ctx, tm, cm, lowm)
            e.views[vkey] = view
            while len(e.views) > 2:
                e.views.popitem(last=False)
        else:
            e.views.move_to_end(vkey)
        reduced, reason_counts = _limits(view, ctx)
        n_eval = view["n_eval"]
        cands, sort_col, objective_text = tr._score(cfg, reduced, lay, ctx, None, req.objective)
        search = tr.TrainingSearch(configs=cfg, layouts=lay, context=ctx, ok=reduced["ok"],
                                   n_modeled=int(reduced["n_modeled"]))
        providers = opts.get("providers")
        request = {
            "model": req.spec.name, "tokens": req.tokens, "deadline_s": req.deadline_s,
            "budget_usd": req.budget_usd,
            "providers": None if providers is None else list(providers) if not isinstance(providers, str)
            else providers, "pricing": list(req.pricing), "max_gpus": req.max_gpus, "dtype": opts.get("dtype", "bf16"),
            "seq_len": req.seq_len, "global_batch_tokens": req.global_batch_tokens,
            "storage_tier": opts.get("storage_tier"), "n_modeled": search.n_modeled,
        }
        plan = tr.TrainingPlan(candidates=cands, request=request, n_evaluated=n_eval, reason_counts=reason_counts,
                               elapsed_s=time.perf_counter() - t0, sort_col=sort_col, objective=objective_text,
                               assumptions=ev.training_assumptions(ctx, req.batch_seqs, lay), search=search,
                               layouts=None)
        if not cands["feasible"].any():
            raise InfeasibleError(ev.training_infeasible_message(cands, ctx, offers, req.max_gpus))
        return plan


def _reliability_factors(ctx, cfg, ci, step, gb, n_gpus):
    """Per modeled candidate, the work-independent parts of ``aicost.model.expected_wall_time``
    (from ``aicost.model.reliability_arrays``'s MTBF and Daly interval), as the kernel calls it."""
    gpn = cfg["gpus_per_node"].to_numpy(dtype=float)[ci]
    ckpt_s = (ev._checkpoint_bytes(ctx.spec) / cfg["ckpt_bw_bytes_per_s"].to_numpy(dtype=float))
    spot = (cfg["pricing"].to_numpy() == "spot").astype(float)
    restart = (np.where(spot > 0, ctx.rel["spot_restart_s"], ctx.rel["restart_s"]) + ckpt_s)[ci]
    d = ckpt_s[ci]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        n_nodes = np.ceil(n_gpus / gpn)
        rel = reliability_arrays(step, n_gpus, n_nodes, d, restart, ctx.rel["failures_per_gpu_hour"],
                                 (spot * ctx.rel["preemptions_per_node_hour"])[ci],
                                 ctx.rel.get("job_failures_per_hour", DEFAULT_JOB_FAILURES_PER_HOUR))
        m, tau = rel["mtbf_s"], rel["interval_s"]
        factor = m * np.exp(restart / m) * np.expm1((tau + d) / m)
    return factor, tau, np.isinf(m)


def _reduce(e: _Entry, rows, cols, lay, cfg, ctx, tm, cm, lowm):
    """`_evaluate.search_training`'s reduction over the cached candidates (same grouping, same
    tie-breaking), with the deadline and the budget applied."""
    n_cfg, n_lay = len(cfg), lay.n
    inf = np.inf
    red = {k: np.full(n_cfg, inf) for k in ("fastest_fit_s", "cheapest_in_deadline_usd",
                                             "min_memory_bytes", "fastest_any_memory_s")}
    red["layout"] = np.zeros(n_cfg, dtype=np.int64)
    red["stage"] = np.ones(n_cfg, dtype=np.int64)
    red["ok"] = np.zeros((n_cfg, n_lay), dtype=bool)
    OK = ev.OK
    counts = np.zeros(OK + 1, dtype=np.int64)
    n_modeled = 0
    price = cfg["price_usd_per_hour"].to_numpy(dtype=float)
    priced = np.isfinite(price) & (price > 0)
    counts[D.NOT_OFFERED] += int((~priced).sum()) * n_lay
    larr = ev._lay_arrays(lay, row=False)
    dom_all = ev._cfg_arrays(cfg, shape_col=False)["scale_up_domain_gpus"]
    for dom in np.unique(dom_all[priced]):  # search_training's grouping, by scale-up domain
        sel = np.flatnonzero(priced & (dom_all == dom))
        lcode = ev.layout_codes(larr, ctx, dom)
        keep = np.flatnonzero(lcode == 0)
        counts += np.bincount(lcode[lcode != 0], minlength=OK + 1)[: OK + 1] * sel.size
        if keep.size == 0:
            red["stage"][sel] = int(lcode.max())
            red["layout"][sel] = int(np.argmax(lcode))
            continue
        ix = np.ix_(rows[sel], cols[keep])
        code = e.code[ix]
        slot = e.slot[ix]
        m = slot >= 0
        n_modeled += int(m.sum())
        sl = slot[m]
        mem = np.full(code.shape, inf)
        mem[m] = e.mem[sl]
        t = np.full(code.shape, inf)
        cost = np.full(code.shape, inf)
        t[m] = tm[sl]
        cost[m] = cm[sl]
        ok0 = m & (code == 0)
        low = np.zeros(code.shape, dtype=bool)
        low[m] = lowm[sl]
        code[ok0 & low] = D.LOW_GOODPUT
        free = ok0 & ~low
        if ctx.deadline_s is not None:
            miss = free & (t > ctx.deadline_s)
            code[miss] = D.DEADLINE_MISSED
            free &= ~miss
        if ctx.budget_usd is not None:
            code[free & (cost > ctx.budget_usd)] = D.OVER_BUDGET
        ev.reduce_layouts(red, counts, sel, keep, code, t, cost, mem)
    red["n_modeled"] = n_modeled
    return red, counts, n_cfg * n_lay


def _reason_counts(counts) -> pd.Series:
    return pd.Series({ev.REASONS[i]: int(counts[i]) for i in sorted(ev.REASONS) if counts[i] > 0},
                     dtype=np.int64)


def _view(e: _Entry, rows, cols, lay, cfg, ctx, tm, cm, lowm) -> dict:
    """The reduction without a deadline or a budget, and the candidates they can still drop:
    the feasible ones (fit in memory, enough goodput), with their time and cost."""
    free = dataclasses.replace(ctx, deadline_s=None, budget_usd=None)
    red, counts, n_eval = _reduce(e, rows, cols, lay, cfg, free, tm, cm, lowm)
    ri, cj = np.nonzero(red["ok"])
    sl = e.slot[rows[ri], cols[cj]]
    return {"red": red, "counts": counts, "n_eval": n_eval, "ri": ri, "cj": cj, "t": tm[sl], "cost": cm[sl]}


def _limits(v: dict, ctx):
    """Apply the deadline and the budget to a `_view`: only the rows with feasible candidates
    change (their stage, chosen layout and cheapest cost within the deadline), exactly as
    `_evaluate.search_training` decides them (fastest at the furthest stage, ties to the first
    layout)."""
    OK = ev.OK
    base = v["red"]
    red = {k: (val.copy() if isinstance(val, np.ndarray) else val) for k, val in base.items() if k != "ok"}
    ri, cj, t, cost = v["ri"], v["cj"], v["t"], v["cost"]
    st = np.full(ri.size, OK, dtype=np.int64)
    if ctx.deadline_s is not None:
        st[t > ctx.deadline_s] = D.DEADLINE_MISSED
    if ctx.budget_usd is not None:
        st[(st == OK) & (cost > ctx.budget_usd)] = D.OVER_BUDGET
    counts = v["counts"].copy()  # feasible candidates count under code 0 there
    moved = st[st != OK]
    counts[0] -= moved.size
    counts += np.bincount(moved, minlength=OK + 1)[: OK + 1]
    ok = np.zeros_like(base["ok"])
    if ri.size:
        starts = np.flatnonzero(np.r_[True, ri[1:] != ri[:-1]])
        rws = ri[starts]
        best = np.maximum.reduceat(st, starts)
        at_best = st == np.repeat(best, np.diff(np.r_[starts, ri.size]))  # per candidate
        key = np.where(at_best, t, np.inf)
        # the first (lowest layout index: nonzero is row-major) fastest candidate at the best stage
        counts_per_row = np.diff(np.r_[starts, ri.size])
        is_min = key == np.repeat(np.minimum.reduceat(key, starts), counts_per_row)
        first = np.flatnonzero(is_min)
        first = first[np.r_[True, ri[first][1:] != ri[first][:-1]]]
        red["layout"][rws] = cj[first]
        red["stage"][rws] = best
        red["cheapest_in_deadline_usd"][rws] = np.minimum.reduceat(
            np.where(st >= D.OVER_BUDGET, cost, np.inf), starts)
        ok[ri, cj] = st == OK
    red["ok"] = ok
    return red, _reason_counts(counts)
