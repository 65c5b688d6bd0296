"""plan_training: feasibility and reasons, the Pareto frontier of a real plan, vectorized against
scalar evaluation (aicost.model.estimate_training), the recommendation, and bad input."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

import aicost
from aicost import InfeasibleError, UnknownNameError
from aicost._units import MONTH_S
from aicost.model import Cluster, TrainingJob, estimate_training
from aicost.plan import CHECKPOINT_KEEP, Plan, TrainingDrop, plan_training

#: a small search (one provider, up to 256 GPUs) keeps each plan well under a second
SMALL = dict(providers=["aws"], max_gpus=256)


@pytest.fixture(scope="module")
def cat():
    return aicost.catalog.load()


@pytest.fixture(scope="module")
def plan8b(cat):
    return plan_training("llama-3.1-8b", 2e11, deadline="20d", catalog=cat, **SMALL)


def test_plan_shape_and_constraints(plan8b):
    p = plan8b
    assert isinstance(p, Plan) and p.kind == "training"
    c = p.candidates
    assert {"provider", "instance_type", "gpus", "tp", "pp", "dp", "time_s", "cost_usd", "feasible",
            "reason"} <= set(c.columns)
    ok = c[c["feasible"]]
    assert len(ok) > 0
    assert (ok["time_s"] <= 20 * 86400).all()
    assert (ok["reason"] == "").all()
    # layouts multiply out to the GPU count; tensor parallelism stays inside a node
    assert (ok["tp"] * ok["pp"] * ok["dp"] == ok["gpus"]).all()
    assert (ok["tp"] <= ok["gpus_per_node"]).all()
    assert (ok["memory_per_gpu_gib"] * 2**30 + 2 * 2**30 <= ok["memory_gib"] * 2**30 + 1).all()
    bad = c[~c["feasible"]]
    assert (bad["reason"] != "").all()
    assert set(bad["reason"]) <= {r.text for r in TrainingDrop if r is not TrainingDrop.OK}
    # the evaluated count covers every layout of every configuration
    assert p.n_evaluated > len(c)
    assert p.reason_counts.sum() < p.n_evaluated
    assert set(p.infeasible["reason"]) >= set(bad["reason"])


def test_best_is_cheapest_feasible_under_deadline(plan8b):
    best = plan8b.best
    ok = plan8b.candidates[plan8b.candidates["feasible"]]
    assert best.cost == pytest.approx(ok["cost_usd"].min())
    assert best.bottleneck in ("compute", "communication", "bubble", "memory", "storage", "reliability")
    # the test home has an empty results store: nothing measured for a cloud accelerator
    assert best.efficiency_source.startswith("shape-aware GEMM efficiency from default family")
    text = str(best)
    assert "Recommended" in text and "If efficiency is 20% lower" in text and "Assumptions" in text


def test_sensitivity_reevaluates_slower(plan8b):
    s = plan8b.best.sensitivity
    assert s.efficiency_scale == 0.8
    assert s.same_time_s > plan8b.best.time_s
    assert s.same_cost > plan8b.best.cost
    if s.new_best is not None:
        assert s.new_best_cost >= plan8b.best.cost * (1 - 1e-9)


def test_pareto_frontier_of_plan(plan8b):
    ok = plan8b.feasible
    front = plan8b.pareto
    assert len(front) >= 1
    pts = ok[["time_s", "cost_usd"]].to_numpy()
    for t, c in front[["time_s", "cost_usd"]].to_numpy():
        dominated = (pts[:, 0] <= t) & (pts[:, 1] <= c) & ((pts[:, 0] < t) | (pts[:, 1] < c))
        assert not dominated.any()
    fp = front[["time_s", "cost_usd"]].to_numpy()
    for t, c in pts:
        on = ((fp[:, 0] == t) & (fp[:, 1] == c)).any()
        if not on:
            assert ((fp[:, 0] <= t) & (fp[:, 1] <= c)).any()
    assert np.all(np.diff(front["time_s"].to_numpy()) >= 0)
    assert np.all(np.diff(front["cost_usd"].to_numpy()) <= 0)


def _scalar(row, plan, dtype="bf16"):
    """The same candidate through aicost.model.estimate_training, every number explicit."""
    cfg, lay, ctx = plan.extras["search"]
    spot = row["pricing"] == "spot"
    job = TrainingJob(model=ctx.spec, tokens=ctx.tokens, global_batch=int(row["global_batch"]),
                      micro_batch=int(row["micro_batch"]), tp=int(row["tp"]), pp=int(row["pp"]),
                      recompute=row["recompute"], zero_stage=int(row["zero_stage"]),
                      seq_len=ctx.seq_len, checkpoint_s=float(row["checkpoint_s"]),
                      restart_s=float(row["restart_s"]),
                      failures_per_gpu_hour=ctx.rel["failures_per_gpu_hour"],
                      job_failures_per_hour=ctx.rel["job_failures_per_hour"], dtype=dtype,
                      ep=int(row["ep"]), cp=int(row["cp"]), virtual_stages=int(row["virtual_stages"]),
                      overlap_tp_comm=ctx.overlap_tp_comm, overlap_ep_comm=ctx.overlap_ep_comm)
    gpn = int(row["gpus_per_node"])
    cl = Cluster(accelerator=row["accelerator"], gpus=int(row["gpus"]), gpus_per_node=gpn,
                 scale_up_domain_gpus=int(row["scale_up_domain_gpus"]),
                 pricing=row["pricing"], price_usd_per_gpu_hour=float(row["price_usd_per_hour"]) / gpn,
                 efficiency=float(row["efficiency"]),
                 preemptions_per_node_hour=ctx.rel["preemptions_per_node_hour"] if spot else 0.0,
                 peak_flops_per_s=float(row["peak_flops_per_s"]), memory_bytes=float(row["memory_bytes"]),
                 mem_bw_bytes_per_s=float(row["mem_bw_bytes_per_s"]),
                 scale_up_bw_bytes_per_s=float(row["scale_up_bw_bytes_per_s"]),
                 scale_up_latency_s=float(row["scale_up_latency_s"]),
                 scale_out_bw_bytes_per_s=float(row["scale_out_bw_bytes_per_s"]) / gpn,
                 scale_out_latency_s=float(row["scale_out_latency_s"]))
    return estimate_training(job, cl)


def test_vectorized_agrees_with_scalar_estimate(plan8b):
    ok = plan8b.feasible
    picks = [ok.iloc[0], plan8b.pareto.iloc[0], ok.iloc[len(ok) // 2], ok.iloc[-1]]
    for row in picks:
        est = _scalar(row, plan8b)
        assert est.step_s == pytest.approx(row["step_s"], rel=1e-9)
        assert est.mfu == pytest.approx(row["mfu"], rel=1e-9)
        assert est.memory.total == pytest.approx(row["memory_per_gpu_gib"] * 2**30, rel=1e-9)
        assert est.expected_wall_s == pytest.approx(row["time_s"], rel=1e-9)
        storage = CHECKPOINT_KEEP * row["checkpoint_s"] * row["ckpt_bw_bytes_per_s"] / 1e9 \
            * row["storage_usd_per_gb_month"] * row["time_s"] / MONTH_S
        assert est.expected_cost_usd + storage == pytest.approx(row["cost_usd"], rel=1e-9)
        assert est.fits


def test_detail_keeps_every_modeled_layout(cat):
    p = plan_training("llama-3.1-8b", 1e11, deadline="30d", catalog=cat, providers=["aws"],
                      accelerators=["H100-SXM"], max_gpus=64, detail=True)
    lay = p.extras["layouts"]
    assert {"config_id", "tp", "pp", "micro_batch", "zero_stage", "recompute", "reason", "time_s"} <= set(
        lay.columns)
    for _, row in p.feasible.head(3).iterrows():
        sub = lay[(lay["config_id"] == row["config_id"]) & (lay["code"] == 0)]
        # the configuration keeps its fastest feasible layout
        assert sub["time_s"].min() == pytest.approx(row["time_s"], rel=1e-12)


def test_budget_and_objective(cat):
    p = plan_training("llama-3.1-8b", 2e11, budget_usd=2e5, catalog=cat, **SMALL)
    ok = p.feasible
    assert (ok["cost_usd"] <= 2e5).all()
    assert p.best.time_s == pytest.approx(ok["time_s"].min())  # budget alone: fastest
    assert "fastest" in p.objective
    q = plan_training("llama-3.1-8b", 2e11, catalog=cat, **SMALL)  # neither: the knee
    assert "knee" in q.objective and q.best is not None


def test_efficiency_override_and_source(cat):
    a = plan_training("llama-3.1-8b", 2e11, deadline="20d", catalog=cat, efficiency=0.5, **SMALL)
    b = plan_training("llama-3.1-8b", 2e11, deadline="20d", catalog=cat, efficiency=0.4, **SMALL)
    assert a.best.efficiency_source == "given by the caller"
    assert a.best.efficiency == 0.5
    assert b.best.cost >= a.best.cost


def test_cost_by_deadline_is_a_staircase(plan8b):
    t = plan8b.cost_by_deadline()
    anyp = t[t["pricing"] == "any"]
    costs = anyp["cost_usd"].dropna().to_numpy()
    assert costs.size > 0 and np.all(np.diff(costs) <= 1e-6)


def test_views(plan8b):
    html = plan8b._repr_html_()
    assert "Pareto frontier" in html and "<table" in html and "Recommended" in html
    text = str(plan8b)
    assert "Best" in text and "Pareto frontier" in text and "Dropped candidates" in text
    d = plan8b.to_dict(top=3)
    assert len(d["top"]) == 3 and d["best"]["headline"] and d["pareto"]
    import json

    json.dumps(d, default=str)


# ------------------------------------------------------------------ infeasible: say what to relax
def test_deadline_too_short_says_what_to_relax(cat):
    with pytest.raises(InfeasibleError) as e:
        plan_training("llama-3.1-70b", 2e12, deadline="2d", catalog=cat, providers=["aws"], max_gpus=64)
    msg = str(e.value)
    assert "2.0 d deadline" in msg and "fastest candidate" in msg
    assert "relax the deadline to >=" in msg and "max_gpus=64" in msg
    assert "deadline missed" in msg


def test_budget_too_small_says_what_it_costs(cat):
    with pytest.raises(InfeasibleError, match=r"budget: the cheapest candidate .* costs .* raise the budget"):
        plan_training("llama-3.1-8b", 2e11, budget_usd=10, catalog=cat, **SMALL)


def test_model_that_fits_nowhere(cat):
    with pytest.raises(InfeasibleError) as e:
        plan_training("llama-3.1-405b", 1e11, catalog=cat, accelerators=["L4"], max_gpus=8)
    msg = str(e.value)
    assert "fits on no offer" in msg and "per GPU" in msg and "largest accelerator" in msg


# ------------------------------------------------------------------ bad input
def test_unknown_model_suggests():
    with pytest.raises(UnknownNameError, match="did you mean"):
        plan_training("llama-3.1-70", 1e12)


def test_unknown_accelerator_and_provider(cat):
    with pytest.raises(UnknownNameError, match="H100"):
        plan_training("llama-3.1-8b", 1e11, catalog=cat, accelerators=["H1000"])
    with pytest.raises(UnknownNameError, match="aws"):
        plan_training("llama-3.1-8b", 1e11, catalog=cat, providers=["awz"])


@pytest.mark.parametrize("kwargs, match", [
    (dict(tokens=0), "tokens must be a positive"),
    (dict(tokens=-5), "tokens must be a positive"),
    (dict(budget_usd=-1), "budget_usd must be a positive"),
    (dict(deadline="0d"), "deadline must be a positive"),
    (dict(deadline=-3), "deadline must be a positive"),
    (dict(deadline=dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)), "already passed"),
    (dict(tp=256), "tp=256 is larger than the GPUs of any scale-up domain"),
    (dict(zero_stage=4), "zero_stage"),
    (dict(recompute="some"), "recompute"),
    (dict(pricing=["cheap"]), "pricing"),
    (dict(max_gpus=0), "max_gpus"),
])
def test_bad_input_refused(cat, kwargs, match):
    args = dict(model="llama-3.1-8b", tokens=1e11, catalog=cat, providers=["aws"], max_gpus=64)
    args.update(kwargs)
    with pytest.raises((ValueError, LookupError), match=match):
        plan_training(**args)


def test_deadline_as_date(cat):
    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    p = plan_training("llama-3.1-8b", 2e11, deadline=dt.datetime(2026, 1, 21, tzinfo=dt.timezone.utc),
                      now=now, catalog=cat, **SMALL)
    assert p.request["deadline_s"] == 20 * 86400
    assert math.isclose(p.best.cost, plan_training("llama-3.1-8b", 2e11, deadline="20d", catalog=cat,
                                                   **SMALL).best.cost)


def test_measured_efficiency_from_the_store(cat, tmp_path):
    import pandas as pd

    from aicost.calibrate_curves import gemm_curve, gemm_efficiency
    from aicost.store import Store

    store = Store(tmp_path / "results.duckdb")
    store.save_run(pd.DataFrame([{"kind": "compute", "name": "gemm", "backend": "cupy",
                                  "device": "NVIDIA H100 80GB HBM3", "dtype": "bf16",
                                  "shape": "8192x8192x8192", "value": 700e12, "unit": "FLOP/s"}]),
                   context={"host": "test"}, kind="compute")
    p = plan_training("llama-3.1-8b", 2e11, deadline="30d", catalog=cat, store=store, providers=["aws"],
                      accelerators=["H100-SXM"], max_gpus=128)
    acc = cat.accelerator("H100-SXM")
    peak = acc.peak_flops_per_s("bf16")
    # one measured GEMM: the H100's curve is fitted to it (e_max; k_half from the default family)
    src = p.best.efficiency_source
    assert src.startswith("shape-aware GEMM efficiency from e_max fitted to 1 measured bf16 GEMMs")
    assert "results store" in src and "at this layout" in src
    curve = gemm_curve("H100-SXM", "bf16", store=store, catalog=cat)
    at_measured = gemm_efficiency(8192, 8192, 8192, curve=curve, peak_flops_per_s=peak,
                                  mem_bw_bytes_per_s=acc.mem_bw_bytes_per_s, n_units=132)
    assert float(at_measured) == pytest.approx(700e12 / peak, rel=1e-9)
    # a faster measurement makes every layout faster than the default family would
    default = plan_training("llama-3.1-8b", 2e11, deadline="30d", catalog=cat, store=False, providers=["aws"],
                            accelerators=["H100-SXM"], max_gpus=128)
    assert curve.e_max > 0.72 and p.best.efficiency > default.best.efficiency
    assert "efficiency" in str(p.best) and "measured bf16 GEMMs" in str(p.best)


# ------------------------------------------------------------------ constraints, property-based
TINY = dict(providers=["aws"], accelerators=["H100-SXM", "A100-80GB"], max_gpus=128)


@pytest.fixture(scope="module")
def open_plan(cat):
    return plan_training("llama-3.1-8b", 1e11, catalog=cat, **TINY)


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(days=st.floats(0.5, 60), budget=st.one_of(st.none(), st.floats(2e3, 2e5)))
def test_constraints_filter_the_unconstrained_plan(cat, open_plan, days, budget):
    """Within a configuration cost is proportional to time, so the fastest layout is also the
    cheapest: a deadline and a budget keep exactly the unconstrained plan's rows that meet them."""
    ok = open_plan.feasible
    expect = ok[(ok["time_s"] <= days * 86400) & ((ok["cost_usd"] <= budget) if budget else True)]
    try:
        p = plan_training("llama-3.1-8b", 1e11, deadline=days * 86400, budget_usd=budget, catalog=cat, **TINY)
    except InfeasibleError as err:
        assert expect.empty, f"raised although {len(expect)} rows meet the constraints: {err}"
        return
    got = p.feasible
    assert set(got["config_id"]) == set(expect["config_id"])
    merged = got.set_index("config_id")["time_s"].sort_index()
    np.testing.assert_allclose(merged.to_numpy(), expect.set_index("config_id")["time_s"].sort_index().to_numpy(),
                               rtol=1e-12)
    assert p.best.cost == pytest.approx(expect["cost_usd"].min())


