"""`aicost.plan.PlanCache`: re-plans from the cached candidate arrays equal cold plans."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import aicost
from aicost.plan import PlanCache, plan_training

MODEL = "llama-3.1-8b"
BASE = dict(tokens=2e11, deadline="20d", max_gpus=128)


@pytest.fixture(scope="module")
def cat():
    return aicost.catalog.load()


@pytest.fixture(scope="module")
def cache(cat):
    c = PlanCache(max_entries=2)
    c.plan_training(MODEL, catalog=cat, **BASE)
    return c


def _same(a, b):
    assert a.reason_counts.equals(b.reason_counts)
    assert a.n_evaluated == b.n_evaluated
    assert a.search.n_modeled == b.search.n_modeled
    assert np.array_equal(a.search.ok, b.search.ok)
    pd.testing.assert_frame_equal(a.candidates, b.candidates)
    pd.testing.assert_frame_equal(a.pareto, b.pareto)
    assert a.best.headline == b.best.headline
    assert a.best.row == b.best.row or pd.Series(a.best.row).equals(pd.Series(b.best.row))
    sa, sb = a.best.sensitivity, b.best.sensitivity  # NaN-aware (nothing feasible at the lower efficiency)
    assert (sa is None) == (sb is None)
    if sa is not None:
        assert [getattr(sa, f) for f in sa.__dataclass_fields__] == [getattr(sb, f) for f in sb.__dataclass_fields__] \
            or pd.Series(sa.__dict__).equals(pd.Series(sb.__dict__))
    assert a.assumptions == b.assumptions


CHANGES = [
    {},
    {"deadline": "40d"},
    {"deadline": "3d"},
    {"deadline": None, "budget_usd": 2e5},
    {"budget_usd": 1e6},
    {"tokens": 5e11},
    {"tokens": 1e11, "deadline": "10d"},
    {"pricing": "on_demand"},
    {"pricing": ("spot", "reserved_1y")},
    {"providers": ["aws", "gcp"]},
    {"providers": ["lambda"], "tokens": 3e11},
    {"accelerators": ["H100"]},
    {"objective": "time"},
]


@pytest.mark.parametrize("change", CHANGES, ids=[str(c) or "same" for c in CHANGES])
def test_replan_equals_cold_plan(cache, cat, change):
    kw = dict(BASE, **change)
    full_before = cache.misses
    try:
        cold = plan_training(MODEL, catalog=cat, **kw)
    except aicost.InfeasibleError as err:
        with pytest.raises(aicost.InfeasibleError) as warm_err:
            cache.plan_training(MODEL, catalog=cat, **kw)
        assert str(warm_err.value) == str(err)
        return
    warm = cache.plan_training(MODEL, catalog=cat, **kw)
    assert cache.misses == full_before  # answered from the cached arrays
    assert not cache.last_full
    _same(warm, cold)


def test_structural_change_is_a_new_entry_and_lru_is_bounded(cat):
    c = PlanCache(max_entries=1)
    assert c.will_reevaluate(MODEL, catalog=cat, max_gpus=64)
    c.plan_training(MODEL, 1e11, "30d", catalog=cat, max_gpus=64)
    assert not c.will_reevaluate(MODEL, catalog=cat, max_gpus=64, pricing="spot")
    c.plan_training(MODEL, 1e11, "30d", catalog=cat, max_gpus=64, pricing="spot")
    assert (c.misses, c.hits) == (1, 1)
    c.plan_training(MODEL, 1e11, "30d", catalog=cat, max_gpus=64, dtype="fp8")
    assert c.last_full and c.misses == 2 and len(c) == 1


def test_catalog_change_invalidates(cat):
    c = PlanCache()
    mine = aicost.catalog.load()
    c.plan_training(MODEL, 1e11, "30d", catalog=mine, max_gpus=64)
    mine.instances.loc[:, "price_on_demand_usd_per_hour"] = mine.instances["price_on_demand_usd_per_hour"] * 2
    assert c.will_reevaluate(MODEL, catalog=mine, max_gpus=64)


def test_max_entries_checked():
    with pytest.raises(ValueError):
        PlanCache(max_entries=0)


def test_moe_replans_equal_cold_plans(cat):
    c = PlanCache()
    base = dict(tokens=1e11, deadline="30d", max_gpus=64, catalog=cat)
    c.plan_training("mixtral-8x7b", **base)
    for change in ({"deadline": "10d"}, {"tokens": 3e11}, {"pricing": "spot"}):
        kw = dict(base, **change)
        _same(c.plan_training("mixtral-8x7b", **kw), plan_training("mixtral-8x7b", **kw))
    assert c.misses == 1


def test_unknown_option_is_a_type_error():
    with pytest.raises(TypeError, match="max_gpu"):
        PlanCache().plan_training(MODEL, 1e11, "30d", max_gpu=8)


def test_training_planner_widget_uses_the_cache(cat):
    pytest.importorskip("ipywidgets")
    pytest.importorskip("plotly")
    from aicost.widgets import training_planner

    tp = training_planner(MODEL, tokens=2e11, deadline="20d", catalog=cat, max_gpus=128)
    assert tp.plan_cache.misses == 1
    tp.controls["deadline_days"].value = 40.0
    tp.controls["budget_usd"].value = 2e6
    tp.flush()
    assert tp.plan_cache.misses == 1 and tp.plan_cache.hits >= 1
    cold = plan_training(MODEL, 2e11, deadline=40 * 86400.0, budget_usd=2e6, catalog=cat, max_gpus=128,
                         pricing=tuple(tp.value("pricing")))
    assert tp.plan.best.headline == cold.best.headline
    assert tp._pending_status() == ""  # a cached re-plan: no "planning..."
    other = next(m for m in tp.controls["model"].options if m != MODEL)
    assert tp.plan_cache.will_reevaluate(other, catalog=cat, max_gpus=128)  # -> "planning..."


def test_cp_interleaving_and_overlap_replans_equal_cold_plans(cat):
    """Issue 12: with context parallelism and interleaved schedules in the search (a long sequence),
    re-plans equal cold plans; an overlap option keys its own entry."""
    c = PlanCache()
    base = dict(tokens=1e11, deadline="30d", max_gpus=64, catalog=cat, seq_len=32768, global_batch_tokens=2**23,
                providers=["aws", "gcp"])
    first = c.plan_training(MODEL, **base)
    assert set(first.search.layouts.cp) > {1} and set(first.search.layouts.v) > {1}
    for change in ({"deadline": "12d"}, {"tokens": 2e11}, {"pricing": "spot"}, {"providers": ["aws"]}):
        kw = dict(base, **change)
        _same(c.plan_training(MODEL, **kw), plan_training(MODEL, **kw))
    assert c.misses == 1
    kw = dict(base, overlap_tp_comm=True)
    assert c.will_reevaluate(MODEL, **{k: v for k, v in kw.items() if k != "tokens"})
    _same(c.plan_training(MODEL, **kw), plan_training(MODEL, **kw))
    assert c.misses == 2
