"""The decode step's physics (issue 12): split-K decode GEMMs, the attention kernel's own
efficiency, and the tensor-parallel all-reduce's per-call latency (library base + fabric hops),
the same in estimate_inference and plan_inference."""

from __future__ import annotations

import numpy as np
import pytest

from aicost import catalog as _catalog
from aicost.calibrate_curves import (
    GEMM_TILES,
    SPLIT_K_MIN_K,
    layer_gemm_shapes,
    serving_gemm_efficiency,
)
from aicost.model import (
    ALLREDUCE_BASE_LATENCY_S,
    DEFAULT_ALLREDUCE_BASE_LATENCY_S,
    Cluster,
    allreduce_base_latency_s,
    decode_bound,
    decode_roofline,
    decode_step_arrays,
    estimate_inference,
    get_model,
)
from aicost.plan import plan_inference

H100 = dict(peak_flops_per_s=1979e12, mem_bw_bytes_per_s=3.35e12, compute_efficiency=0.5,
            bandwidth_efficiency=0.85, weight_bytes=1.0, kv_bytes=1.0, gemm_e_max=0.65, gemm_k_half=139.0,
            compute_units=132)


@pytest.fixture(scope="module")
def cat():
    return _catalog.load()


def _wave_only(spec, tokens, tp, e_max=0.65, k_half=139.0, units=132):
    """The old rule: wave quantization over output tiles only (no split-K, no padding)."""
    flops = time = 0.0
    for _name, m, n, k, c in layer_gemm_shapes(spec, tokens, tp):
        best = max(f * (np.ceil(m / tm) * np.ceil(n / tn)) / (np.ceil(np.ceil(m / tm) * np.ceil(n / tn) / units)
                                                              * units) for tm, tn, f in GEMM_TILES)
        fl = 2.0 * m * n * k * c
        flops += fl
        time += fl / (e_max * best * k / (k + k_half))
    return flops / time


def test_split_k_fills_the_machine_at_a_decode_batch():
    """Llama-2-70B at tp 4, batch 64: one row of output tiles (20 for QKV) on 132 SMs. Wave
    quantization alone runs the QKV GEMM on 20 SMs (15%) and the layer at < 50% of the curve;
    split-K slices k (slices >= SPLIT_K_MIN_K long) so every SM works."""
    from aicost.calibrate_curves import _split_k_efficiency

    spec = get_model("llama-2-70b")
    rows = {name: (m, n, k) for name, m, n, k, _ in layer_gemm_shapes(spec, 64, 4)}
    assert rows["qkv"] == (64, 2560, 8192)
    qkv = float(_split_k_efficiency(64.0, 2560.0, 8192.0, 132.0, 0.0))
    # 20 64x128 tiles x 16 slices = 320 work units in 3 waves of 132 SMs (81%), not 20 of 132
    assert qkv == pytest.approx(0.80 * 320 / 396, rel=1e-9)
    assert 8192 / 16 >= SPLIT_K_MIN_K
    old = _wave_only(spec, 64.0, 4)
    new = float(serving_gemm_efficiency(spec, 64.0, 4, e_max=0.65, k_half=139.0, n_units=132))
    assert old < 0.5 * 0.65
    assert new > 0.6 * 0.65 and new > 1.4 * old
    # large prefill-sized GEMMs fill the machine without slicing: both rules agree within 5%
    big_old = _wave_only(spec, 8192.0, 4)
    big_new = float(serving_gemm_efficiency(spec, 8192.0, 4, e_max=0.65, k_half=139.0, n_units=132))
    assert big_new == pytest.approx(big_old, rel=0.05)


def test_decode_gemm_compute_time_is_flat_below_one_tile_and_efficiency_grows():
    """A batch of 8 computes a whole 64-row tile: the same GEMM time as a batch of 64, so the
    efficiency (real rows' FLOPs) is 8x lower; it keeps growing up to large batches."""
    spec = get_model("llama-3.1-8b")
    e = {b: float(serving_gemm_efficiency(spec, float(b), 1, e_max=0.65, k_half=139.0, n_units=132))
         for b in (1, 8, 64, 256, 2048)}
    assert e[8] == pytest.approx(e[64] / 8, rel=1e-9)
    assert e[1] < e[8] < e[64] < e[2048]
    g8 = decode_roofline(spec, batch=8, context_tokens=1024, tp=1, **H100)
    g64 = decode_roofline(spec, batch=64, context_tokens=1024, tp=1, **H100)
    assert g8[0] < g64[0]  # attention FLOPs grow with the batch; the GEMMs' compute time does not


@pytest.mark.parametrize("model,tp,batch", [("llama-2-70b", 4, 1), ("llama-2-70b", 4, 64),
                                            ("llama-2-7b", 1, 64), ("llama-3.1-405b", 8, 32)])
def test_small_batch_decode_is_memory_bound_with_weights_read_once(model, tp, batch):
    spec = get_model(model)
    kw = dict(batch=float(batch), context_tokens=1152.0, tp=float(tp), **H100)
    assert str(decode_bound(spec, **kw)) == "memory"
    compute_s, memory_s = decode_roofline(spec, **kw)
    weights = spec.n_params / spec.n_layers * 1.0 / tp  # FP8 weights of one layer on one GPU
    assert memory_s >= weights / (3.35e12 * 0.85) * 0.9  # the weights are read, once per step