def test_pricing_nobody_offers(cat):
    with pytest.raises(InfeasibleError, match="no offer searched has a price for reserved_1y"):
        plan_training("llama-3.1-8b", 1e11, deadline="30d", catalog=cat, providers=["runpod"],
                      pricing=["reserved_1y"], max_gpus=64)


@pytest.mark.parametrize("dtype", ["fp32", "fp8"])
def test_vectorized_agrees_with_scalar_other_dtypes(cat, dtype):
    p = plan_training("llama-3.1-8b", 1e11, deadline="60d", catalog=cat, providers=["aws"],
                      accelerators=["H100-SXM"], max_gpus=64, dtype=dtype)
    row = p.feasible.iloc[0]
    est = _scalar(row, p, dtype=dtype)
    assert est.expected_wall_s == pytest.approx(row["time_s"], rel=1e-9)
    assert est.memory.total == pytest.approx(row["memory_per_gpu_gib"] * 2**30, rel=1e-9)


def test_failure_rates_semantics_and_assumptions(cat):
    """Default: the fleet class's two terms, named; a per-GPU rate from the caller is the whole
    failure model (no per-job term) unless a job term is given too."""
    from aicost.model import (
        DEFAULT_FAILURES_PER_GPU_HOUR,
        DEFAULT_JOB_FAILURES_PER_HOUR,
        failure_rates,
    )

    kw = dict(deadline="20d", catalog=cat, providers=["aws"], max_gpus=64, accelerators=["H100-SXM"],
              pricing="on_demand")
    p = plan_training("llama-3.1-8b", 1e11, **kw)
    rel = p.search.context.rel
    assert rel["failures_per_gpu_hour"] == DEFAULT_FAILURES_PER_GPU_HOUR
    assert rel["job_failures_per_hour"] == DEFAULT_JOB_FAILURES_PER_HOUR
    text = " ".join(p.assumptions)
    assert "fleet class hyperscale-h100" in text and "per job-hour" in text
    assert "bucketed DP gradient reduction" in text and "TP collectives exposed" in text
    # MTBF of the chosen candidate follows rate = gpu * n + job
    b = p.best.row
    rate = DEFAULT_FAILURES_PER_GPU_HOUR * b["gpus"] + DEFAULT_JOB_FAILURES_PER_HOUR
    assert b["mtbf_s"] == pytest.approx(3600.0 / rate, rel=1e-9)

    q = plan_training("llama-3.1-8b", 1e11, failure_rate_per_gpu_hour=0, spot_preemption_rate_per_hour=0, **kw)
    assert q.best.row["goodput"] == 1.0 and q.best.row["expected_interruptions"] == 0.0
    assert "given by the caller" in " ".join(q.assumptions)

    r = plan_training("llama-3.1-8b", 1e11, failure_rate_per_gpu_hour=0, job_failure_rate_per_hour=0.5, **kw)
    assert r.best.row["mtbf_s"] == pytest.approx(7200.0)

    fc = failure_rates("new-cluster-a100")
    s = plan_training("llama-3.1-8b", 1e11, fleet_class="new-cluster-a100", **kw)
    assert s.search.context.rel["failures_per_gpu_hour"] == fc.failures_per_gpu_hour
    assert "fleet class new-cluster-a100" in " ".join(s.assumptions)
    with pytest.raises(UnknownNameError):
        plan_training("llama-3.1-8b", 1e11, fleet_class="no-such-fleet", **kw)


