"""plan_inference: latency targets hold, replicas fit on whole instances, vectorized against the
scalar aicost.model.estimate_inference, demand curves, infeasibility messages and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import aicost
from aicost import InfeasibleError, UnknownNameError
from aicost.model import Cluster, estimate_inference
from aicost.plan import ServingDrop, plan_inference

SMALL = dict(providers=["aws", "lambda"])


@pytest.fixture(scope="module")
def cat():
    return aicost.catalog.load()


@pytest.fixture(scope="module")
def serve(cat):
    return plan_inference("llama-3.1-8b", 30, prompt_tokens=512, output_tokens=256, ttft_s="1s",
                          tpot_s="50ms", catalog=cat, **SMALL)


def test_feasible_candidates_meet_targets(serve):
    c = serve.candidates
    ok = c[c["feasible"]]
    assert len(ok) > 0
    assert (ok["tpot_s"] <= 0.05).all()
    assert (ok["ttft_s"] <= 1.0).all()
    assert (ok["batch"] <= ok["max_batch"]).all()
    assert (ok["instances"] * ok["replicas_per_instance"] >= ok["replicas"]).all()
    assert (ok["tp"] <= ok["scale_up_domain_gpus"]).all()  # a node, or the instances of an NVL72 rack
    # capacity covers the rate: utilization below 1
    assert (ok["utilization"] < 1).all()
    np.testing.assert_allclose(ok["cost_usd_per_hour"], ok["instances"] * ok["price_usd_per_hour"])
    bad = c[~c["feasible"]]
    assert set(bad["reason"]) <= {r.text for r in ServingDrop if r is not ServingDrop.OK}


def test_best_is_cheapest_and_explains(serve):
    best = serve.best
    assert best.cost == pytest.approx(serve.feasible["cost_usd_per_hour"].min())
    text = str(best)
    assert "TTFT" in text and "TPOT" in text and "per 1M tokens" in text
    assert best.sensitivity is not None and best.sensitivity.same_time_s >= best.time_s
    assert "decode bandwidth efficiency" in best.efficiency_source


def test_vectorized_agrees_with_estimate_inference(serve):
    for _, row in serve.feasible.head(3).iterrows():
        gpn = int(row["gpus_per_node"])
        cl = Cluster(accelerator=row["accelerator"], gpus=int(row["tp"]), gpus_per_node=gpn,
                     price_usd_per_gpu_hour=float(row["price_usd_per_hour"]) / gpn,
                     peak_flops_per_s=float(row["peak_flops_per_s"]), memory_bytes=float(row["memory_bytes"]),
                     mem_bw_bytes_per_s=float(row["mem_bw_bytes_per_s"]),
                     scale_up_bw_bytes_per_s=float(row["scale_up_bw_bytes_per_s"]),
                     scale_up_latency_s=float(row["scale_up_latency_s"]),
                     scale_out_bw_bytes_per_s=float(row["scale_out_bw_bytes_per_s"]))
        est = estimate_inference("llama-3.1-8b", cl, tp=int(row["tp"]), prompt_tokens=512, output_tokens=256,
                                 requests_per_s=30, ttft_s=1.0, tpot_s=0.05, batch=int(row["batch"]),
                                 # the shape-aware default where the accelerator has a GEMM curve
                                 compute_efficiency=(None if np.isfinite(row["gemm_e_max"])
                                                     else float(row["efficiency"])),
                                 bandwidth_efficiency=float(row["bandwidth_efficiency"]))
        assert est.tpot_s == pytest.approx(row["tpot_s"], rel=1e-9)
        assert est.max_batch == int(row["max_batch"])
        assert est.replicas == pytest.approx(row["replicas"])
        assert est.ttft_s == pytest.approx(row["ttft_s"], rel=1e-9)
        assert est.requests_per_s_per_replica == pytest.approx(row["requests_per_s_per_replica"], rel=1e-9)


def test_latency_by_batch_and_replicas_by_rate(serve):
    lb = serve.latency_by_batch()
    assert lb["batch"].is_monotonic_increasing
    assert np.all(np.diff(lb["tpot_s"].to_numpy()) >= 0)
    rr = serve.replicas_by_rate(rates=[1, 10, 30, 60, 120], top=2)
    for _, part in rr.groupby("label"):
        assert part["instances"].is_monotonic_increasing
    # the serving views belong to ServingPlan; a TrainingPlan has none
    train = aicost.plan.plan_training("llama-3.1-8b", 1e11, deadline="30d", providers=["aws"], max_gpus=64)
    assert isinstance(train, aicost.plan.TrainingPlan) and isinstance(serve, aicost.plan.ServingPlan)
    assert isinstance(train, aicost.plan.Plan) and isinstance(serve, aicost.plan.Plan)
    assert not hasattr(train, "latency_by_batch") and not hasattr(train, "replicas_by_rate")


def test_demand_curve_autoscaled_vs_static(cat):
    trace = aicost.model.load_trace("synthetic_diurnal_chat_24h")
    scaled = trace.assign(requests_per_s=trace["requests_per_s"] * 5)
    p = plan_inference("llama-3.1-8b", demand=scaled, ttft_s="1s", tpot_s="50ms", catalog=cat, **SMALL)
    d = p.extras["demand"]
    assert len(d["curve"]) == len(trace)
    s = d["summary"]
    assert s["peak_requests_per_s"] == pytest.approx(scaled["requests_per_s"].max())
    assert s["autoscaled_usd_per_day"] <= s["static_usd_per_day"] + 1e-9
    assert s["static_unmet_fraction"] == 0
    assert "autoscaled" in str(p.best)
    assert p.request["requests_per_s"] == pytest.approx(scaled["requests_per_s"].max())


def test_infeasible_tpot_says_what_to_relax(cat):
    with pytest.raises(InfeasibleError, match=r"no configuration meets TPOT .* relax tpot_s to >="):
        plan_inference("llama-3.1-70b", 10, tpot_s="0.1ms", catalog=cat, **SMALL)


def test_model_that_fits_nowhere(cat):
    with pytest.raises(InfeasibleError, match="fits on no offer searched: its weights alone need"):
        plan_inference("llama-3.1-405b", 1, catalog=cat, accelerators=["L4"])


@pytest.mark.parametrize("kwargs, match", [
    (dict(requests_per_s=None), "exactly one of requests_per_s"),
    (dict(requests_per_s=0), "requests_per_s must be a positive"),
    (dict(prompt_tokens=0), "prompt_tokens"),
    (dict(tpot_s="0ms"), "tpot_s must be a positive"),
    (dict(tp=256), "tp=256 is larger than the GPUs of any scale-up domain"),
    (dict(ttft_percentile=1.5), "ttft_percentile"),
    (dict(demand="no-such-trace"), "unknown trace"),
])
def test_bad_input(cat, kwargs, match):
    args = dict(model="llama-3.1-8b", requests_per_s=10, catalog=cat, providers=["aws"])
    args.update(kwargs)
    if "demand" in kwargs:
        args["requests_per_s"] = None
    with pytest.raises((ValueError, LookupError), match=match):
        plan_inference(**args)


def test_unknown_model():
    with pytest.raises(UnknownNameError, match="did you mean"):
        plan_inference("mistral-7", 10)


def test_demand_dataframe_checked(cat):
    with pytest.raises(ValueError, match="requests_per_s"):
        plan_inference("llama-3.1-8b", demand=pd.DataFrame({"time_s": [0, 1]}), catalog=cat)


def test_pricing_nobody_offers(cat):
    with pytest.raises(InfeasibleError, match="no offer searched has a price for reserved_1y"):
        plan_inference("llama-3.1-8b", 10, catalog=cat, providers=["runpod"], pricing=["reserved_1y"])


@pytest.mark.parametrize("engine", ["vllm", "trtllm", "sglang"])
def test_engine_preset_sizes_batch_and_is_named(cat, engine):
    """plan_inference(engine=...) sizes the largest batch by the engine's memory rule and cap
    (the same as aicost.model.estimate_inference with that engine) and names it."""
    from aicost.model import ENGINES

    p = plan_inference("llama-3.1-8b", 30, prompt_tokens=512, output_tokens=256, tpot_s="50ms",
                       catalog=cat, providers=["aws"], engine=engine)
    eng = ENGINES[engine]
    assert any(a.startswith("decode reaches") and f"engine {engine}:" in a for a in p.assumptions)
    assert p.request["engine"] == engine and p.search.context.engine is eng
    ok = p.feasible
    if eng.max_batch:
        assert (ok["max_batch"] <= eng.max_batch).all()
    row = ok.iloc[0]
    gpn = int(row["gpus_per_node"])
    cl = Cluster(accelerator=row["accelerator"], gpus=int(row["tp"]), gpus_per_node=gpn,
                 price_usd_per_gpu_hour=float(row["price_usd_per_hour"]) / gpn,
                 peak_flops_per_s=float(row["peak_flops_per_s"]), memory_bytes=float(row["memory_bytes"]),
                 mem_bw_bytes_per_s=float(row["mem_bw_bytes_per_s"]),
                 scale_up_bw_bytes_per_s=float(row["scale_up_bw_bytes_per_s"]),
                 scale_up_latency_s=float(row["scale_up_latency_s"]),
                 scale_out_bw_bytes_per_s=float(row["scale_out_bw_bytes_per_s"]))
    est = estimate_inference("llama-3.1-8b", cl, tp=int(row["tp"]), prompt_tokens=512, output_tokens=256,
                             requests_per_s=30, tpot_s=0.05, batch=int(row["batch"]),
                             compute_efficiency=(None if np.isfinite(row["gemm_e_max"])
                                                 else float(row["efficiency"])),
                             bandwidth_efficiency=float(row["bandwidth_efficiency"]), engine=engine)
    assert est.max_batch == int(row["max_batch"])
    assert est.tpot_s == pytest.approx(row["tpot_s"], rel=1e-9)


def test_engine_unknown_suggests(cat):
    with pytest.raises(UnknownNameError, match="vllm"):
        plan_inference("llama-3.1-8b", 30, catalog=cat, providers=["aws"], engine="vlm")


def test_serving_tp_spans_instances_of_one_nvl72_domain():
    """GB200 NVL72 offers are 4-GPU instances in a 72-GPU NVLink domain: a 405B replica at tp 8
    spans two instances (billed whole), and tp stays inside the domain."""
    from aicost.plan import plan_inference

    cat = aicost.catalog.load()
    p = plan_inference("llama-3.1-405b", 20, prompt_tokens=2048, output_tokens=512, ttft_s="2s",
                       tpot_s="60ms", catalog=cat, accelerators=["GB200"])
    ok = p.feasible
    assert (ok["gpus_per_node"] == 4).all() and (ok["tp"] > 4).all()  # bf16 405B needs tp >= 8 here
    assert (ok["tp"] <= ok["scale_up_domain_gpus"]).all()
    spans = ok["tp"] / ok["gpus_per_node"]
    assert np.allclose(ok["replicas_per_instance"], 1 / spans)
    assert (ok["instances"] == ok["replicas"] * spans).all()
    assert (ok["gpus"] == ok["replicas"] * ok["tp"]).all()
    assert "scale-up domain" in " ".join(p.assumptions)
    # the scalar model takes the same replica (tp 8 over two 4-GPU instances of the domain)
    from aicost.model import Cluster, estimate_inference

    r = ok.iloc[0]
    est = estimate_inference("llama-3.1-405b", Cluster(
        accelerator="GB200", gpus=int(r.tp), gpus_per_node=4, scale_up_domain_gpus=72,
        peak_flops_per_s=float(r.peak_flops_per_s), memory_bytes=float(r.memory_bytes),
        mem_bw_bytes_per_s=float(r.mem_bw_bytes_per_s), scale_up_bw_bytes_per_s=float(r.scale_up_bw_bytes_per_s),
        scale_up_latency_s=float(r.scale_up_latency_s)), tp=int(r.tp), prompt_tokens=2048,
        output_tokens=512, batch=int(r.batch),
        compute_efficiency=None if np.isfinite(r.gemm_e_max) else float(r.efficiency),
        bandwidth_efficiency=float(r.bandwidth_efficiency))
    assert est.tpot_s == pytest.approx(float(r.tpot_s), rel=1e-9)
    with pytest.raises(ValueError, match="scale-up domain"):
        estimate_inference("llama-3.1-405b", Cluster(accelerator="H100-SXM", gpus=16, gpus_per_node=8),
                           tp=16)


@pytest.mark.parametrize("model,tp", [("llama-3.1-8b", 1), ("mixtral-8x7b", 2)])
def test_shape_aware_serving_efficiency_is_the_default_and_agrees(cat, model, tp):
    """Issue 12: prefill and decode use the accelerator's GEMM curve at their own GEMM shapes
    (prompt tokens; the batch, and for MoE batch x k / n_experts rows per expert), in the planner
    and in estimate_inference alike; an explicit efficiency still overrides."""
    from aicost.calibrate_curves import gemm_curve, layer_gemm_shapes
    from aicost.model import get_model, serving_compute_efficiency

    plan = plan_inference(model, 5, prompt_tokens=1024, output_tokens=256, tp=[tp], batch=[8, 256],
                          accelerators=["H100-SXM"], providers=["aws"], catalog=cat)
    ok = plan.candidates[plan.candidates["batch"] <= plan.candidates["max_batch"]]
    assert len(ok) >= 2
    curve = gemm_curve("H100-SXM", "bf16", catalog=cat)
    assert ok["gemm_e_max"].to_numpy() == pytest.approx(curve.e_max)
    assert "shape-aware GEMM efficiency from" in plan.best.efficiency_source
    spec = get_model(model)
    small, big = (ok[ok["batch"] == b].iloc[0] for b in (8, 256))
    # decode at batch 8 reaches less of the peak than at 256 (fewer tiles, fewer rows per expert)
    assert small["decode_efficiency"] < big["decode_efficiency"]
    assert big["decode_efficiency"] == pytest.approx(float(serving_compute_efficiency(
        spec, 256.0, float(tp), compute_efficiency=float("nan"), gemm_e_max=curve.e_max,
        gemm_k_half=curve.k_half, compute_units=132)))
    if spec.is_moe:  # each expert sees batch x k / n_experts rows
        rows = {name: m for name, m, *_ in layer_gemm_shapes(spec, 256, tp)}
        assert rows["expert_up"] == round(256 * spec.experts_per_token / spec.n_experts)
    for row in (small, big):
        gpn = int(row["gpus_per_node"])
        cl = Cluster(accelerator=row["accelerator"], gpus=tp, gpus_per_node=gpn,
                     price_usd_per_gpu_hour=float(row["price_usd_per_hour"]) / gpn,
                     peak_flops_per_s=float(row["peak_flops_per_s"]), memory_bytes=float(row["memory_bytes"]),
                     mem_bw_bytes_per_s=float(row["mem_bw_bytes_per_s"]),
                     scale_up_bw_bytes_per_s=float(row["scale_up_bw_bytes_per_s"]),
                     scale_up_latency_s=float(row["scale_up_latency_s"]),
                     scale_out_bw_bytes_per_s=float(row["scale_out_bw_bytes_per_s"]))
        est = estimate_inference(model, cl, tp=tp, prompt_tokens=1024, output_tokens=256, batch=int(row["batch"]),
                                 catalog=cat)
        assert est.tpot_s == pytest.approx(row["tpot_s"], rel=1e-9)
        assert est.prefill_s == pytest.approx(row["prefill_s"], rel=1e-9)
        assert est.sources["efficiency"].startswith("shape-aware GEMM efficiency from")
        flat = estimate_inference(model, cl, tp=tp, prompt_tokens=1024, output_tokens=256, batch=int(row["batch"]),
                                  catalog=cat, compute_efficiency=0.5)
        assert flat.sources["efficiency"] == "compute_efficiency (explicit)"
        assert flat.prefill_s != pytest.approx(est.prefill_s, rel=1e-3)
    # the explicit efficiency overrides the curve in the planner too
    given = plan_inference(model, 5, prompt_tokens=1024, output_tokens=256, tp=[tp], batch=[256],
                           accelerators=["H100-SXM"], providers=["aws"], catalog=cat, efficiency=0.5)
    assert np.isnan(given.candidates["gemm_e_max"]).all()
    assert (given.candidates["decode_efficiency"] == 0.5).all()
