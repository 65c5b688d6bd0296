"""Efficiency factors from stored measurements, documented defaults otherwise."""

from __future__ import annotations

import pandas as pd
import pytest

from aicost import calibrate
from aicost.store import Store


def _gemm_rows(device, dtype, shapes_rates):
    rows = []
    for (m, n, k), rate in shapes_rates:
        flops = 2.0 * m * n * k
        rows.append({"kind": "compute", "name": "gemm", "backend": "cupy", "device": device,
                     "dtype": dtype, "shape": f"{m}x{n}x{k}", "flops": flops,
                     "median_s": flops / rate, "value": rate, "unit": "FLOP/s",
                     "params": {"m": m, "n": n, "k": k}, "samples_s": [flops / rate]})
    return pd.DataFrame(rows)


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "r.duckdb")


def test_default_when_nothing_measured(store, monkeypatch):
    monkeypatch.setattr(calibrate, "_shipped_results", lambda: pd.DataFrame())
    eff = calibrate.gemm_efficiency("H100-SXM", "bf16", store=store)
    assert not eff.measured
    assert eff.value == calibrate.DEFAULT_GEMM_EFFICIENCY["bf16"]
    assert eff.source.startswith("default:")
    assert float(eff) == eff.value


def test_measured_from_store_with_nearest_shape(store, monkeypatch):
    monkeypatch.setattr(calibrate, "_shipped_results", lambda: pd.DataFrame())
    store.save_run(_gemm_rows("NVIDIA H200", "bf16", [
        ((8192, 8192, 8192), 720e12),
        ((4096, 6144, 4096), 600e12),
        ((1024, 1024, 1024), 300e12),
    ]), context={"device": "NVIDIA H200"}, kind="compute")
    peak = 989.4e12  # catalog H200-SXM dense bf16
    eff = calibrate.gemm_efficiency("H200", "bf16", store=store)
    assert eff.measured and eff.value == pytest.approx(720e12 / peak)
    assert "8192x8192x8192" in eff.source and "NVIDIA H200" in eff.source
    eff2 = calibrate.gemm_efficiency("NVIDIA H200", "bf16", store=store, shape=(4096, 6000, 4096))
    assert eff2.value == pytest.approx(600e12 / peak)
    eff3 = calibrate.gemm_efficiency("H200-SXM", "bf16", store=store, shape=900)
    assert eff3.details["shape"] == "1024x1024x1024"
    # another device or dtype does not borrow the H200's numbers
    assert not calibrate.gemm_efficiency("H100-SXM", "bf16", store=store).measured
    assert not calibrate.gemm_efficiency("H200", "fp16", store=store).measured


def test_layer_name_shape_and_bad_dtype(store, monkeypatch):
    monkeypatch.setattr(calibrate, "_shipped_results", lambda: pd.DataFrame())
    store.save_run(_gemm_rows("NVIDIA H200", "bf16", [((4096, 28672, 4096), 650e12),
                                                      ((8192, 8192, 8192), 720e12)]),
                   context={}, kind="compute")
    eff = calibrate.gemm_efficiency("H200", "bf16", store=store, shape="llama-3.1-8b.mlp_up@4096")
    assert eff.details["shape"] == "4096x28672x4096"
    with pytest.raises(ValueError):
        calibrate.gemm_efficiency("H200", "fp13", store=store)


def test_shipped_results_are_used_after_the_store(monkeypatch, tmp_path):
    shipped = _gemm_rows("NVIDIA H200", "fp16", [((8192, 8192, 8192), 680e12)])
    shipped["source_file"] = "h200.json"
    monkeypatch.setattr(calibrate, "_shipped_results", lambda: shipped)
    eff = calibrate.gemm_efficiency("H200", "fp16", store=False)
    assert eff.measured and "data/results/h200.json" in eff.source
    assert eff.value == pytest.approx(680e12 / 989.4e12)


def _coll_rows(device, op, sizes_busbw, n=8):
    return pd.DataFrame([{"kind": "collective", "name": op, "backend": "nccl", "device": device,
                          "dtype": "fp32", "size_bytes": s, "median_s": 1e-3, "value": b,
                          "unit": "B/s", "params": {"n_ranks": n, "nbytes": s}}
                         for s, b in sizes_busbw])


def test_collective_efficiency_measured_and_default(store):
    d = calibrate.collective_efficiency("nvlink4", store=store)
    assert not d.measured and d.value == calibrate.DEFAULT_COLLECTIVE_EFFICIENCY
    store.save_run(_coll_rows("NVIDIA H200", "all_reduce", [
        (1 << 20, 50e9), (1 << 28, 360e9), (1 << 30, 370e9)]), context={}, kind="collective")
    eff = calibrate.collective_efficiency("nvlink4", op="allreduce", store=store)
    assert eff.measured
    assert eff.value == pytest.approx(365e9 / 450e9)  # median of the two large messages
    eff_dev = calibrate.collective_efficiency("NVIDIA H200", store=store)
    assert eff_dev.measured and eff_dev.value == pytest.approx(365e9 / 450e9)
    assert not calibrate.collective_efficiency("H100-SXM", store=store).measured
    assert not calibrate.collective_efficiency("nvlink4", op="all_gather", store=store).measured
    assert not calibrate.collective_efficiency(None, store=store).measured


