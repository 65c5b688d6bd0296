"""Inference roofline, batch limit, Erlang-C replicas, cost per token, demand trace, autoscaling."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from aicost import CatalogError, InfeasibleError, UnknownNameError
from aicost.model import (
    Cluster,
    autoscale,
    capacity_for_replicas,
    erlang_c,
    estimate_inference,
    get_model,
    inference_arrays,
    latency_curve,
    load_trace,
    replicas_arrays,
    replicas_for_rate,
    synthetic_diurnal_trace,
)
from aicost.model._demand import SHIPPED_TRACE_PARAMS, _traces_dir

H100 = Cluster(accelerator="H100-SXM", gpus=1, peak_flops_per_s=989e12, memory_bytes=80 * 2**30,
               mem_bw_bytes_per_s=3.35e12, scale_up_bw_bytes_per_s=450e9, scale_up_latency_s=5e-6,
               scale_out_bw_bytes_per_s=50e9, price_usd_per_gpu_hour=4.0)
EFF = dict(compute_efficiency=0.6, bandwidth_efficiency=0.8)


def test_decode_batch1_is_weight_bandwidth_bound():
    spec = get_model("llama-3.1-8b")
    c = latency_curve(spec, H100, batches=[1], prompt_tokens=512, output_tokens=256, **EFF)
    bw = 3.35e12 * 0.8
    layer_w = (spec.attn_params_per_layer + spec.ffn_params_per_expert + spec.norm_params_per_layer) * 2
    kv = (512 + 128) * spec.kv_bytes_per_token()
    expect = (spec.n_layers * layer_w + kv + spec.vocab_size * spec.d_model * 2) / bw
    assert c["decode_step_s"].iloc[0] == pytest.approx(expect, rel=1e-9)
    assert c["bound"].iloc[0] == "memory"
    # TPOT adds the share of a prefill per iteration: B/O prefills per step
    assert c["tpot_s"].iloc[0] == pytest.approx(c["decode_step_s"].iloc[0] + c["prefill_s"].iloc[0] / 256)


def test_prefill_is_compute_bound_and_hand_computed():
    spec = get_model("llama-3.1-8b")
    p = 2048
    c = latency_curve(spec, H100, batches=[1], prompt_tokens=p, output_tokens=64, **EFF)
    rate = 989e12 * 0.6
    mm = spec.active_layer_params - spec.norm_params_per_layer
    layer = (2 * mm * p + 2 * spec.d_attn * p * p) / rate
    head = 2 * spec.vocab_size * spec.d_model / rate
    head = max(head, spec.vocab_size * spec.d_model * 2 / (3.35e12 * 0.8))
    assert c["prefill_s"].iloc[0] == pytest.approx(spec.n_layers * layer + head, rel=1e-9)


def test_tpot_and_throughput_grow_with_batch():
    c = latency_curve("llama-3.1-8b", H100, batches=[1, 8, 64, 256], **EFF)
    assert c["tpot_s"].is_monotonic_increasing
    assert c["requests_per_s"].is_monotonic_increasing
    assert c["usd_per_1m_output"].is_monotonic_decreasing


def test_max_batch_from_memory():
    spec = get_model("llama-3.1-70b")
    e = estimate_inference(spec, H100.__class__(**{**H100.__dict__, "gpus": 4}), tp=4, prompt_tokens=1024,
                           output_tokens=1024, **EFF)
    weights = spec.n_params * 2 / 4
    kv_seq = 2048 * spec.kv_bytes_per_token() / 4  # 8 KV heads over 4 GPUs
    free = 80 * 2**30 * 0.9 - weights - e.workspace_bytes_per_gpu
    assert e.max_batch == math.floor(free / kv_seq)
    assert e.kv_bytes_per_seq_per_gpu == pytest.approx(kv_seq)
    # tp beyond the KV heads replicates them: per-GPU KV stops shrinking
    r = inference_arrays(spec, tp=np.array([8, 16]), batch=1, prompt_tokens=10, output_tokens=10,
                          peak_flops_per_s=1e15, mem_bw_bytes_per_s=3e12, memory_bytes=80 * 2**30,
                          compute_efficiency=0.5, bandwidth_efficiency=0.8)
    assert r["kv_bytes_per_seq"][0] == r["kv_bytes_per_seq"][1]


def test_erlang_c_known_values():
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_c(1, 0.7) == pytest.approx(0.7)  # M/M/1: P(wait) = rho
    c, a = 10, 7.0
    top = a**c / math.factorial(c) * c / (c - a)
    bottom = sum(a**k / math.factorial(k) for k in range(c)) + top
    assert erlang_c(c, a) == pytest.approx(top / bottom)
    out = erlang_c(np.array([5, 5, 5]), np.array([0.0, 2.0, 6.0]))
    assert out[0] == 0 and 0 < out[1] < 1 and out[2] == 1


def test_replicas_search_matches_brute_force():
    from aicost.model import ttft_quantile

    service, base, batch = 12.0, 0.1, 16
    rates = np.array([0.5, 5.0, 30.0, 120.0])
    reps, ttft = replicas_arrays(rate=rates, batch=batch, service_s=service, base_ttft_s=base,
                                  ttft_target_s=0.5, percentile=0.9)
    for lam, r in zip(rates, reps):
        brute = next(k for k in range(1, 10000)
                     if ttft_quantile(k, batch, lam, service, base, 0.9) <= 0.5)
        assert r == brute
    assert np.all(np.diff(reps) >= 0) and np.all(ttft <= 0.5)
    # more than throughput division: the queue needs slack
    assert reps[-1] >= math.ceil(120.0 * service / batch)
    r_imp, _ = replicas_arrays(rate=1.0, batch=batch, service_s=service, base_ttft_s=1.0, ttft_target_s=0.5)
    assert r_imp == math.inf


def test_estimate_inference_for_a_rate():
    e = estimate_inference("llama-3.1-8b", H100, requests_per_s=50, prompt_tokens=512, output_tokens=256,
                           ttft_s="1s", tpot_s="40ms", **EFF)
    assert e.tpot_s <= 0.040 and e.ttft_s <= 1.0 and e.meets_targets
    assert e.replicas >= math.ceil(50 / e.requests_per_s_per_replica)
    assert e.utilization < 1
    assert e.cost_usd_per_hour == pytest.approx(e.replicas * 4.0)
    # the per-token prices recover the hourly cost: input + output spend of an hour of traffic
    per_hour = (e.usd_per_1m_input * 50 * 512 + e.usd_per_1m_output * 50 * 256) * 3600 / 1e6
    assert per_hour == pytest.approx(e.cost_usd_per_hour)
    assert e.usd_per_1m_output > e.usd_per_1m_input  # decode is the expensive half
    assert e.usd_per_1m_output >= e.usd_per_1m_output_at_capacity
    assert "Serving" in str(e) and "<table>" in e._repr_html_()
    # vectorized replicas agree with the estimate
    assert replicas_for_rate(e, 50) == e.replicas
    assert np.all(np.diff(replicas_for_rate(e, np.array([1.0, 10.0, 100.0]))) >= 0)


def test_tensor_parallel_shortens_tpot():
    one = estimate_inference("llama-3.1-70b", Cluster(**{**H100.__dict__, "gpus": 2}), tp=2, batch=8, **EFF)
    four = estimate_inference("llama-3.1-70b", Cluster(**{**H100.__dict__, "gpus": 4}), tp=4, batch=8, **EFF)
    assert four.decode_step_s < one.decode_step_s
    assert four.decode_step_s > one.decode_step_s / 2  # all-reduces and the replicated head cost something


def test_inference_bad_input():
    with pytest.raises(InfeasibleError, match="does not fit"):
        estimate_inference("llama-3.1-405b", H100, **EFF)
    with pytest.raises(InfeasibleError, match="TPOT"):
        estimate_inference("llama-3.1-8b", H100, tpot_s="1ms", **EFF)
    with pytest.raises(ValueError, match="larger than"):
        estimate_inference("llama-3.1-8b", H100, tp=16, **EFF)
    with pytest.raises(ValueError, match="prompt_tokens"):
        estimate_inference("llama-3.1-8b", H100, prompt_tokens=0, **EFF)
    with pytest.raises(ValueError, match="requests_per_s"):
        estimate_inference("llama-3.1-8b", H100, requests_per_s=-1, **EFF)
    with pytest.raises(UnknownNameError):
        estimate_inference("llama-9", H100, **EFF)


def test_shipped_trace_is_synthetic_and_reproducible():
    path = _traces_dir() / "synthetic_diurnal_chat_24h.csv"
    assert "synthetic" in path.name
    assert "SYNTHETIC" in path.read_text().splitlines()[0]
    p = dict(SHIPPED_TRACE_PARAMS)
    regenerated = synthetic_diurnal_trace(p.pop("peak_rps"), p.pop("trough_rps"), **p)
    shipped = load_trace()
    assert len(shipped) == 288
    np.testing.assert_allclose(shipped["requests_per_s"], regenerated["requests_per_s"], rtol=0, atol=1e-9)
    assert shipped["requests_per_s"].idxmax() > shipped["requests_per_s"].idxmin()


def test_load_trace_errors(tmp_path):
    with pytest.raises(UnknownNameError):
        load_trace("diurnal_chat")
    bad = tmp_path / "t.csv"
    bad.write_text("time_s,requests_per_s\n0,1\n300,-2\n")
    with pytest.raises(CatalogError) as exc:
        load_trace(bad)
    assert exc.value.row == 3 and exc.value.column == "requests_per_s"
    with pytest.raises(CatalogError, match="time_s"):
        load_trace(pd.DataFrame({"t": [0, 1], "requests_per_s": [1, 2]}))


def test_autoscaled_against_static():
    e = estimate_inference("llama-3.1-8b", H100, requests_per_s=20, ttft_s="2s", tpot_s="40ms", **EFF)
    trace = synthetic_diurnal_trace(60.0, 5.0, interval_s=600.0, seed=1)
    plan = autoscale(e, trace, min_replicas=1, scale_up_lag_s=1200.0)
    s = plan.summary.set_index("policy")
    assert s.loc["static", "unmet_requests"] == 0
    assert s.loc["static", "gpu_hours"] > s.loc["autoscaled", "gpu_hours"]
    assert s.loc["static", "idle_gpu_hours"] > s.loc["autoscaled", "idle_gpu_hours"]
    assert s.loc["autoscaled", "unmet_requests"] > 0  # the lag misses the morning ramp
    tl = plan.timeline
    assert (tl["replicas_static"] == tl["replicas_needed"].max()).all()
    caps = capacity_for_replicas(e, tl["replicas_needed"].to_numpy())
    assert np.all(caps >= tl["requests_per_s"].to_numpy() * (1 - 1e-6))
    # without a lag the autoscaler keeps up
    instant = autoscale(e, trace, scale_up_lag_s=0.0).summary.set_index("policy")
    assert instant.loc["autoscaled", "unmet_requests"] == pytest.approx(0.0, abs=1e-6)
    assert "autoscaled" in str(plan) and "<table" in plan._repr_html_()


def test_inference_arrays_equal_scalar_estimates():
    spec = get_model("qwen2.5-7b")
    batches = np.array([1, 4, 16, 64])
    r = inference_arrays(spec, tp=1, batch=batches, prompt_tokens=1000, output_tokens=200,
                          peak_flops_per_s=989e12, mem_bw_bytes_per_s=3.35e12, memory_bytes=80 * 2**30,
                          compute_efficiency=0.6, bandwidth_efficiency=0.8, scale_up_bw_bytes_per_s=450e9 * 0.8,
                          scale_up_latency_s=5e-6, price_usd_per_gpu_hour=4.0)
    for i, b in enumerate(batches):
        e = estimate_inference(spec, H100, batch=int(b), prompt_tokens=1000, output_tokens=200, **EFF)
        assert e.tpot_s == pytest.approx(r["tpot_s"][i], rel=1e-12)
        assert e.prefill_s == pytest.approx(r["prefill_s"][i], rel=1e-12)
        assert e.usd_per_1m_output == pytest.approx(r["usd_per_1m_output"][i], rel=1e-12)
        assert e.max_batch == r["max_batch"][i]


def test_default_batch_is_the_largest_meeting_tpot():
    e = estimate_inference("llama-3.1-8b", H100, tpot_s="30ms", **EFF)
    assert e.tpot_s <= 0.030
    nxt = latency_curve("llama-3.1-8b", H100, batches=[e.batch + 1], **EFF)
    assert nxt["tpot_s"].iloc[0] > 0.030 or e.batch == e.max_batch