def test_cpu_preprocessing_check(cat):
    """An offer whose vCPUs cannot tokenize what its GPUs consume is dropped, with the numbers;
    the shipped rate keeps ordinary plans; the check is per candidate (step time) and vectorized."""
    from aicost.bench import default_preprocess_rates

    kw = dict(deadline="20d", catalog=cat, providers=["aws"], max_gpus=128)
    p = plan_training("llama-3.2-1b", 2e11, **kw)
    assert p.search.context.preprocess_tokens_per_s_per_vcpu == default_preprocess_rates()["text"]
    assert any("data loading" in a and "tokens/s" in a for a in p.assumptions)
    c = p.candidates
    need = c["global_batch"] * c["tokens_per_step"] / c["global_batch"] / (c["step_s"] * c["gpus"])
    np.testing.assert_allclose(c["preprocess_need_tokens_per_s"], need, rtol=1e-9)
    np.testing.assert_allclose(c["preprocess_have_tokens_per_s"],
                               c["vcpus"] / c["gpus_per_node"] * default_preprocess_rates()["text"])

    q = plan_training("llama-3.2-1b", 2e11, preprocess_tokens_per_s_per_vcpu=300, **kw)
    slow = q.candidates[q.candidates["stage"] == TrainingDrop.CPU_PREPROCESS_TOO_SLOW]
    assert len(slow) > 0
    assert (slow["preprocess_need_tokens_per_s"] > slow["preprocess_have_tokens_per_s"]).all()
    r = slow.iloc[0]
    assert r["reason"] == (f"vCPUs cannot tokenize fast enough: need {r['preprocess_need_tokens_per_s']:,.0f} "
                           f"tokens/s per GPU, have {r['preprocess_have_tokens_per_s']:,.0f}")
    ok = q.feasible
    assert (ok["preprocess_need_tokens_per_s"] <= ok["preprocess_have_tokens_per_s"]).all()
    assert "vCPUs cannot tokenize fast enough" in set(q.infeasible["reason"])
    with pytest.raises(InfeasibleError, match="vCPUs can tokenize.*more vCPUs per GPU"):
        plan_training("llama-3.2-1b", 2e11, preprocess_tokens_per_s_per_vcpu=10, **kw)
    with pytest.raises(ValueError, match="preprocess_tokens_per_s_per_vcpu"):
        plan_training("llama-3.2-1b", 2e11, preprocess_tokens_per_s_per_vcpu=-1, **kw)


