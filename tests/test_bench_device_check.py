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
