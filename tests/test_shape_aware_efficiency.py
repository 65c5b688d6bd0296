"""Shape-aware training compute efficiency as the default of estimate_training and the planner
(issue 12): one code path (aicost.hardware.shape_aware_efficiency), the accelerator's fitted or
default-family GEMM curve, the caller's number as an override."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from aicost.calibrate import DEFAULT_GEMM_EFFICIENCY
from aicost.calibrate_curves import (
    DEFAULT_GEMM_CURVE,
    compute_units,
    default_gemm_curve,
    gemm_curve,
    layer_compute_efficiency,
    layer_gemm_shapes,
    layout_compute_efficiency,
)
from aicost.hardware import resolve_efficiencies, shape_aware_efficiency
from aicost.model import Cluster, TrainingJob, estimate_training, get_model
from aicost.plan import plan_training


@pytest.fixture(scope="module")
def cat():
    from aicost import catalog

    return catalog.load()


def test_curves_fitted_for_measured_accelerators_default_family_otherwise(cat):
    h200 = gemm_curve("H200-SXM", "bf16", store=False, catalog=cat)
    assert h200.n_points >= 8 and "fitted to" in h200.source and "h200_2026-11.json" in h200.source
    assert 0.6 < h200.e_max < 0.8 and h200.rms_error < 0.08
    h100 = gemm_curve("H100-SXM", "bf16", store=False, catalog=cat)
    assert h100 == default_gemm_curve("bf16")
    assert h100.e_max == DEFAULT_GEMM_EFFICIENCY["bf16"] and h100.k_half == DEFAULT_GEMM_CURVE.k_half
    assert gemm_curve("H100-SXM", "fp8", store=False, catalog=cat).e_max == DEFAULT_GEMM_EFFICIENCY["fp8"]
    # few points (4 tf32 GEMMs): e_max fitted, k_half from the default family
    tf32 = gemm_curve("H200-SXM", "tf32", store=False, catalog=cat)
    assert tf32.k_half == DEFAULT_GEMM_CURVE.k_half and tf32.source.startswith("e_max fitted to 4")
    assert compute_units("A100-80GB") == 108 and compute_units("MI300X") == 304 and compute_units("H200-SXM") == 132


def test_array_layer_model_equals_scalar_calls():
    spec = get_model("mixtral-8x7b")
    kw = dict(curve=DEFAULT_GEMM_CURVE, peak_flops_per_s=989e12, mem_bw_bytes_per_s=3.35e12, n_units=132)
    tp = np.array([1, 2, 4, 8, 2])
    mb = np.array([1, 2, 1, 4, 1])
    ep = np.array([1, 1, 2, 8, 4])
    cp = np.array([1, 2, 1, 1, 2])
    rc = np.array([0, 1, 2, 1, 1])
    arr = layout_compute_efficiency(spec, seq_len=4096, tp=tp, micro_batch=mb, ep=ep, cp=cp, recompute_code=rc, **kw)
    for i in range(tp.size):
        one = layout_compute_efficiency(spec, seq_len=4096, tp=int(tp[i]), micro_batch=int(mb[i]), ep=int(ep[i]),
                                        cp=int(cp[i]), recompute_code=int(rc[i]), **kw)
        assert float(one) == arr[i]  # bit for bit: the planner's table and estimate_training agree
    assert np.all((arr > 0.3) & (arr < DEFAULT_GEMM_CURVE.e_max))


def test_expert_parallelism_gathers_tokens_per_expert():
    moe = get_model("mixtral-8x7b")
    one = {n: (m, c) for n, m, _, _, c in layer_gemm_shapes(moe, 4096, tp=1, ep=1)}
    eight = {n: (m, c) for n, m, _, _, c in layer_gemm_shapes(moe, 4096, tp=1, ep=8)}
    assert eight["expert_up"][0] == 8 * one["expert_up"][0]  # 8x the rows per local expert
    assert eight["expert_up"][1] == one["expert_up"][1] / 8  # on 1/8 of the experts: same FLOPs
    kw = dict(peak_flops_per_s=989e12, mem_bw_bytes_per_s=3.35e12, n_units=132)
    small = layer_compute_efficiency(moe, micro_batch=1, seq_len=1024, expert_parallel=1, **kw)
    large = layer_compute_efficiency(moe, micro_batch=1, seq_len=1024, expert_parallel=8, **kw)
    assert large["efficiency"] > small["efficiency"]


def test_estimate_training_default_is_shape_aware_and_explicit_overrides(cat):
    job = TrainingJob("llama-3.1-70b", 1e12, global_batch=512, micro_batch=1, tp=8, pp=4)
    e = estimate_training(job, Cluster("H100-SXM", gpus=256), catalog=cat, store=False)
    spec = get_model("llama-3.1-70b")
    acc = cat.accelerator("H100-SXM")
    want = layout_compute_efficiency(spec, curve=default_gemm_curve("bf16"), peak_flops_per_s=acc.peak_flops_per_s("bf16"),
                                     mem_bw_bytes_per_s=acc.mem_bw_bytes_per_s, seq_len=spec.pretrain_seq_len, tp=8,
                                     micro_batch=1, recompute_code=1, n_units=132)
    assert e.compute_efficiency == float(want)
    assert e.sources["efficiency"].startswith("shape-aware GEMM efficiency from default family")
    assert e.sources["efficiency"].endswith(f"{e.compute_efficiency:.2f} at this layout")
    # a larger micro-batch means taller GEMMs: at least as efficient
    e4 = estimate_training(dataclasses.replace(job, micro_batch=4), Cluster("H100-SXM", gpus=256), catalog=cat,
                           store=False)
    assert e4.compute_efficiency >= e.compute_efficiency
    # the caller's number wins
    fixed = estimate_training(job, Cluster("H100-SXM", gpus=256, efficiency=0.5), catalog=cat, store=False)
    assert fixed.compute_efficiency == 0.5 and fixed.sources["efficiency"] == "Cluster.efficiency (explicit)"
    with pytest.raises(ValueError, match="attention"):
        estimate_training(dataclasses.replace(job, attention="dense"), Cluster("H100-SXM", gpus=256), catalog=cat)


def _default_scalar(row, plan):
    """The planner's candidate through estimate_training with the DEFAULT efficiency (no number)."""
    cfg, lay, ctx = plan.extras["search"]
    gpn = int(row["gpus_per_node"])
    job = TrainingJob(model=ctx.spec, tokens=ctx.tokens, global_batch=int(row["global_batch"]),
                      micro_batch=int(row["micro_batch"]), tp=int(row["tp"]), pp=int(row["pp"]),
                      recompute=row["recompute"], zero_stage=int(row["zero_stage"]), seq_len=ctx.seq_len,
                      checkpoint_s=float(row["checkpoint_s"]), restart_s=float(row["restart_s"]),
                      failures_per_gpu_hour=ctx.rel["failures_per_gpu_hour"],
                      job_failures_per_hour=ctx.rel["job_failures_per_hour"], dtype=ctx.dtype,
                      ep=int(row.get("ep", 1)), cp=int(row.get("cp", 1)),
                      virtual_stages=int(row.get("virtual_stages", 1)))
    extra = {"scale_up_domain_gpus": int(row["scale_up_domain_gpus"])} \
        if "scale_up_domain_gpus" in Cluster.__dataclass_fields__ and "scale_up_domain_gpus" in row else {}
    cl = Cluster(accelerator=row["accelerator"], gpus=int(row["gpus"]), gpus_per_node=gpn,
                 pricing=row["pricing"], price_usd_per_gpu_hour=float(row["price_usd_per_hour"]) / gpn,
                 preemptions_per_node_hour=ctx.rel["preemptions_per_node_hour"] if row["pricing"] == "spot" else 0.0,
                 peak_flops_per_s=float(row["peak_flops_per_s"]), memory_bytes=float(row["memory_bytes"]),
                 mem_bw_bytes_per_s=float(row["mem_bw_bytes_per_s"]),
                 scale_up_bw_bytes_per_s=float(row["scale_up_bw_bytes_per_s"]),
                 scale_up_latency_s=float(row["scale_up_latency_s"]),
                 scale_out_bw_bytes_per_s=float(row["scale_out_bw_bytes_per_s"]) / gpn,
                 scale_out_latency_s=float(row["scale_out_latency_s"]), **extra)
    return estimate_training(job, cl, catalog=plan_catalog(), store=False)