def test_expert_parallel_axis_for_moe(cat):
    """MoE models search ep over the divisors of their experts within the scale-up domain; a
    chosen ep > 1 layout agrees with estimate_training(ep=...); dense models search ep=1 only."""
    p = plan_training("mixtral-8x7b", 2e11, deadline="30d", catalog=cat, providers=["aws"], max_gpus=128,
                      ep=(1, 2, 4, 8), pricing="on_demand", detail=True)
    lay = p.search.layouts
    assert set(lay.ep) == {1, 2, 4, 8}
    assert any("expert parallelism" in a for a in p.assumptions)
    det = p.extras["layouts"]
    ok = det[det["code"] == 0]
    cfg = p.search.configs.set_index("config_id")
    dom = cfg.loc[ok["config_id"], "scale_up_domain_gpus"].to_numpy()
    assert (ok["tp"].to_numpy() * ok["ep"].to_numpy() <= dom).all()
    assert (ok["ep"] > 1).any()
    bad = det[det["code"] == TrainingDrop.EP_INVALID]
    assert len(bad) > 0
    row = p.feasible[p.feasible["ep"] > 1]
    if len(row):
        r = row.iloc[0]
        gpn = int(r["gpus_per_node"])
        job = TrainingJob(model="mixtral-8x7b", tokens=2e11, global_batch=int(r["global_batch"]),
                          micro_batch=int(r["micro_batch"]), tp=int(r["tp"]), pp=int(r["pp"]), ep=int(r["ep"]),
                          cp=int(r["cp"]), virtual_stages=int(r["virtual_stages"]), recompute=r["recompute"], zero_stage=int(r["zero_stage"]),
                          seq_len=p.search.context.seq_len, checkpoint_s=float(r["checkpoint_s"]),
                          restart_s=float(r["restart_s"]))
        cl = Cluster(accelerator=r["accelerator"], gpus=int(r["gpus"]), gpus_per_node=gpn,
                     scale_up_domain_gpus=int(r["scale_up_domain_gpus"]), price_usd_per_gpu_hour=float(r["price_usd_per_hour"]) / gpn, efficiency=float(r["efficiency"]),
                     peak_flops_per_s=float(r["peak_flops_per_s"]), memory_bytes=float(r["memory_bytes"]),
                     mem_bw_bytes_per_s=float(r["mem_bw_bytes_per_s"]),
                     scale_up_bw_bytes_per_s=float(r["scale_up_bw_bytes_per_s"]),
                     scale_up_latency_s=float(r["scale_up_latency_s"]),
                     scale_out_bw_bytes_per_s=float(r["scale_out_bw_bytes_per_s"]) / gpn,
                     scale_out_latency_s=float(r["scale_out_latency_s"]))
        est = estimate_training(job, cl)
        assert est.step_s == pytest.approx(r["step_s"], rel=1e-9)
        assert est.memory.total == pytest.approx(r["memory_per_gpu_gib"] * 2**30, rel=1e-9)
    assert set(plan_training("llama-3.1-8b", 1e11, deadline="30d", catalog=cat, providers=["aws"],
                             max_gpus=16).search.layouts.ep) == {1}
    with pytest.raises(ValueError, match="ep=3"):
        plan_training("mixtral-8x7b", 1e11, catalog=cat, providers=["aws"], max_gpus=16, ep=3)


