"""`PlanCache`: re-plan a training job without re-evaluating the model when only the
constraints, the token count or the offer filters change.

What is cached
--------------
One *entry* per (model, catalog contents, calibration stamp, structural options): the
configurations of the whole catalog (every pricing model, provider and accelerator) against the
layouts and their physics, `_evaluate.search_physics`: the model's step time, tokens per step,
memory per GPU and codes up to the memory check, once per distinct hardware and structurally
valid layout (`_evaluate.PhysicsGroup`). None of it depends on the tokens, the deadline, the
budget or the prices, so every request is `_evaluate.search_training` with that physics passed
in: the configurations' tail (steps and work for the tokens, reliability, cost, the CPU /
goodput / deadline / budget checks) on the layouts that fit, and the reduction -- the same code
as a cold plan, without its physics.

* tokens change: the tail and the reduction only;
* deadline, budget or objective change: the deadline and budget checks on the last request's
  tail (kept) and the reduction;
* pricing / provider / accelerator filter change: the filtered configurations and layouts are
  mapped onto the entry's (`_evaluate.PhysicsGroup.subset`, kept for ``MAX_FILTERS`` filters);
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
from ..hardware import load_catalog
from . import _evaluate as ev
from . import _training as tr
from ._reasons import TrainingDrop

__all__ = ["PlanCache"]

D = TrainingDrop
_FILTERS = ("providers", "pricing", "accelerators")
_SCORING = ("objective", "now")
#: all pricing models an entry evaluates
_ALL_PRICINGS = ("on_demand", "spot", "reserved_1y")
_CFG_KEY = ("provider", "instance_type", "region", "pricing", "accelerator", "nodes", "storage_tier",
            "gpus_per_node", "price_usd_per_hour", "efficiency", "comm_efficiency", "ckpt_bw_bytes_per_s")


#: plan_training's arguments in the order _training._resolve takes them (those it has)
_LAYOUT_ARGS = ("tp", "pp", "micro_batch", "zero_stage", "recompute", "ep", "cp", "virtual_stages", "schedules")
_RELIABILITY_ARGS = ("failure_rate_per_gpu_hour", "spot_preemption_rate_per_hour", "restart_s",
                     "job_failure_rate_per_hour", "fleet_class")


def _plan_params() -> dict:
    import inspect

    return inspect.signature(tr.plan_training).parameters


def _lay_ep(lay) -> np.ndarray:
    ep = getattr(lay, "ep", None)
    return np.ones_like(lay.tp) if ep is None else ep


def _lay_keys(lay):
    """One key per layout: (tp, pp, micro-batch, ZeRO, recompute, ep, cp, virtual stages, schedule)."""
    ones = np.ones_like(lay.tp)
    return zip(lay.tp, lay.pp, lay.mb, lay.zero, lay.rc, _lay_ep(lay), getattr(lay, "cp", ones),
               getattr(lay, "v", ones), getattr(lay, "sched", 0 * ones))


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
    """One evaluated search: the configurations of the whole catalog (every pricing, provider
    and accelerator) x the layouts, and their physics (`_evaluate.PhysicsGroup`s: step time,
    tokens per step, memory and the codes up to memory of every candidate that passes the
    structural checks, once per distinct hardware). Nothing in it depends on the tokens, the
    deadline, the budget or the prices."""

    cfg: pd.DataFrame
    lay: object
    physics: list
    lay_index: dict
    row_index: dict
    group_of_row: np.ndarray  # configuration row -> index into physics (-1: not priced)
    loc_of_row: np.ndarray  # configuration row -> its hardware row in that group
    filters: OrderedDict = dataclasses.field(default_factory=OrderedDict)  # filter key -> _Filtered

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays it holds (its filtered views and tail memo included, arrays they
        share counted once; the configuration tables not)."""
        arrays = [self.group_of_row, self.loc_of_row]
        for g in self.physics:
            arrays += g.arrays()
        for f in self.filters.values():
            arrays += f.arrays()
        return int(sum({id(a): a.nbytes for a in arrays}.values()))


@dataclasses.dataclass
class _Filtered:
    offers: pd.DataFrame
    lay: object
    cfg: pd.DataFrame
    ctx: ev.TrainingContext
    physics: list
    #: token count -> the search's tail before the deadline and budget checks (``memo`` of
    #: `_evaluate.search_training`), for the last ``MAX_TOKEN_MEMOS`` token counts
    memos: OrderedDict = dataclasses.field(default_factory=OrderedDict)

    def memo(self, tokens: float) -> list[dict]:
        if tokens in self.memos:
            self.memos.move_to_end(tokens)
        else:
            self.memos[tokens] = [{} for _ in self.physics]
            while len(self.memos) > MAX_TOKEN_MEMOS:
                self.memos.popitem(last=False)
        return self.memos[tokens]

    def arrays(self) -> list:
        out = [a for g in self.physics for a in g.arrays()]
        for memo in self.memos.values():
            for m in memo:
                if m:
                    out.append(m["oom_fastest"])
                    out += [a for c in m["chunks"] for a in c[2:]]
        return out


