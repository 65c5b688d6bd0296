"""`aicost.plan.ServingPlanCache`: serving re-plans from cached candidates equal cold plans."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

import aicost
from aicost.plan import ServingPlanCache, plan_inference
from aicost.plan import _inference as serving

MODEL = "llama-3.1-8b"
BASE = dict(requests_per_s=40.0, prompt_tokens=512, output_tokens=256, ttft_s=1.0, tpot_s=0.05)


@pytest.fixture(scope="module")
def cat():
    return aicost.catalog.load()


@pytest.fixture(scope="module")
def cache(cat):
    c = ServingPlanCache(max_entries=8)
    _ = c.plan_inference(MODEL, catalog=cat, **BASE).best
    return c


def _same(a, b):
    """The same plan: every candidate, the reason counts, the frontier and the recommendation."""
    assert a.reason_counts.equals(b.reason_counts)
    assert a.n_evaluated == b.n_evaluated
    pd.testing.assert_frame_equal(a.candidates, b.candidates, check_exact=True)
    pd.testing.assert_frame_equal(a.pareto, b.pareto, check_exact=True)
    assert a.best.headline == b.best.headline
    assert pd.Series(a.best.row).equals(pd.Series(b.best.row))
    assert a.best.details == b.best.details
    assert repr(a.best.sensitivity) == repr(b.best.sensitivity)  # NaN-safe
    assert a.assumptions == b.assumptions
    assert a.request == b.request
    assert (a.demand is None) == (b.demand is None)
    if a.demand is not None:
        assert a.demand["summary"] == b.demand["summary"]
        pd.testing.assert_frame_equal(a.demand["curve"], b.demand["curve"], check_exact=True)


# changes answered without evaluating the model again
CHANGES = [
    {},
    {"requests_per_s": 5.0},
    {"requests_per_s": 400.0},
    {"requests_per_s": 0.3, "ttft_s": 0.25},
    {"ttft_s": 0.4},
    {"ttft_s": 3.0},
    {"ttft_s": None},
    {"tpot_s": 0.03},
    {"tpot_s": 0.1},
    {"tpot_s": None, "ttft_s": None},
    {"tpot_s": 0.02, "requests_per_s": 100.0},
    {"ttft_percentile": 0.99},
    {"ttft_percentile": None},
    {"budget_usd_per_hour": 40.0},
    {"budget_usd_per_hour": 0.5},  # below every plan: the same InfeasibleError
    {"ttft_s": 0.001},  # below every prefill: the same InfeasibleError
    {"objective": "time"},
    {"objective": "balanced", "requests_per_s": 12.0},
    {"demand": "synthetic_diurnal_chat_24h", "requests_per_s": None},  # sized for the peak
]


def _compare(c, cat, kw, calls=None):
    """The cache's answer to ``kw`` against a cold plan; ``calls`` (a list the patched model
    kernel appends to) is emptied before the cache's call."""
    calls = [] if calls is None else calls
    try:
        cold = plan_inference(MODEL, catalog=cat, **kw)
        assert cold.best is not None
    except aicost.InfeasibleError as err:
        calls.clear()
        with pytest.raises(aicost.InfeasibleError) as warm_err:
            c.plan_inference(MODEL, catalog=cat, **kw)
        assert str(warm_err.value) == str(err)
        return None
    calls.clear()
    warm = c.plan_inference(MODEL, catalog=cat, **kw)
    assert warm.best is not None  # the recommendation (its -20% re-evaluation) from the cache too
    _same(warm, cold)
    return warm


@pytest.mark.parametrize("change", CHANGES, ids=[str(c) or "same" for c in CHANGES])
def test_replan_equals_cold_plan(cache, cat, change, monkeypatch):
    calls = []
    kernel = serving._kernel
    monkeypatch.setattr(serving, "_kernel", lambda *a, **k: calls.append(1) or kernel(*a, **k))
    misses = cache.misses
    _compare(cache, cat, dict(BASE, **change), calls)
    assert cache.misses == misses and not cache.last_full
    assert calls == []  # the model was not evaluated again


FILTERS = [
    {"pricing": "on_demand"},
    {"pricing": ("spot",), "requests_per_s": 80.0},
    {"providers": ["aws", "gcp"]},
    {"accelerators": ["h100", "l40s"], "tpot_s": 0.03},
    {"engine": "vllm"},
    {"estimates": False},
    {"output_tokens": 128, "ttft_s": 0.5},
]