def test_plan_says_how_old_its_prices_are():
    """Issue 13: every plan states the oldest as_of among the offers it searched, flagged past 180 days."""
    import datetime

    plan = plan_training("llama-3.1-8b", 1e11, deadline="30d", max_gpus=64)
    offers_dates = {d for d in plan.candidates["as_of"].astype(str) if d}
    assert plan.prices_as_of == min(datetime.date.fromisoformat(d) for d in offers_dates)
    note = plan.best.details[-1]
    assert note.startswith(f"Prices as of {plan.prices_as_of.isoformat()}")
    age_days = (datetime.date.today() - plan.prices_as_of).days
    assert ("aicost catalog refresh" in note) == (age_days > 180)
    assert note in str(plan.best)


def test_context_parallel_and_interleaved_axes(cat):
    """Issue 12: cp is searched for long sequences only (seq_len % 2cp == 0, n_gpus = tp pp dp cp),
    v > 1 only where pp > 1 and pp v divides the layers; chosen cp/v layouts agree with
    estimate_training to 1e-12; assumptions name both."""
    short = plan_training("llama-3.1-8b", 1e11, deadline="30d", catalog=cat, providers=["aws"],
                          accelerators=["H100-SXM"], max_gpus=64)
    assert set(short.search.layouts.cp) == {1}
    lay = short.search.layouts
    v = lay.v
    assert {1, 2, 4} <= set(v) and (lay.pp[v > 1] > 1).all()
    assert (32 % (lay.pp[v > 1] * v[v > 1]) == 0).all()
    assert any("interleaved 1F1B" in a for a in short.assumptions)
    long = plan_training("llama-3.1-8b", 1e11, deadline="60d", catalog=cat, providers=["aws"],
                         accelerators=["H100-SXM"], max_gpus=64, seq_len=65536, global_batch_tokens=2**23)
    assert set(long.search.layouts.cp) == {1, 2, 4, 8}
    assert any("context parallelism" in a for a in long.assumptions)
    for kw, col in ((dict(cp=4), "cp"), (dict(virtual_stages=2, pp=(2, 4)), "virtual_stages")):
        p = plan_training("llama-3.1-8b", 1e11, deadline="60d", catalog=cat, providers=["aws"],
                          accelerators=["H100-SXM"], max_gpus=64, seq_len=65536, global_batch_tokens=2**23,
                          **kw)
        ok = p.feasible
        assert len(ok) and (ok[col] > 1).all()
        assert (ok["tp"] * ok["pp"] * ok["dp"] * ok["cp"] == ok["gpus"]).all()
        row = ok.iloc[0]
        est = _scalar(row, p)
        assert (est.cp, est.virtual_stages) == (int(row["cp"]), int(row["virtual_stages"]))
        assert est.step_s == pytest.approx(row["step_s"], rel=1e-12)
        assert est.memory.total == pytest.approx(row["memory_per_gpu_gib"] * 2**30, rel=1e-12)
        assert est.expected_wall_s == pytest.approx(row["time_s"], rel=1e-12)
        head = p.best.headline
        assert ("cp=4" in head) if col == "cp" else ("interleaved x2" in head)
    with pytest.raises(ValueError, match="2\\*cp"):
        plan_training("llama-3.1-8b", 1e11, catalog=cat, providers=["aws"], max_gpus=16, cp=3)
    # a pinned interleaving that cannot run is dropped with its reason, not silently skipped
    p = plan_training("llama-3.1-8b", 1e11, deadline="60d", catalog=cat, providers=["aws"],
                      accelerators=["H100-SXM"], max_gpus=64, virtual_stages=(1, 3), detail=True)
    det = p.extras["layouts"]
    assert (det.loc[det["virtual_stages"] == 3, "code"] == TrainingDrop.INTERLEAVE_INVALID).all()
    assert TrainingDrop.INTERLEAVE_INVALID.text in p.reason_counts.index


