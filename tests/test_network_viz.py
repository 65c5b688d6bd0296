"""Network figures: collective time against message size per fabric."""

from __future__ import annotations

import numpy as np
import pytest

from aicost import viz
from aicost.hardware import fabric_collective_time
from aicost.network import collective_rows


def test_collective_time_figure_lines_per_fabric():
    sizes = np.array([1e3, 1e6, 1e9])
    fig = viz.collective_time_figure(["nvlink4", "ib-ndr", "efa"], sizes=sizes, n_ranks=8)
    assert [t.name for t in fig.data] == ["nvlink4 (model)", "ib-ndr (model)", "efa (model)"]
    assert np.allclose(fig.data[0].y, fabric_collective_time("all_reduce", sizes, 8, "nvlink4"))
    # bandwidth-bound sizes: NVLink beats InfiniBand, which beats EFA
    y = [np.asarray(t.y) for t in fig.data]
    assert np.all(y[0][1:] < y[1][1:]) and np.all(y[1] < y[2])


def test_busbw_view_and_measured_overlay():
    measured = collective_rows("all_reduce", [1e6, 1e9], [1e-4, 0.01], 8)
    fig = viz.collective_time_figure(["nvlink4"], sizes=[1e6, 1e9], y="busbw", measured=measured)
    assert fig.data[-1].name == "measured (NCCL)"
    assert np.allclose(fig.data[-1].y, measured["value"] / 1e9)
    with pytest.raises(ValueError):
        viz.collective_time_figure(["nvlink4"], y="latency")


def test_tcp_figure():
    from aicost.network import NetworkResult

    r = NetworkResult("127.0.0.1", 1, 4, 1.0, 0.5, 2e10, 2.5e9, 2e10, 2500000000, (5e9,) * 4,
                      2**20, False)
    fig = viz.tcp_throughput_figure([r], {"iperf3": 18.0})
    assert list(fig.data[0].x) == [20.0, 18.0]