@pytest.mark.parametrize("change", FILTERS, ids=[str(c) for c in FILTERS])
def test_new_entries_equal_cold_plans(cache, cat, change):
    misses = cache.misses
    _compare(cache, cat, dict(BASE, **change))
    assert cache.misses == misses + 1 and cache.last_full
    # a second request with this entry is a hit, and still the cold plan
    _compare(cache, cat, dict(BASE, **change, budget_usd_per_hour=500.0))
    assert cache.misses == misses + 1


def test_tpot_and_budget_changes_size_nothing_again(cat):
    c = ServingPlanCache()
    _ = c.plan_inference(MODEL, catalog=cat, **BASE).best
    sized = c._replicas.sized
    for tpot in (0.04, 0.03, 0.045):
        _ = c.plan_inference(MODEL, catalog=cat, **dict(BASE, tpot_s=tpot)).best
    _ = c.plan_inference(MODEL, catalog=cat, **dict(BASE, budget_usd_per_hour=100.0)).best
    assert c._replicas.sized == sized  # tighter TPOT targets: replicas already sized
    _ = c.plan_inference(MODEL, catalog=cat, **dict(BASE, requests_per_s=41.0)).best
    assert c._replicas.sized > sized  # a new rate sizes replicas (Erlang C) again


def test_will_reevaluate_names_the_full_evaluations(cat):
    c = ServingPlanCache()
    assert c.will_reevaluate(MODEL, 10.0, catalog=cat)
    c.plan_inference(MODEL, 10.0, catalog=cat)
    assert c.misses == 1 and c.last_full
    for change in ({"ttft_s": "300ms"}, {"tpot_s": 0.02}, {"budget_usd_per_hour": 9.0}, {"objective": "time"}):
        assert not c.will_reevaluate(MODEL, 500.0, catalog=cat, **change)
    for change in ({"prompt_tokens": 1024}, {"engine": "sglang"}, {"dtype": "fp8"}, {"pricing": "spot"},
                   {"efficiency": 0.3}, {"tp": 2}):
        assert c.will_reevaluate(MODEL, 10.0, catalog=cat, **change)
    assert c.will_reevaluate("llama-3.1-70b", 10.0, catalog=cat)
    assert c.will_reevaluate(MODEL, -1.0, catalog=cat)  # invalid: the call raises, as a cold one


def test_catalog_change_invalidates(cat):
    c = ServingPlanCache()
    mine = aicost.catalog.load()
    first = c.plan_inference(MODEL, catalog=mine, **BASE)
    col = "price_on_demand_usd_per_hour"
    mine.instances.loc[:, col] = mine.instances[col] * 2
    assert c.will_reevaluate(MODEL, catalog=mine, **BASE)
    again = c.plan_inference(MODEL, catalog=mine, **BASE)
    assert c.misses == 2
    _same(again, plan_inference(MODEL, catalog=mine, **BASE))
    assert again.best.cost != first.best.cost


def test_store_calibration_change_invalidates(cat, tmp_path):
    from aicost.store import Store

    store = Store(tmp_path / "results.duckdb")
    c = ServingPlanCache()
    c.plan_inference(MODEL, catalog=cat, store=store, **BASE)
    assert not c.will_reevaluate(MODEL, catalog=cat, store=store, **BASE)
    path = tmp_path / "results.duckdb"
    if not path.exists():
        path.write_bytes(b"")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a new measurement lands
    assert c.will_reevaluate(MODEL, catalog=cat, store=store, **BASE)


def test_lru_is_bounded(cat):
    c = ServingPlanCache(max_entries=2)
    for out in (128, 256, 384):
        c.plan_inference(MODEL, catalog=cat, **dict(BASE, output_tokens=out))
    assert len(c) == 2 and c.misses == 3
    assert c.will_reevaluate(MODEL, catalog=cat, **dict(BASE, output_tokens=128))  # dropped first
    assert not c.will_reevaluate(MODEL, catalog=cat, **dict(BASE, output_tokens=384))
    assert 0 < c.nbytes < 200e6
    for rate in np.linspace(1.0, 30.0, 20):  # the replica memo keeps 16 (rate, target) sizings
        c.plan_inference(MODEL, catalog=cat, **dict(BASE, requests_per_s=float(rate)))
    assert len(c._replicas) == 16
    c.clear()
    assert len(c) == 0 and c.will_reevaluate(MODEL, catalog=cat, **BASE)


