"""scripts/device_check.py pieces that need no GPU: the shim and the Markdown tables."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("device_check", ROOT / "scripts" / "device_check.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_markdown_tables_from_a_summary():
    dc = _load()
    summary = {
        "context": {"device": "NVIDIA H200", "device_info": {"sm_count": 132, "l2_bytes": 60 * 2**20},
                    "driver_version": "580", "time_utc": "2026-11-28T21:00:00+00:00"},
        "numba_shim_used": True,
        "targets": {"triad_over_torch_copy": {"value": 0.962, "target": 0.95},
                    "gemm_bf16_over_torch": {"value": None, "target": 0.97}},
        "references": {"torch_copy": {"rate_bytes_per_s": 4.3e12},
                       "gemm": [{"dtype": "bf16", "shape": "8192x8192x8192", "layer": None,
                                 "aicost_flops_per_s": 7.2e14, "torch_flops_per_s": 6.9e14,
                                 "ratio_aicost_over_torch": 1.043, "timer_ratio": 1.004}]},
        "checks": {"cupy/triad/fp32": {"ok": True}, "cupy/gemm/int8": {"ok": False}},
    }
    md = dc.markdown_tables(summary)
    assert "| triad_over_torch_copy | 0.962 | 0.95 |" in md
    assert "| gemm_bf16_over_torch | n/a | 0.97 |" in md
    assert "| torch_copy | 4300 |" in md
    assert "| bf16 | 8192x8192x8192 | 720.0 | 690.0 | 1.04 | 1 |" in md
    assert "1/2 passed; failed: cupy/gemm/int8" in md
    assert "132 SMs, L2 60 MiB" in md


def test_row_stack_shim_is_explicit(monkeypatch):
    dc = _load()
    if hasattr(np, "row_stack"):
        monkeypatch.delattr(np, "row_stack")
    assert dc.apply_numba_shim() is True
    assert np.vstack is np.vstack
    assert dc.apply_numba_shim() is False  # already there: nothing done


# ----------------------------------------------------------------------------- issue 15 sections
def test_sustained_gemm_plan_has_the_worst_h200_shapes():
    dc = _load()
    plan = dc.sustained_gemm_plan(cpu=False)
    assert ("fp16", "llama-3.1-8b.mlp_down@4096") in plan  # 0.923, the worst ratio seen
    assert {d for d, _ in plan} >= {"bf16", "fp16"}
    assert dc.sustained_gemm_plan(cpu=True)


def test_compare_timer_on_the_cpu_backend():
    """The three timings run on the same operands; ratios are aicost / mean of two do_benches."""
    from aicost.bench import get_backend

    dc = _load()
    seen = []

    def fake_do_bench(fn, cpu):
        fn()
        seen.append(cpu)
        return (2.0 if len(seen) == 1 else 4.0), "fake"

    e = dc.compare_timer(get_backend("numpy"), "fp32", 64, True, do_bench=fake_do_bench)
    assert seen == [True, True] and e["do_bench_ms"] == [2.0, 4.0]
    assert e["do_bench_spread"] == 2.0 / 3.0
    assert e["ratio_sustained"] == e["sustained_ms"] / 3.0
    assert e["ratio_quick"] == e["quick_ms"] / 3.0
    assert e["shape"] == "64x64x64" and e["layer"] is None
    assert e["sustained_n"] >= 1 and e["quick_n"] >= 1 and e["tflops_sustained"] > 0


def test_timer_targets_pick_the_worst_ratio():
    dc = _load()
    entries = [{"ratio_sustained": 0.99, "ratio_quick": 0.93},
               {"ratio_sustained": 1.02, "ratio_quick": 0.98},
               {"error": "x"}]
    t = dc.timer_targets(entries)
    assert t["timer_sustained_over_do_bench"]["value"] == 1.02
    assert t["timer_sustained_over_do_bench"]["n_outside_3pct"] == 0
    assert t["timer_quick20ms_over_do_bench"]["value"] == 0.93
    assert t["timer_quick20ms_over_do_bench"]["n_outside_3pct"] == 1
    assert dc.timer_targets([])["timer_sustained_over_do_bench"]["value"] is None


def test_fleet_and_nccl_sections_say_why_they_skip(monkeypatch):
    import builtins

    dc = _load()
    assert dc.nccl_check(cpu=True) == {"skipped": "--cpu: no GPUs"}
    real = builtins.__import__

    def no_dask(name, *a, **k):
        if name == "distributed":
            raise ImportError("No module named 'distributed'")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    out = dc.fleet_check(cpu=True)
    assert "distributed is not installed" in out["skipped"] and "device_wheels.sh" in out["skipped"]


def test_nccl_single_gpu_runs_one_rank(monkeypatch):
    import pandas as pd

    from aicost import network

    dc = _load()
    calls = []
    monkeypatch.setattr(network, "gpu_count", lambda: (1, "1 GPU"))

    def fake(ops, sizes, devices, warmup, iters, _min_ranks):
        calls.append((tuple(ops), tuple(devices), _min_ranks))
        return pd.DataFrame([{"name": "all_reduce", "size_bytes": sizes[0], "value": 1e11,
                              "median_s": 1e-3}])

    monkeypatch.setattr(network, "nccl_collectives", fake)
    out = dc.nccl_check(cpu=False)
    assert calls == [(("all_reduce",), (0,), 1)]
    assert out["pairs"].startswith("skipped") and out["single_rank"][0]["value"] == 1e11
