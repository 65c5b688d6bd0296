"""The planner's search (hardware groups, memory first, the tail on fitting layouts only) gives
every configuration what a full `training_kernel` evaluation of every candidate gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import aicost
from aicost.plan import _evaluate as ev
from aicost.plan import plan_training

KEYS = ("fastest_fit_s", "cheapest_in_deadline_usd", "min_memory_bytes", "fastest_any_memory_s")


def _brute_force(cfg, lay, ctx):
    """The search as it was before issue 16: the kernel on every structurally valid candidate
    of every configuration, the dense reduction (`reduce_layouts`)."""
    n_cfg, n_lay = len(cfg), lay.n
    carr = ev._cfg_arrays(cfg, shape_col=False)
    larr = ev._lay_arrays(lay, row=False)
    if ctx.efficiency_table is not None:
        larr["ecol"] = ev.efficiency_columns(ctx, larr["ecode"])
    red = {k: np.full(n_cfg, np.inf) for k in KEYS}
    red["layout"] = np.zeros(n_cfg, dtype=np.int64)
    red["stage"] = np.ones(n_cfg, dtype=np.int64)
    red["ok"] = np.zeros((n_cfg, n_lay), dtype=bool)
    counts = np.zeros(ev.OK + 1, dtype=np.int64)
    price = carr["price_usd_per_hour"]
    priced = np.isfinite(price) & (price > 0)
    counts[ev.D.NOT_OFFERED] += int((~priced).sum()) * n_lay
    n_modeled = 0
    grid = {}
    for dom in np.unique(carr["scale_up_domain_gpus"][priced]):
        sel = np.flatnonzero(priced & (carr["scale_up_domain_gpus"] == dom))
        lcode = ev.layout_codes(larr, ctx, dom)
        keep = np.flatnonzero(lcode == 0)
        counts += np.bincount(lcode[lcode != 0], minlength=ev.OK + 1)[: ev.OK + 1] * sel.size
        if keep.size == 0:
            red["stage"][sel] = int(lcode.max())
            red["layout"][sel] = int(np.argmax(lcode))
            continue
        c = {k: v[sel][:, None] for k, v in carr.items()}
        lk = {k: v[keep][None, :] for k, v in larr.items()}
        code = ev.structural_codes(c, lk, ctx, layout=False)
        ci, li = np.nonzero(code == 0)
        n_modeled += ci.size
        t = np.full(code.shape, np.inf)
        cost = np.full(code.shape, np.inf)
        mem = np.full(code.shape, np.inf)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = ev.training_kernel({k: v[:, 0].take(ci) for k, v in c.items()},
                                     {k: v[0].take(li) for k, v in lk.items()}, ctx)
        code[ci, li] = out["code"]
        t[ci, li] = np.nan_to_num(out["time_s"], nan=np.inf)
        cost[ci, li] = np.nan_to_num(out["cost_usd"], nan=np.inf)
        mem[ci, li] = out["memory_bytes"]
        ev.reduce_layouts(red, counts, sel, keep, code, t, cost, mem)
        grid[dom] = (sel, keep, code, t, cost, mem)
    return red, counts, n_modeled, grid


CASES = [
    ("llama-3.1-8b", dict(tokens=2e11, deadline="20d", max_gpus=32, providers=["aws", "lambda", "azure"])),
    ("llama-3.1-8b", dict(tokens=2e11, budget_usd=3e5, max_gpus=16, pricing=("on_demand", "spot", "reserved_1y"))),
    ("llama-3.1-70b", dict(tokens=1e12, deadline="40d", max_gpus=128, providers=["aws", "gcp"], pp=(1, 4, 8),
                           micro_batch=1)),
    ("mixtral-8x7b", dict(tokens=1e11, deadline="30d", max_gpus=16, providers=["lambda"])),
    ("llama-3.1-8b", dict(tokens=1e11, max_gpus=16, failure_rate_per_gpu_hour=0.05, providers=["aws", "runpod"])),
    ("llama-3.1-70b", dict(tokens=1e12, deadline="40d", max_gpus=128, providers=["aws", "gcp"], pp=(1, 4, 8),
                           micro_batch=1, schedules=("1f1b", "zb-h1"))),
]


@pytest.fixture(scope="module")
def cat():
    return aicost.catalog.load()


@pytest.mark.parametrize("model,kw", CASES, ids=[f"{m}-{i}" for i, (m, _) in enumerate(CASES)])
def test_search_equals_the_kernel_on_every_candidate(cat, model, kw):
    try:
        plan = plan_training(model, catalog=cat, **kw)
    except aicost.InfeasibleError:
        pytest.skip("infeasible case")
    s = plan.search
    red, counts, n_eval, details = ev.search_training(s.configs, s.layouts, s.context, detail=True)
    ref, ref_counts, ref_modeled, grid = _brute_force(s.configs, s.layouts, s.context)
    for k in ("layout", "stage", *KEYS):
        np.testing.assert_array_equal(red[k], ref[k], err_msg=k)
    np.testing.assert_array_equal(red["ok"], ref["ok"])
    assert red["n_modeled"] == ref_modeled
    assert red["n_physics"] <= ref_modeled
    want = pd.Series({ev.REASONS[i]: int(ref_counts[i]) for i in sorted(ev.REASONS) if ref_counts[i] > 0},
                     dtype=np.int64)
    pd.testing.assert_series_equal(plan.reason_counts, want)
    # every candidate's code, time, cost and memory (detail=True), and the same reduction without it
    d = details.set_index(["config_id", "layout"])
    for sel, keep, code, t, cost, mem in grid.values():
        ix = pd.MultiIndex.from_arrays([np.repeat(sel, keep.size), np.tile(keep, sel.size)])
        got = d.loc[ix]
        np.testing.assert_array_equal(got["code"].to_numpy(), code.ravel())
        np.testing.assert_array_equal(got["time_s"].to_numpy(), t.ravel())
        np.testing.assert_array_equal(got["cost_usd"].to_numpy(), cost.ravel())
        np.testing.assert_array_equal(got["memory_bytes"].to_numpy(), mem.ravel())
    red2, counts2, _, _ = ev.search_training(s.configs, s.layouts, s.context)
    for k in ("layout", "stage", *KEYS):
        np.testing.assert_array_equal(red2[k], ref[k], err_msg=k)
    pd.testing.assert_series_equal(counts2, want)


def test_hardware_groups_ignore_only_the_tail_columns(cat):
    plan = plan_training("llama-3.1-8b", 1e11, "30d", catalog=cat, max_gpus=16)
    carr = ev._cfg_arrays(plan.search.configs, shape_col=False)
    group, first = ev.hardware_groups(carr)
    assert first.size < group.size / 2  # regions, providers, pricings and tiers share hardware
    for k, v in carr.items():
        if k not in ev.TAIL_COLUMNS:
            np.testing.assert_array_equal(v, v[first][group], err_msg=k)


def test_kernel_is_physics_then_tail(cat):
    """training_kernel == training_tail(training_physics(...)) and its reliability numbers are
    aicost.model.reliability_arrays' (the scalar estimate's code path)."""
    plan = plan_training("llama-3.1-8b", 1e11, "30d", catalog=cat, max_gpus=16)
    s = plan.search
    ci, li = np.nonzero(s.ok)
    carr = {k: v.take(ci) for k, v in ev._cfg_arrays(s.configs, shape_col=False).items()}
    larr = {k: v.take(li) for k, v in ev._lay_arrays(s.layouts, row=False).items()}
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = ev.training_kernel(carr, larr, s.context)
    rel = aicost.model.reliability_arrays(out["work_s"], out["n_gpus"], out["n_nodes"], out["checkpoint_s"],
                                          out["restart_s"], s.context.rel["failures_per_gpu_hour"],
                                          carr["spot"] * s.context.rel["preemptions_per_node_hour"],
                                          s.context.rel["job_failures_per_hour"])
    np.testing.assert_array_equal(out["expected_wall_s"], rel["expected_wall_s"])
    np.testing.assert_array_equal(out["time_s"], rel["expected_wall_s"])
    np.testing.assert_array_equal(out["goodput"], rel["goodput"])
    assert (out["code"] == 0).all()


def test_evaluate_candidates_is_the_kernel(cat):
    """The recommendation's 20%-lower-efficiency re-evaluation shares physics across hardware."""
    plan = plan_training("llama-3.1-8b", 1e11, "30d", catalog=cat, max_gpus=32, providers=["aws", "gcp"])
    s = plan.search
    ci, li = np.nonzero(s.ok)
    carr = ev._cfg_arrays(s.configs, shape_col=False)
    larr = ev._lay_arrays(s.layouts, row=False)
    got = ev.evaluate_candidates(carr, larr, ci, li, s.context)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        want = ev.training_kernel({k: v.take(ci) for k, v in carr.items()},
                                  {k: v.take(li) for k, v in larr.items()}, s.context)
    for k in ("code", "time_s", "cost_usd"):
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)