def test_arguments_checked_as_plan_inference_does():
    with pytest.raises(ValueError):
        ServingPlanCache(max_entries=0)
    with pytest.raises(TypeError, match="ttft"):
        ServingPlanCache().plan_inference(MODEL, 10.0, ttft=1.0)
    with pytest.raises(ValueError, match="requests_per_s"):
        ServingPlanCache().plan_inference(MODEL, -3.0)


def test_unique_replicas_is_replicas_arrays():
    """The planner sizes each distinct replica shape once: the same numbers as sizing all."""
    from aicost.model import replicas_arrays

    rng = np.random.default_rng(3)
    batch = rng.choice([1.0, 8.0, 64.0, 256.0], 300)
    service = rng.choice([2.0, 7.5, 20.0], 300)
    ttft = rng.choice([0.05, 0.2, 0.9], 300)
    for rate, target, pct in ((30.0, 1.0, 0.9), (700.0, np.inf, None), (0.2, 0.3, 0.5)):
        with np.errstate(all="ignore"):
            want = replicas_arrays(rate=rate, batch=batch, service_s=service, base_ttft_s=ttft,
                                   ttft_target_s=target, percentile=pct)
            got = serving.unique_replicas(rate=rate, batch=batch, service_s=service, base_ttft_s=ttft,
                                          ttft_target_s=target, percentile=pct)
        assert np.array_equal(want[0], got[0]) and np.array_equal(want[1], got[1])


def test_serving_planner_widget_uses_the_cache(cat):
    pytest.importorskip("ipywidgets")
    pytest.importorskip("plotly")
    from aicost.widgets import serving_planner

    sp = serving_planner(MODEL, qps=40.0, ttft="1s", tpot="50ms", catalog=cat)
    assert sp.error is None, sp.error
    assert sp.plan_cache.misses == 1 and sp.debounce_s < 0.4
    for name, value in (("qps", 120.0), ("ttft_ms", 600.0), ("tpot_ms", 30.0), ("budget_usd_per_hour", 300.0)):
        sp.controls[name].value = value
        sp.flush()
        assert sp.error is None, sp.error
        assert sp._pending_status() == ""  # a cached re-plan: no "planning..."
    assert sp.plan_cache.misses == 1 and sp.plan_cache.hits >= 4
    cold = plan_inference(MODEL, 120.0, ttft_s=0.6, tpot_s=0.03, budget_usd_per_hour=300.0, catalog=cat,
                          pricing=tuple(sp.value("pricing")))
    assert sp.plan.best.headline == cold.best.headline
    other = next(m for m in sp.controls["model"].options if m != MODEL)
    sp.controls["model"].unobserve(sp._on_change, names="value")
    sp.controls["model"].value = other
    assert "planning" in sp._pending_status()  # a model change evaluates the model


def test_serving_planner_debounces_in_a_running_loop(cat):
    """In a kernel, moves in a row make one re-plan; the status says "planning…" only for a
    change that evaluates the model."""
    pytest.importorskip("ipywidgets")
    pytest.importorskip("plotly")
    import asyncio

    from aicost.widgets import serving_planner

    sp = serving_planner(MODEL, qps=40.0, catalog=cat, accelerators=["h100", "l40s"])
    sp.debounce_s = 0.2  # wide margins: the machine may be loaded
    n = sp.updates

    async def move():
        for qps in (50.0, 60.0, 70.0):
            sp.controls["qps"].value = qps
            await asyncio.sleep(0.005)
        assert "planning" not in sp.status.value
        await asyncio.sleep(0.8)
        sp.controls["prompt_tokens"].value = 1024
        assert "planning" in sp.status.value
        await asyncio.sleep(0.8)

    asyncio.run(move())
    assert sp.updates == n + 2
    assert sp.error is None and sp.plan.request["requests_per_s"] == pytest.approx(70.0)
    assert sp.plan.request["prompt_tokens"] == 1024 and sp.plan_cache.misses == 2