#: filtered views kept per entry (least recently used dropped first)
MAX_FILTERS = 4
#: token counts whose deadline/budget-free tail a filtered view keeps
MAX_TOKEN_MEMOS = 1


def _lru_init(cache, max_entries) -> None:
    """The state both plan caches (`PlanCache`, `ServingPlanCache`) start with: an empty
    ``OrderedDict`` of at most ``max_entries`` entries (least recently used dropped first) and
    their hit/miss counters."""
    if isinstance(max_entries, bool) or int(max_entries) != max_entries or max_entries < 1:
        raise ValueError(f"max_entries must be a whole number >= 1, got {max_entries!r}")
    cache.max_entries = int(max_entries)
    cache._entries = OrderedDict()
    cache.hits = 0
    cache.misses = 0
    cache.last_full = False


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
        Entries kept (least recently used dropped first). An entry keeps the model's physics of
        every candidate that passes the structural checks, once per distinct hardware (not per
        provider, region, pricing or storage tier), plus up to ``MAX_FILTERS`` re-indexed views
        for provider / pricing / accelerator filters and the tail of the last request before its
        deadline and budget checks (``MAX_TOKEN_MEMOS``; a deadline or budget change re-marks
        it): for a 70B model over the whole shipped catalog about 55 MB (``nbytes``), so the
        cache holds at most ``max_entries`` times that.

    Attributes
    ----------
    hits, misses : int
        Requests answered from an entry, and full evaluations.
    last_full : bool
        Whether the last request ran a full evaluation (widgets show "planning..." then).
    """

    def __init__(self, max_entries: int = 2):
        _lru_init(self, max_entries)

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
            res["overlap"] = (sig.get("overlap_tp_comm", False), sig.get("overlap_ep_comm", False),
                              sig.get("ep_dispatcher", "alltoall"))
        if "estimates" in params:  # keys its own entry (offers built on estimates left out or not)
            res["estimates"] = sig.get("estimates", True)
        return req, res

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays the entries hold (the bound ``max_entries`` sets)."""
        return sum(e.nbytes for e in self._entries.values())

    def _build(self, model, tokens, opts) -> _Entry:
        req, res = self._args(model, tokens, None, None, opts, _ALL_PRICINGS)
        _offers, lay, cfg, ctx = tr._resolve(req, providers=None, accelerators=None, **res)
        physics = ev.search_physics(ev._cfg_arrays(cfg, shape_col=False), lay, ctx)
        group_of_row = np.full(len(cfg), -1, dtype=np.int64)
        loc_of_row = np.zeros(len(cfg), dtype=np.int64)
        for i, g in enumerate(physics):
            group_of_row[g.sel] = i
            loc_of_row[g.sel] = g.loc
        row_index: dict = {}
        for i, k in enumerate(_row_keys(cfg)):
            row_index.setdefault(k, i)
        return _Entry(cfg=cfg, lay=lay, physics=physics, lay_index={k: i for i, k in enumerate(_lay_keys(lay))},
                      row_index=row_index, group_of_row=group_of_row, loc_of_row=loc_of_row)

    def _filtered(self, e: _Entry, model, tokens, opts) -> _Filtered | None:
        """The request's offers, layouts, configurations and context (`_training._resolve` with
        its filters) and the entry's physics re-indexed onto them; None when the entry lacks a
        configuration or a layout of them."""
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
        same = cols.size == e.lay.n and bool((cols == np.arange(cols.size)).all())
        gid = e.group_of_row[rows]
        physics = []
        for i, g in enumerate(e.physics):
            sel = np.flatnonzero(gid == i)
            if sel.size:
                physics.append(g.subset(sel, e.loc_of_row[rows[sel]], None if same else cols))
        val = _Filtered(offers=offers, lay=lay, cfg=cfg, ctx=ctx, physics=physics)
        e.filters[fkey] = val
        while len(e.filters) > MAX_FILTERS:
            e.filters.popitem(last=False)
        return val

    def _answer(self, e: _Entry, model, tokens, deadline, budget_usd, opts, t0):
        req, _ = self._args(model, tokens, deadline, budget_usd, opts, opts.get("pricing", ("on_demand", "spot")))
        f = self._filtered(e, model, tokens, opts)
        if f is None:  # a filter whose layouts or rows the entry lacks: plan cold
            self.last_full = True
            return tr.plan_training(model, tokens, deadline, budget_usd, **opts)
        offers, lay, cfg = f.offers, f.lay, f.cfg
        ctx = dataclasses.replace(f.ctx, tokens=req.tokens, deadline_s=req.deadline_s, budget_usd=req.budget_usd)
        # the search without its physics (search_training's tail and reduction), then plan_training's scoring
        for other in e.filters.values():  # one tail memo per entry: the filter in use
            if other is not f:
                other.memos.clear()
        reduced, reason_counts, n_eval, _ = ev.search_training(cfg, lay, ctx, physics=f.physics,
                                                               memo=f.memo(req.tokens))
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