def test_tp_up_to_the_nvl72_domain(cat):
    """Issue 13: on GB200 NVL72 offers (4 GPUs per instance, 72 per NVLink domain) tp 8 and 16
    span instances at the scale-up bandwidth; the planner and estimate_training agree."""
    p = plan_training("llama-3.1-70b", 1e12, deadline="60d", catalog=cat, accelerators=["GB200"],
                      max_gpus=576, tp=(8, 16), pricing="on_demand")
    ok = p.feasible
    assert (ok["scale_up_domain_gpus"] == 72).all()
    wide = ok[ok["tp"] > ok["gpus_per_node"]]
    assert len(wide)
    row = wide.iloc[0]
    est = _scalar(row, p)
    assert est.step_s == pytest.approx(row["step_s"], rel=1e-12)
    assert est.expected_wall_s == pytest.approx(row["time_s"], rel=1e-12)
    assert any("NVL72" in a for a in p.assumptions)
    # 8-GPU nodes still stop at their node
    h = plan_training("llama-3.1-70b", 1e12, deadline="60d", catalog=cat, accelerators=["H100-SXM"],
                      providers=["aws"], max_gpus=256, tp=(8, 16), detail=True)
    det = h.extras["layouts"]
    assert (det.loc[det["tp"] == 16, "code"] == TrainingDrop.TP_EXCEEDS_NODE).all()


def test_overlap_options_are_named_and_never_slower(cat):
    kw = dict(catalog=cat, providers=["aws"], accelerators=["H100-SXM"], max_gpus=128, deadline="60d",
              objective="time")
    base = plan_training("llama-3.1-70b", 2e11, **kw)
    over = plan_training("llama-3.1-70b", 2e11, overlap_tp_comm=True, **kw)
    assert over.best.row["time_s"] <= base.best.row["time_s"]
    assert any("TP collectives exposed (overlap_tp_comm=False)" in a for a in base.assumptions)
    assert any("TP collectives overlapped with GEMMs" in a for a in over.assumptions)
    row = over.feasible.iloc[0]
    est = _scalar(row, over)
    assert est.step_s == pytest.approx(row["step_s"], rel=1e-12)
    moe = plan_training("mixtral-8x7b", 2e11, overlap_ep_comm=True, **kw)
    assert any("EP all-to-all overlapped" in a for a in moe.assumptions)
