"""`ServingPlanCache`: re-plan a serving deployment without evaluating the model again when only
the request rate, the latency targets, the budget or the objective change.

What is cached
--------------
One *entry* per (model, prompt and output length, dtypes, engine, efficiencies, tp/batch pins,
catalog contents, the store's calibration, pricing/provider/accelerator filters): the resolved
offers with their efficiencies and the rate- and target-independent side of every candidate
(``_inference._base``: the prefill/decode model, the largest batch that fits, the structural
reason codes and the candidate table without its sized columns), at the configurations'
efficiency and, once a recommendation asked for it, at 80% of it.

A request then costs

* TPOT target change: no model evaluation; the TPOT target re-marks the candidates whose
  replicas are already sized (the sizing memo below);
* request rate or TTFT target change: no model evaluation; only the replica counts are sized
  again (Erlang C, ``aicost.model.replicas_arrays``), once per distinct (batch, service time,
  unloaded TTFT): the offers of one accelerator in every region, provider and pricing share them;
* budget or objective change: no model evaluation and no sizing;
* a change of anything else (model, prompt/output length, engine, dtype, catalog, calibration,
  a filter): a new entry (the offers resolved and the model evaluated once).

The replica sizing is memoized across entries per (rate, TTFT target, percentile) and distinct
(batch, service time, unloaded TTFT): it depends on nothing else.

Every answer is built by the code of `plan_inference` itself (``_inference._plan``), so it is the
`ServingPlan` a cold call returns (tests/test_replan_serving.py).
"""

from __future__ import annotations

import inspect
import time
from collections import OrderedDict

import numpy as np
import pandas as pd

from ..hardware import load_catalog
from ..model import replicas_arrays
from . import _inference as inf
from ._replan import _hashable, _lru_init, calibration_stamp, catalog_stamp

__all__ = ["ServingPlanCache"]

#: distinct (rate, TTFT target, percentile) whose replica sizings are kept
_MAX_SIZINGS = 16
#: `plan_inference` arguments an entry answers for; every other argument keys the entry
_PER_CALL = ("requests_per_s", "demand", "ttft_s", "tpot_s", "ttft_percentile", "budget_usd_per_hour",
             "objective", "min_replicas", "scale_up_lag_s")


class _ReplicasMemo:
    """`_inference.unique_replicas` with memory: per (rate, TTFT target, percentile), the
    replicas and the queued TTFT of every (batch, service time, unloaded TTFT) sized so far.

    ``aicost.model.replicas_arrays`` is elementwise, so a memoized value is the one a fresh
    call gives."""

    def __init__(self, max_keys: int = _MAX_SIZINGS):
        self.max_keys = max_keys
        self._maps: OrderedDict = OrderedDict()
        self.sized = 0  # triples sized (Erlang C), for tests and the benchmark

    def __len__(self) -> int:
        return len(self._maps)

    def __call__(self, *, rate, batch, service_s, base_ttft_s, ttft_target_s, percentile):
        key = (float(rate), float(ttft_target_s), percentile)
        memo = self._maps.get(key)
        if memo is None:
            memo = self._maps[key] = {}
            while len(self._maps) > self.max_keys:
                self._maps.popitem(last=False)
        else:
            self._maps.move_to_end(key)
        trip = np.stack([np.asarray(batch, float), np.asarray(service_s, float),
                         np.asarray(base_ttft_s, float)], axis=1)
        n = trip.shape[0]
        reps, ttft = np.full(n, np.nan), np.full(n, np.nan)
        if n == 0:
            return reps, ttft
        finite = np.isfinite(trip).all(axis=1)
        if not finite.all():  # not memoized (NaN keys never compare equal)
            r, t = inf.unique_replicas(rate=rate, batch=trip[~finite, 0], service_s=trip[~finite, 1],
                                       base_ttft_s=trip[~finite, 2], ttft_target_s=ttft_target_s,
                                       percentile=percentile)
            reps[~finite], ttft[~finite] = r, t
        if finite.any():
            u, inv = np.unique(trip[finite], axis=0, return_inverse=True)
            keys = [tuple(k) for k in u.tolist()]
            missing = [i for i, k in enumerate(keys) if k not in memo]
            if missing:
                m = u[missing]
                r, t = replicas_arrays(rate=rate, batch=m[:, 0], service_s=m[:, 1], base_ttft_s=m[:, 2],
                                       ttft_target_s=ttft_target_s, percentile=percentile)
                self.sized += len(missing)
                for i, a, b in zip(missing, np.asarray(r, float).tolist(), np.asarray(t, float).tolist()):
                    memo[keys[i]] = (a, b)
            vals = np.array([memo[k] for k in keys], dtype=float).reshape(-1, 2)
            inv = inv.reshape(-1)
            reps[finite], ttft[finite] = vals[inv, 0], vals[inv, 1]
        return reps, ttft


class _Entry:
    __slots__ = ("configs", "layouts", "memo")

    def __init__(self, configs: pd.DataFrame, layouts: dict, memo: dict):
        self.configs, self.layouts, self.memo = configs, layouts, memo

    def nbytes(self) -> int:
        """Memory held [B]: the candidate tables and arrays of the cached bases, the offers."""
        total = int(self.configs.memory_usage(deep=True).sum())
        for base in self.memo.get("base", {}).values():
            total += int(base.frame.memory_usage(deep=True).sum())
            total += sum(v.nbytes for d in (base.c, base.lay, base.r) for v in d.values()) + base.struct.nbytes
        return total