def test_attention_compute_does_not_use_the_batch_gemm_efficiency():
    """At batch 1 the GEMMs reach a tiny share of the peak (one real row of a 64-row tile); the
    attention kernel's products run over the context and stay far below its KV-read time."""
    from aicost.model import _inference as inf

    spec = get_model("llama-3.1-8b")
    g_c, g_m, a_c, a_m = inf._decode_kernels(spec, batch=1.0, context_tokens=4096.0, tp=1.0, **H100)
    assert a_c < 0.2 * a_m
    assert g_c < g_m


def test_tp_allreduce_is_library_base_plus_fabric_hops():
    from aicost.model import _inference as inf

    assert float(inf._tp_allreduce(1e6, 1, 360e9, 1.5e-6, 6.6e-6)) == 0.0
    small = float(inf._tp_allreduce(16.0, 8, 360e9, 1.5e-6, 6.6e-6))
    assert small == pytest.approx(6.6e-6 + 14 * 1.5e-6, rel=1e-3)
    big = float(inf._tp_allreduce(64e6, 8, 360e9, 1.5e-6, 6.6e-6))
    assert big == pytest.approx(6.6e-6 + 14 * 1.5e-6 + 14 / 8 * 64e6 / 360e9, rel=1e-9)
    assert allreduce_base_latency_s("NVIDIA") == ALLREDUCE_BASE_LATENCY_S["NVIDIA"] == 6.6e-6
    assert allreduce_base_latency_s("amd") == ALLREDUCE_BASE_LATENCY_S["AMD"] == 12.0e-6
    assert allreduce_base_latency_s(None) == DEFAULT_ALLREDUCE_BASE_LATENCY_S
    # a decode step charges it twice per layer
    spec = get_model("llama-2-70b")
    kw = dict(batch=64.0, context_tokens=1152.0, tp=4.0, **H100)
    no_comm = decode_step_arrays(spec, **kw, allreduce_base_latency_s=0.0)
    with_comm = decode_step_arrays(spec, **kw, scale_up_bw_bytes_per_s=360e9, scale_up_latency_s=1.5e-6,
                                   allreduce_base_latency_s=6.6e-6)
    per_call = float(inf._tp_allreduce(64 * spec.d_model * 2.0, 4, 360e9, 1.5e-6, 6.6e-6))
    assert with_comm - no_comm == pytest.approx(2 * spec.n_layers * per_call, rel=1e-9)
    assert 10e-6 < per_call < 30e-6  # 1 MiB on 4 NVLink GPUs: latency-bound, tens of microseconds


@pytest.mark.parametrize("acc,vendor_base,hop", [("H100-SXM", 6.6e-6, 1.5e-6), ("MI300X", 12.0e-6, 2.0e-6)])
def test_named_accelerator_gets_its_fabric_hop_and_library_base(cat, acc, vendor_base, hop):
    """estimate_inference on a catalog name takes the scale-up fabric of the catalog's instances
    of it (as the planner takes each offer's), not the 5-us default, and the vendor's library."""
    est = estimate_inference("llama-3.1-70b", acc, tp=8, prompt_tokens=128, output_tokens=128, batch=1,
                             dtype="fp8", catalog=cat, price_usd_per_gpu_hour=1.0)
    text = est.sources["tp_allreduce"]
    assert f"{vendor_base * 1e6:.1f} us" in text and f"{hop * 1e6:.1f} us" in text


def test_planner_and_estimate_agree_on_amd_and_nvidia(cat):
    plan = plan_inference("llama-3.1-70b", 2, prompt_tokens=512, output_tokens=256, tp=[8], batch=[16],
                          accelerators=["MI300X", "H100-SXM"], catalog=cat, dtype="fp8")
    ok = plan.candidates[plan.candidates["batch"] <= plan.candidates["max_batch"]]
    seen = set()
    for _, row in ok.iterrows():
        if row["accelerator"] in seen:
            continue
        seen.add(row["accelerator"])
        gpn = int(row["gpus_per_node"])
        cl = Cluster(accelerator=row["accelerator"], gpus=8, gpus_per_node=gpn,
                     price_usd_per_gpu_hour=float(row["price_usd_per_hour"]) / gpn,
                     peak_flops_per_s=float(row["peak_flops_per_s"]), memory_bytes=float(row["memory_bytes"]),
                     mem_bw_bytes_per_s=float(row["mem_bw_bytes_per_s"]),
                     scale_up_bw_bytes_per_s=float(row["scale_up_bw_bytes_per_s"]),
                     scale_up_latency_s=float(row["scale_up_latency_s"]),
                     scale_out_bw_bytes_per_s=float(row["scale_out_bw_bytes_per_s"]))
        est = estimate_inference("llama-3.1-70b", cl, tp=8, prompt_tokens=512, output_tokens=256, batch=16,
                                 dtype="fp8", catalog=cat)
        assert est.tpot_s == pytest.approx(row["tpot_s"], rel=1e-9)
        assert est.prefill_s == pytest.approx(row["prefill_s"], rel=1e-9)
        base = float(row["allreduce_base_latency_s"])
        assert base == (12.0e-6 if row["accelerator"] == "MI300X" else 6.6e-6)
    assert seen == {"MI300X", "H100-SXM"}
