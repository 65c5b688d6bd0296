"""ZB-H1 zero-bubble pipeline schedule (Qi et al., "Zero Bubble Pipeline Parallelism", ICLR 2024):
the bubble formula against hand-computed numbers, 1F1B's memory, the checks, the planner's opt-in
schedule axis (search == estimate_training, default unchanged) and the CLI option."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

import aicost
from aicost.hardware import Cluster
from aicost.model import (
    TRAINING_SCHEDULES,
    ZERO_BUBBLE_ASSUMPTION,
    TrainingJob,
    estimate_training,
    get_model,
    schedule_code,
    training_arrays,
)
from aicost.model._training import _training_step_arrays
from aicost.plan import PlanCache, plan_training


def _arrays(schedule, **kw):
    """llama-3.1-8b on 4 stages, no communication cost (1e30 B/s fabrics, zero latency)."""
    args = dict(tokens=1e9, global_batch=64, micro_batch=1, seq_len=8192, tp=1, pp=4, dp=1, recompute_code=1,
                peak_flops_per_s=1e15, efficiency=0.5, scale_up_bw_bytes_per_s=1e30, scale_up_latency_s=0.0,
                scale_out_bw_bytes_per_s=1e30, scale_out_latency_s=0.0, schedule_code=schedule_code(schedule))
    args.update(kw)
    return training_arrays(get_model("llama-3.1-8b"), **args)


def test_zb_h1_bubble_is_a_third_of_1f1b_when_f_b_w_take_equal_time():
    # T_F = T_B = T_W = 1 s per micro-batch: 1F1B (p-1)(T_F+T_B+T_W) = 3 x 3 s, ZB-H1 (p-1)(T_F+T_B-T_W) = 3 x 1 s
    kw = dict(flops_micro=3e15, peak_flops_per_s=1e15, efficiency=1.0, pp=4, n_micro=16)
    one = _training_step_arrays(**kw)
    zb = _training_step_arrays(**kw, schedule_code=1, t_w_micro=1.0)
    assert float(one["bubble"]) == pytest.approx(9.0)
    assert float(zb["bubble"]) == pytest.approx(3.0)
    assert float(zb["compute"]) == float(one["compute"]) == pytest.approx(48.0)
    # communication on the slot belongs to F and B: 0.5 s of pipeline sends -> 3 x (3.5 - 2) s
    zb = _training_step_arrays(**kw, t_pp_micro=0.5, schedule_code=1, t_w_micro=1.0)
    assert float(zb["bubble"]) == pytest.approx(4.5)


def test_zb_h1_bubble_from_the_weight_gradient_flops_by_hand():
    # llama-3.1-8b, 8 layers a stage, s = 8192, selective recompute, per token:
    #   matmul weights per layer mm = 218,112,000 - 8,192 (norms) = 218,103,808
    #   executed: 8 x (6 mm + 4 x 4 x 4096 x 8192 (attention core, x3 + recompute)) + 6 x 128,256 x 4096 (head)
    #           = 17,915,969,536 FLOP
    #   W (weight gradients = the forward GEMMs): 8 x 2 mm + 2 x 128,256 x 4096 = 4,540,334,080 FLOP
    # t_c = 8192 x 17,915,969,536 / (1e15 x 0.5) = 0.2935352 s; T_W = 0.2534239 t_c
    one, zb = _arrays("1f1b"), _arrays("zb-h1")
    t_c = 8192 * 17_915_969_536 / 5e14
    t_w = 8192 * 4_540_334_080 / 5e14
    assert float(one["compute_s"]) == pytest.approx(64 * t_c, rel=1e-9)  # 64 micro-batches
    assert float(one["bubble_s"]) == pytest.approx(3 * t_c, rel=1e-9)  # 0.8806 s
    assert float(zb["bubble_s"]) == pytest.approx(3 * (t_c - 2 * t_w), rel=1e-9)  # 0.4343 s
    assert float(zb["bubble_s"]) == pytest.approx(0.43427273, rel=1e-6)
    assert float(zb["compute_s"]) == float(one["compute_s"])
    # full recompute re-runs the forward inside B: W's share falls, the bubble grows
    full = _arrays("zb-h1", recompute_code=2)
    mm, attn, head = 218_103_808, 4 * 4096 * 8192, 6 * 128_256 * 4096
    t_c2 = 8192 * (8 * (8 * mm + 4 * attn) + head) / 5e14
    assert float(full["bubble_s"]) == pytest.approx(3 * (t_c2 - 2 * t_w), rel=1e-9)


def test_zb_h1_keeps_1f1b_memory_and_gradient_overlap_shrinks_to_the_last_w_pass():
    cl = Cluster(accelerator="H100-SXM", gpus=256, price_usd_per_gpu_hour=2.0)
    job = TrainingJob("llama-3.1-70b", 1e12, tp=8, pp=4, global_batch=256, zero_stage=0)
    one = estimate_training(job, cl, store=False)
    zb = estimate_training(dataclasses.replace(job, schedule="zb-h1"), cl, store=False)
    assert zb.memory == one.memory
    assert zb.compute_s == one.compute_s and zb.tp_comm_s == one.tp_comm_s and zb.pp_comm_s == one.pp_comm_s
    assert zb.bubble_s < 0.6 * one.bubble_s
    assert zb.dp_exposed_s >= one.dp_exposed_s  # buckets overlap T_W, not the whole last backward
    assert zb.step_s < one.step_s
    assert zb.schedule == "zb-h1" and one.schedule == "1f1b"
    assert zb.sources["schedule"] == ZERO_BUBBLE_ASSUMPTION
    assert "arXiv:2401.10241" in zb.sources["schedule"] and "last W pass" in zb.sources["overlap"]
    assert "1F1B" in one.sources["schedule"]
    assert "ZB-H1" in str(zb)


def test_w_pass_takes_the_gemm_kernel_time_share_where_the_efficiency_is_shape_aware():
    from aicost.calibrate_curves import layer_compute_efficiency
    from aicost.hardware import resolve_hardware, shape_aware_weight_grad_share

    spec = get_model("llama-3.1-70b")
    cl = Cluster(accelerator="H100-SXM", gpus=256, price_usd_per_gpu_hour=2.0)
    job = TrainingJob(spec, 1e12, tp=8, pp=4, global_batch=256, schedule="zb-h1")
    est = estimate_training(job, cl, store=False)
    hw = resolve_hardware(cl, "bf16", store=False)
    share = float(shape_aware_weight_grad_share(hw, spec, dtype="bf16", seq_len=8192, tp=8, micro_batch=1))
    parts = layer_compute_efficiency(spec, micro_batch=1, seq_len=8192, tp=8, peak_flops_per_s=hw.peak_flops_per_s,
                                     mem_bw_bytes_per_s=hw.mem_bw_bytes_per_s, n_units=hw.compute_units,
                                     curve=hw.gemm_curve)
    assert share == pytest.approx(parts["gemm"] / 3, rel=1e-12)  # fwd, dgrad, wgrad GEMMs: one third each
    mm = spec.active_layer_params - spec.norm_params_per_layer
    assert share < 2 * mm / (6 * mm + 4 * 4 * spec.attn_flops_width * 8192)  # below W's FLOP share
    # T_W from the bubble: (pp-1)(slot - 2 T_W), slot = the micro-batch's compute and exposed traffic
    m = est.n_micro_batches
    slot = (est.compute_s + est.tp_comm_s + est.pp_comm_s + est.ep_comm_s + est.cp_comm_s) / m
    t_w = (slot - est.bubble_s / 3) / 2
    lh = 6 * mm + 4 * 4 * spec.attn_flops_width * 8192  # selective recompute, per token and layer
    head = 6 * spec.vocab_size * spec.d_model
    layer_time = 20 * lh / (20 * lh + head)  # 80 layers / 4 stages
    assert t_w == pytest.approx(est.compute_s / m * (layer_time * share + (1 - layer_time) / 3), rel=1e-9)
    # an efficiency given by hand has no kernel times: W's FLOP share
    given = estimate_training(job, dataclasses.replace(cl, efficiency=est.compute_efficiency), store=False)
    t_w_flops = (slot - given.bubble_s / 3) / 2
    assert t_w_flops == pytest.approx(est.compute_s / m * (20 * 2 * mm + head / 3) / (20 * lh + head), rel=1e-9)
    assert given.bubble_s < est.bubble_s


def test_invalid_schedule_combinations_say_how_to_fix():
    cl = Cluster(accelerator="H100-SXM", gpus=64, price_usd_per_gpu_hour=2.0)
    job = TrainingJob("llama-3.1-8b", 1e11, tp=8, pp=4, global_batch=256, schedule="zb-h1")
    with pytest.raises(ValueError, match=r"virtual_stages=1.*schedule='1f1b' with virtual_stages=2"):
        estimate_training(dataclasses.replace(job, virtual_stages=2), cl, store=False)
    with pytest.raises(ValueError, match=r"needs pipeline parallelism \(pp > 1\).*use schedule='1f1b'"):
        estimate_training(dataclasses.replace(job, pp=1), cl, store=False)
    with pytest.raises(ValueError, match="did you mean 'zb-h1'"):
        estimate_training(dataclasses.replace(job, schedule="zbh1"), cl, store=False)
    assert schedule_code("ZB_H1") == 1 and TRAINING_SCHEDULES[schedule_code("1F1B")] == "1f1b"
    with pytest.raises(ValueError, match="schedules: 'zb-h1' needs pipelined layouts"):
        plan_training("llama-3.1-8b", 1e11, deadline="30d", pp=1, schedules=("zb-h1",), max_gpus=64)
    with pytest.raises(ValueError, match="schedule must be one of"):
        plan_training("llama-3.1-8b", 1e11, deadline="30d", schedules=("gpipe",), max_gpus=64)


_PINNED = dict(deadline="60d", accelerators=["H100-SXM"], providers=["aws"], pricing="on_demand", max_gpus=256,
               tp=8, pp=4, virtual_stages=1, micro_batch=1, zero_stage=1, recompute="selective", objective="time")


@pytest.fixture(scope="module")
def cat():
    return aicost.catalog.load()


def test_planner_picks_zb_h1_where_faster_and_its_candidate_equals_estimate_training(cat):
    p = plan_training("llama-3.1-70b", 1e12, schedules=("1f1b", "zb-h1"), catalog=cat, **_PINNED)
    r = p.feasible.iloc[0]
    assert r["schedule"] == "zb-h1"
    assert "ZB-H1 schedule" in p.best.headline
    assert any(ZERO_BUBBLE_ASSUMPTION in a for a in p.assumptions)
    gpn = int(r["gpus_per_node"])
    job = TrainingJob(model="llama-3.1-70b", tokens=1e12, global_batch=int(r["global_batch"]),
                      micro_batch=int(r["micro_batch"]), tp=int(r["tp"]), pp=int(r["pp"]),
                      virtual_stages=int(r["virtual_stages"]), recompute=r["recompute"],
                      zero_stage=int(r["zero_stage"]), seq_len=p.search.context.seq_len,
                      checkpoint_s=float(r["checkpoint_s"]), restart_s=float(r["restart_s"]), schedule=r["schedule"])
    # no efficiency given: the shape-aware default, whose layer kernel-time model also sets T_W
    cl = Cluster(accelerator=r["accelerator"], gpus=int(r["gpus"]), gpus_per_node=gpn,
                 scale_up_domain_gpus=int(r["scale_up_domain_gpus"]),
                 price_usd_per_gpu_hour=float(r["price_usd_per_hour"]) / gpn,
                 peak_flops_per_s=float(r["peak_flops_per_s"]), memory_bytes=float(r["memory_bytes"]),
                 mem_bw_bytes_per_s=float(r["mem_bw_bytes_per_s"]),
                 scale_up_bw_bytes_per_s=float(r["scale_up_bw_bytes_per_s"]),
                 scale_up_latency_s=float(r["scale_up_latency_s"]),
                 scale_out_bw_bytes_per_s=float(r["scale_out_bw_bytes_per_s"]) / gpn,
                 scale_out_latency_s=float(r["scale_out_latency_s"]))
    est = estimate_training(job, cl)
    for k in ("step_s", "bubble_s", "dp_exposed_s", "compute_s", "compute_efficiency"):
        assert getattr(est, k) == pytest.approx(r["efficiency" if k == "compute_efficiency" else k], rel=1e-9), k
    # the same configuration under 1F1B: slower, same memory
    one = estimate_training(dataclasses.replace(job, schedule="1f1b"), cl)
    assert one.step_s > est.step_s and one.memory.total == pytest.approx(r["memory_per_gpu_gib"] * 2**30)


def test_default_plan_is_unchanged_and_has_no_schedule_column(cat):
    kw = dict(deadline="30d", providers=["aws", "lambda"], max_gpus=64, catalog=cat)
    default = plan_training("llama-3.1-8b", 2e11, **kw)
    explicit = plan_training("llama-3.1-8b", 2e11, schedules="1f1b", **kw)
    assert "schedule" not in default.candidates.columns
    pd.testing.assert_frame_equal(default.candidates, explicit.candidates)
    assert default.assumptions == explicit.assumptions
    assert not any("ZB-H1" in a for a in default.assumptions)
    both = plan_training("llama-3.1-8b", 2e11, schedules=("1f1b", "zb-h1"), **kw)
    assert set(both.candidates["schedule"]) <= set(TRAINING_SCHEDULES)
    # a superset of layouts: never slower per configuration
    key = ["instance_type", "pricing", "nodes", "storage_tier", "region"]
    m = default.candidates.merge(both.candidates, on=key, suffixes=("_d", "_b"))
    assert len(m) and (m["fastest_fit_s_b"] <= m["fastest_fit_s_d"]).all()
    zb_only = plan_training("llama-3.1-8b", 2e11, schedules=("zb-h1",), **kw)
    lay = zb_only.search.layouts
    assert ((lay.sched == 1) == (lay.pp > 1)).all() and (lay.v == 1).all()


def test_plan_cache_keys_the_schedules(cat):
    cache = PlanCache()
    kw = dict(deadline="60d", accelerators=["H100-SXM"], max_gpus=128, pp=(1, 4), catalog=cat)
    a = cache.plan_training("llama-3.1-70b", 3e11, **kw)
    b = cache.plan_training("llama-3.1-70b", 3e11, schedules=("1f1b", "zb-h1"), **kw)
    assert cache.last_full and "schedule" in b.candidates.columns and "schedule" not in a.candidates.columns
    again = cache.plan_training("llama-3.1-70b", 3e11, budget_usd=5e6, schedules=("1f1b", "zb-h1"), **kw)
    assert not cache.last_full
    cold = plan_training("llama-3.1-70b", 3e11, budget_usd=5e6, schedules=("1f1b", "zb-h1"), **kw)
    cols = ["instance_type", "pricing", "nodes", "tp", "pp", "virtual_stages", "schedule", "time_s", "cost_usd"]
    pd.testing.assert_frame_equal(again.candidates[cols], cold.candidates[cols])


def test_cli_plan_train_takes_schedules(capsys):
    from aicost.cli import main

    rc = main(["plan", "train", "--model", "llama-3.1-8b", "--tokens", "1e11", "--deadline", "30d", "--max-gpus", "64",
               "--accelerators", "H100-SXM", "--schedules", "1f1b", "zb-h1", "--format", "json"])
    assert rc in (0, None)
    out = capsys.readouterr().out
    assert "ZB-H1" in out