def test_model_layer_uses_calibration(store, monkeypatch):
    from aicost.hardware import Cluster, resolve_efficiencies, resolve_hardware

    monkeypatch.setattr(calibrate, "_shipped_results", lambda: pd.DataFrame())
    store.save_run(_gemm_rows("NVIDIA H200", "bf16", [((8192, 8192, 8192), 700e12)]),
                   context={}, kind="compute")
    hw = resolve_hardware(Cluster(accelerator="H200-SXM", gpus=8), "bf16", store=store)
    assert hw.gemm_efficiency == pytest.approx(700e12 / 989.4e12)
    assert hw.sources["gemm_efficiency"].startswith("measured")
    assert hw.compute_efficiency == pytest.approx(hw.gemm_efficiency * calibrate.TRAINING_KERNEL_FACTOR)
    # the planner's per-accelerator resolution gives the same number
    eff = resolve_efficiencies(["H200-SXM"], "bf16", store=store)["H200-SXM"]
    assert eff.compute == pytest.approx(hw.compute_efficiency)
    assert eff.compute_source.startswith("measured")


# ---- per-accelerator default from published maximum-achievable-matmul sweeps ----------------------
def test_default_gemm_efficiency_reference_is_the_plain_default():
    from aicost.calibrate import DEFAULT_GEMM_EFFICIENCY, default_gemm_efficiency

    for dt in ("bf16", "fp8", "fp16"):
        assert default_gemm_efficiency("H100-SXM", dt).value == DEFAULT_GEMM_EFFICIENCY[dt]
    assert default_gemm_efficiency(None, "bf16").value == DEFAULT_GEMM_EFFICIENCY["bf16"]


def test_default_gemm_efficiency_scales_by_published_ratio():
    from aicost import catalog
    from aicost.calibrate import DEFAULT_GEMM_EFFICIENCY, default_gemm_efficiency

    cat = catalog.load()

    def eff(name, dtype, mamf):  # published rate over the catalog's dense peak
        return mamf * 1e12 / cat.accelerator(name).peak_flops_per_s(dtype)

    ref_bf16, ref_fp8 = eff("H100-SXM", "bf16", 794.5), eff("H100-SXM", "fp8", 1402.6)
    a100 = default_gemm_efficiency("A100-80GB", "bf16")
    assert a100.value == pytest.approx(0.72 * eff("A100-80GB", "bf16", 271.2) / ref_bf16)
    assert a100.value > DEFAULT_GEMM_EFFICIENCY["bf16"]
    assert "published" in a100.source and not a100.measured
    # an fp8 row of its own (GH200) is used for fp8; fp16 follows the bf16 row
    assert default_gemm_efficiency("GH200", "fp8").value == pytest.approx(0.65 * eff("GH200", "fp8", 1535.0) / ref_fp8)
    assert default_gemm_efficiency("GH200", "fp16").value == pytest.approx(
        0.70 * eff("GH200", "bf16", 828.6) / ref_bf16)
    # no fp8 row (MI300X): fp8 scales by the bf16 ratio, and it lands well under the H100's
    mi = default_gemm_efficiency("MI300X", "fp8")
    assert mi.value == pytest.approx(0.65 * eff("MI300X", "bf16", 668.4) / ref_bf16)
    assert mi.details["published_dtype"] == "bf16" and mi.details["published_table"] == "v2"
    assert mi.value < 0.5
    # a v1-only accelerator is compared with the v1 H100 row, against the catalog's (whitepaper) peak
    g3 = default_gemm_efficiency("Gaudi3", "bf16")
    assert g3.details["published_table"] == "v1"
    assert g3.value == pytest.approx(0.72 * eff("Gaudi3", "bf16", 1288.8) / eff("H100-SXM", "bf16", 792.1))
    # aliases resolve to the catalog name
    assert default_gemm_efficiency("NVIDIA A100-SXM4-80GB", "bf16").value == pytest.approx(a100.value)


def test_default_gemm_efficiency_unlisted_or_unscaled_dtype_is_plain():
    from aicost.calibrate import DEFAULT_GEMM_EFFICIENCY, default_gemm_efficiency

    assert default_gemm_efficiency("B200", "bf16").value == DEFAULT_GEMM_EFFICIENCY["bf16"]
    assert default_gemm_efficiency("A100-80GB", "tf32").value == DEFAULT_GEMM_EFFICIENCY["tf32"]
    assert default_gemm_efficiency("a-device-nobody-knows", "bf16").value == DEFAULT_GEMM_EFFICIENCY["bf16"]
    with pytest.raises(ValueError, match="unknown dtype 'fp4x'"):
        default_gemm_efficiency("A100-80GB", "fp4x")


def test_gemm_efficiency_and_curve_fall_back_to_the_scaled_default():
    from aicost.calibrate import default_gemm_efficiency, gemm_efficiency
    from aicost.calibrate_curves import gemm_curve

    e = gemm_efficiency("MI300X", "bf16", store=False)
    assert not e.measured and e.value == pytest.approx(default_gemm_efficiency("MI300X", "bf16").value)
    assert gemm_curve("MI300X", "bf16", store=False).e_max == pytest.approx(e.value)
    # a measured accelerator keeps its own fit (the shipped H200 sweep), not the published ratio
    h200 = gemm_curve("H200-SXM", "bf16", store=False)
    assert "fitted" in h200.source and h200.n_points > 0


def test_published_gemm_peaks_bad_row_names_row_and_column(tmp_path):
    from aicost.calibrate import published_gemm_peaks

    p = tmp_path / "peaks.csv"
    p.write_text("accelerator,dtype,mamf_tflops,peak_tflops\nA100-80GB,bf16,271.2,312\nX,bf16,-3,312\n")
    with pytest.raises(ValueError, match=r"row 2, column 'mamf_tflops'"):
        published_gemm_peaks(p)
    p.write_text("accelerator,dtype,peak_tflops\nA100-80GB,bf16,312\n")
    with pytest.raises(ValueError, match="missing column"):
        published_gemm_peaks(p)
