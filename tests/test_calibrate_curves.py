"""Size-aware GEMM efficiency curve and the per-layer kernel-time model (aicost.calibrate_curves)."""

from __future__ import annotations

import numpy as np
import pytest

from aicost.calibrate_curves import (
    DEFAULT_GEMM_CURVE,
    GemmCurve,
    fit_gemm_curve,
    gemm_efficiency,
    layer_compute_efficiency,
    layer_gemm_shapes,
    measured_gemm_points,
)
from aicost.model import ModelSpec, get_model

H200 = {"peak_flops_per_s": 989.4e12, "mem_bw_bytes_per_s": 4.8e12, "n_units": 132}


def test_efficiency_rises_with_k_and_saturates_below_e_max():
    ks = np.array([64, 256, 1024, 4096, 16384, 65536])
    e = gemm_efficiency(8192, 8192, ks, **H200)
    assert np.all(np.diff(e) > 0)
    assert e[-1] <= DEFAULT_GEMM_CURVE.e_max and e[-1] > 0.9 * DEFAULT_GEMM_CURVE.e_max


def test_skinny_gemm_is_memory_bound():
    # a decode-like GEMM (8 tokens x 8192 x 8192) reads 134 MB of weights for 1 GFLOP
    e = float(gemm_efficiency(8, 8192, 8192, **H200))
    roof = 2 * 8 * 8192 * 8192 / ((8 * 8192 + 8192 * 8192 + 8 * 8192) * 2 / (4.8e12 * 0.85)) / 989.4e12
    assert e == pytest.approx(roof, rel=1e-9) and e < 0.05


def test_wave_quantization_penalises_a_partial_last_wave():
    # 132 tiles of 128x256 fill the H200's 132 SMs once; one more tile row needs a second wave
    full = float(gemm_efficiency(128 * 12, 256 * 11, 8192, **H200))
    partial = float(gemm_efficiency(128 * 12 + 1, 256 * 11, 8192, **H200))
    assert partial < full


def test_fit_on_shipped_h200_sweep_and_default_family_share_k_half():
    pts = measured_gemm_points()
    assert len(pts) >= 40 and set(pts["device"]) == {"NVIDIA H200"}
    fit = fit_gemm_curve(pts, ("bf16", "fp16"))
    assert fit.n_points == int(pts["dtype"].isin(["bf16", "fp16"]).sum())
    assert fit.rms_error < 0.08
    assert 0.6 < fit.e_max < 0.8
    assert DEFAULT_GEMM_CURVE.k_half == pytest.approx(fit.k_half, rel=0.05)  # one set of constants
    with pytest.raises(ValueError, match="aicost bench"):
        fit_gemm_curve(pts, "fp8")


def test_layer_shapes_follow_tp_and_moe_routing():
    s = get_model("llama-3.1-70b")
    shapes = {n: (m, nn, k, c) for n, m, nn, k, c in layer_gemm_shapes(s, 8192, tp=8)}
    assert shapes["qkv"][1:3] == ((8192 + 2 * 1024) // 8, 8192)
    assert shapes["ffn_down"][1:3] == (8192, 28672 // 8)
    moe = get_model("mixtral-8x7b")
    shapes = {n: (m, nn, k, c) for n, m, nn, k, c in layer_gemm_shapes(moe, 4096)}
    assert shapes["expert_up"] == (4096 * 2 // 8, 2 * 14336, 4096, 8.0)  # 8 experts, top-2


def test_small_models_run_at_a_lower_fraction_of_peak_than_large_ones():
    a100 = {"peak_flops_per_s": 312e12, "mem_bw_bytes_per_s": 2.0e12, "n_units": 108}
    small = ModelSpec(name="s", n_layers=24, d_model=2304, n_heads=24, d_ff=9216, vocab_size=51200,
                      seq_len=2048, ffn="gelu")
    large = ModelSpec(name="l", n_layers=128, d_model=25600, n_heads=160, d_ff=102400, vocab_size=51200,
                      seq_len=2048, ffn="gelu")
    e_small = layer_compute_efficiency(small, micro_batch=1, seq_len=2048, tp=1, **a100)
    e_large = layer_compute_efficiency(large, micro_batch=1, seq_len=2048, tp=8, **a100)
    assert e_small["efficiency"] < e_large["efficiency"] <= DEFAULT_GEMM_CURVE.e_max
    assert e_small["elementwise"] > e_large["elementwise"]
    for e in (e_small, e_large):
        assert e["gemm"] + e["attention"] + e["elementwise"] == pytest.approx(1.0)


def test_curve_validation():
    with pytest.raises(ValueError, match="positive"):
        gemm_efficiency(0, 1, 1, **H200)
    c = GemmCurve(dtype="bf16", e_max=0.5, k_half=0.0)
    assert float(c.efficiency(16384, 16384, 16384, **H200)) == pytest.approx(0.5, rel=0.02)  # wave quantization
