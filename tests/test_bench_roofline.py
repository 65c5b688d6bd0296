"""aicost.viz.roofline: ceilings, peaks and points from results, machines side by side."""

from __future__ import annotations

import pandas as pd
import pytest

from aicost import bench, viz


def _row(name, dtype, flops, nbytes, value, unit="FLOP/s", device="NVIDIA H200", params=None):
    return {"kind": "compute", "name": name, "backend": "cupy", "device": device, "dtype": dtype,
            "shape": "8192x8192x8192" if name == "gemm" else "1", "flops": flops,
            "bytes_moved": nbytes, "value": value, "unit": unit, "params": params or {}}


def _h200_like():
    rows = [_row("gemm", "bf16", 2 * 8192**3, 3 * 2 * 8192**2, 720e12),
            _row("gemm", "fp32", 2 * 8192**3, 3 * 4 * 8192**2, 51e12),
            _row("triad", "fp32", 2 * 2**28, 3 * 4 * 2**28, 4.1e12, unit="B/s")]
    for k in (1, 16, 256):
        oi = 2 * k / 8
        rows.append(_row("roofline", "fp32", 2 * k * 2**26, 8 * 2**26, min(60e12, oi * 4.1e12),
                         params={"fmas_per_element": k, "bandwidth_bytes_per_s": 4.1e12}))
    return pd.DataFrame(rows)


def test_roofline_single_machine_has_ceilings_peaks_points():
    fig = viz.roofline(_h200_like())
    names = [t.name for t in fig.data]
    assert "fp32 sweep" in names and "bf16 GEMM" in names and "STREAM" in names
    assert any(n.startswith("measured 4100 GB/s") for n in names)
    assert any("datasheet 4800 GB/s" in n for n in names)  # catalog H200-SXM row
    assert any(n.startswith("bf16 datasheet 989") for n in names)
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    gemm = next(t for t in fig.data if t.name == "bf16 GEMM")
    assert gemm.x[0] == pytest.approx(2 * 8192**3 / (6 * 8192**2))
    # the sweep's measured roof is the best rate reached
    ceiling = next(t for t in fig.data if t.name.startswith("fp32 measured"))
    assert ceiling.y[0] == pytest.approx(60e12)


def test_roofline_machines_side_by_side_with_cpu_run():
    cpu_df = _h200_like().assign(device="Some CPU", backend="numba")
    fig = viz.roofline({"H200": _h200_like(), "this CPU": cpu_df})
    assert [a.text for a in fig.layout.annotations][:2] == ["H200", "this CPU"]
    assert fig.layout.xaxis2.type == "log"
    # no datasheet for a device the catalog does not know
    cpu_traces = [t for t in fig.data if t.xaxis == "x2"]
    assert cpu_traces and not any("datasheet" in (t.name or "") for t in cpu_traces)


def test_roofline_from_json_and_errors(tmp_path):
    run = bench.Run(df=_h200_like(), context={"device": "NVIDIA H200", "backend": "cupy"})
    path = tmp_path / "h200.json"
    run.to_json(path)
    fig = viz.roofline(path)
    assert any(t.name == "bf16 GEMM" for t in fig.data)
    with pytest.raises(TypeError):
        viz.roofline(42)
    empty = viz.roofline(pd.DataFrame(columns=bench.COLUMNS))
    assert any("no roofline" in a.text for a in empty.layout.annotations)