def plan_catalog():
    from aicost import catalog

    return catalog.load()


@pytest.mark.parametrize("model,kw", [
    ("llama-3.1-8b", dict(accelerators=["H100-SXM", "H200-SXM", "A100-80GB"], max_gpus=128)),
    ("mixtral-8x7b", dict(accelerators=["H100-SXM", "H200-SXM"], max_gpus=64, ep=(1, 2, 8))),
])
def test_planner_and_estimate_training_agree_on_the_default_efficiency(cat, model, kw):
    p = plan_training(model, 2e11, deadline="60d", catalog=cat, store=False, providers=["aws"],
                      pricing="on_demand", **kw)
    ctx = p.search.context
    assert ctx.efficiency_table is not None
    assert any(a.startswith("compute efficiency per layout, shape-aware") for a in p.assumptions)
    feas = p.feasible
    assert feas["efficiency"].nunique() > 1  # per (accelerator, layout), not one number per accelerator
    for _, row in feas.groupby("accelerator").head(1).iterrows():
        est = _default_scalar(row, p)
        assert est.compute_efficiency == pytest.approx(row["efficiency"], rel=1e-12)
        assert est.step_s == pytest.approx(row["step_s"], rel=1e-12)
        assert row["efficiency_source"] == est.sources["efficiency"]
    assert p.best.efficiency_source.startswith("shape-aware GEMM efficiency from")


def test_planner_caller_efficiency_overrides_per_accelerator(cat):
    kw = dict(deadline="60d", catalog=cat, store=False, providers=["aws"], pricing="on_demand", max_gpus=64,
              accelerators=["H100-SXM", "A100-80GB"])
    p = plan_training("llama-3.1-8b", 1e11, efficiency={"A100-80GB": 0.4}, **kw)
    f = p.candidates
    a100 = f[f["accelerator"] == "A100-80GB"]
    h100 = f[f["accelerator"] == "H100-SXM"]
    assert (a100["efficiency"] == 0.4).all() and (a100["efficiency_source"] == "given by the caller").all()
    assert h100["efficiency_source"].str.startswith("shape-aware").all()
    assert any("given by the caller for every layout: A100-80GB 0.40" in a for a in p.assumptions)
    # the sensitivity scales the whole table
    sens = p.best.sensitivity
    assert sens is not None and sens.same_time_s > p.best.time_s


def test_shape_aware_efficiency_without_curve_is_the_given_number(cat):
    eff = resolve_efficiencies(["H100-SXM"], "bf16", store=False, efficiency=0.55, catalog=cat)["H100-SXM"]
    assert not eff.shape_aware
    out = shape_aware_efficiency(eff, get_model("llama-3.1-8b"), dtype="bf16", seq_len=8192, tp=np.array([1, 2]))
    assert out.tolist() == [0.55, 0.55]
