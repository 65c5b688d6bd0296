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