def _signature() -> inspect.Signature:
    return inspect.signature(inf.plan_inference)


def _by_name(fn, args: dict, **given):
    """Call ``fn`` with ``given`` and, by name, the arguments of ``args`` it takes (so a new
    `plan_inference` argument reaches `_inference._validate` / `_resolve` as a cold call passes it)."""
    params = inspect.signature(fn).parameters
    return fn(**given, **{k: v for k, v in args.items() if k in params and k not in given})


class ServingPlanCache:
    """A bounded, keyed LRU cache of evaluated serving searches, for fast re-plans.

    ``cache.plan_inference(...)`` takes `plan_inference`'s arguments and returns the same
    `ServingPlan` a cold call would (same candidates, best plan, frontier and reason counts).
    The request rate (or demand trace), the TTFT and TPOT targets and percentile, the budget,
    the objective and the autoscaler settings are answered from a cached entry: the model is
    not evaluated again, only the replicas are sized for a new rate or TTFT target (Erlang C,
    memoized per distinct replica shape). Any other argument (model, prompt/output length,
    engine, dtypes, efficiencies, tp/batch pins, the pricing/provider/accelerator filters, the
    catalog's contents, the store's calibration) selects another entry, evaluated once.

    Parameters
    ----------
    max_entries : int
        Entries kept (least recently used dropped first). An entry for the whole shipped
        catalog (about 200 offers x pricings, 12,600 candidates) holds about 10 MB, 20 MB once
        a recommendation has re-evaluated it at 80% efficiency (`nbytes`; measured 20.7 MB for
        llama-3.1-8b, 41 MB for two such entries); the replica memo adds about 0.5 MB per
        (rate, TTFT target) kept (16 at most, shared by the entries).

    Attributes
    ----------
    hits, misses : int
        Requests answered from an entry, and requests that evaluated the model (new entries).
    last_full : bool
        Whether the last request evaluated the model (widgets show "planning..." then).
    """

    def __init__(self, max_entries: int = 4):
        _lru_init(self, max_entries)
        self._replicas = _ReplicasMemo()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Drop every entry and the replica memo."""
        self._entries.clear()
        self._replicas = _ReplicasMemo()

    @property
    def nbytes(self) -> int:
        """Memory the entries hold [B] (candidate tables and arrays; the replica memo aside)."""
        return sum(e.nbytes() for e in self._entries.values())

    # ------------------------------------------------------------------ keys
    def _request(self, model, requests_per_s, options):
        """The bound arguments (defaults applied) and the checked request (`_inference._validate`)."""
        bound = _signature().bind(model, requests_per_s, **options)
        bound.apply_defaults()
        a = dict(bound.arguments)
        return a, _by_name(inf._validate, a)

    @staticmethod
    def _key(a, ctx, pricing, be):
        """What the model side of the candidates depends on: every argument but the rate, the
        targets, the budget, the objective and the autoscaler; the catalog's contents and the
        store's calibration. Also the loaded catalog."""
        cat = load_catalog(a["catalog"])
        rest = tuple((k, _hashable(v)) for k, v in sorted(a.items())
                     if k not in _PER_CALL + ("model", "catalog", "store"))
        key = (repr(ctx.spec), catalog_stamp(cat), calibration_stamp(a["store"]), tuple(pricing), be, rest)
        return key, cat

    def will_reevaluate(self, model, requests_per_s=None, **options) -> bool:
        """Whether `plan_inference` with these arguments would evaluate the model (a new entry)."""
        try:
            a, (ctx, _rate, _trace, pricing, _objective, be) = self._request(model, requests_per_s, options)
            key, _ = self._key(a, ctx, pricing, be)
        except (ValueError, TypeError, LookupError):
            return True
        return key not in self._entries

    # ------------------------------------------------------------------ the call
    def plan_inference(self, model, requests_per_s=None, **options) -> inf.ServingPlan:
        """`plan_inference` answered from the cache when it can (same arguments, same result)."""
        t0 = time.perf_counter()
        a, (ctx, rate, trace, pricing, objective, be) = self._request(model, requests_per_s, options)
        key, cat = self._key(a, ctx, pricing, be)
        entry = self._entries.get(key)
        self.last_full = entry is None
        if entry is None:
            self.misses += 1
            cfg, lay = _by_name(inf._resolve, a, ctx=ctx, catalog=cat, pricing=pricing,
                                bandwidth_efficiency=be)
            entry = _Entry(cfg, lay, {"base": {}, "replicas": self._replicas})
            self._entries[key] = entry
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        else:
            self.hits += 1
            self._entries.move_to_end(key)
        # the entry's memo serves the candidates' model side; the replicas memo the sizing
        entry.memo["replicas"] = self._replicas
        search = inf.ServingSearch(configs=entry.configs, layouts=entry.layouts, context=ctx, rate=rate,
                                   memo=entry.memo)
        return inf._plan(search, trace, pricing, objective, be, a["providers"], a["demand"],
                         a["min_replicas"], a["scale_up_lag_s"], t0)
