"""Alpha-beta collective models, busbw factors, hierarchical model, NCCL byte accounting."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from aicost import BackendUnavailableError, UnknownNameError
from aicost.calibrate import DEFAULT_COLLECTIVE_EFFICIENCY, collective_efficiency
from aicost.hardware import fabric_collective_time, hierarchical_collective_time
from aicost.network import _nccl as N
from aicost.network import (
    algbw_busbw,
    busbw_factor,
    collective_rows,
    collective_time,
    nccl_collectives,
    round_nbytes,
)

A, BW = 10e-6, 100e9  # alpha [s], bandwidth [B/s]
NB = 1e9  # message [B]
BETA_N = NB / BW  # n * beta = 0.01 s


def ct(op, p, algorithm="ring", nbytes=NB):
    return collective_time(op, nbytes, p, bandwidth_bytes_per_s=BW, latency_s=A,
                           algorithm=algorithm)


# ----------------------------------------------------------------------------- busbw
def test_busbw_factors_as_nccl_tests():
    assert busbw_factor("all_reduce", 8) == pytest.approx(2 * 7 / 8)
    assert busbw_factor("allgather", 8) == pytest.approx(7 / 8)
    assert busbw_factor("reduce_scatter", 4) == pytest.approx(3 / 4)
    assert busbw_factor("alltoall", 2) == pytest.approx(1 / 2)
    assert busbw_factor("broadcast", 16) == 1.0
    assert busbw_factor("all_reduce", 1) == 0.0
    assert np.allclose(busbw_factor("all_reduce", np.array([2, 4, 8])), [1.0, 1.5, 1.75])
    with pytest.raises(ValueError, match="ranks"):
        busbw_factor("all_reduce", 0)


def test_algbw_busbw():
    alg, bus = algbw_busbw("all_reduce", 1e9, 0.01, 8)
    assert alg == pytest.approx(1e11) and bus == pytest.approx(1.75e11)
    with pytest.raises(ValueError):
        algbw_busbw("all_reduce", 1e9, 0.0, 8)


# ----------------------------------------------------------------------------- alpha-beta
@pytest.mark.parametrize(
    ("op", "p", "algorithm", "expected"),
    [
        # Thakur et al. 2005 / Chan et al. 2007, hand-computed with alpha = 10 us, n*beta = 10 ms
        ("all_reduce", 8, "ring", 2 * 7 * A + 2 * 7 / 8 * BETA_N),
        ("all_reduce", 8, "tree", 2 * 3 * A + 2 * 3 * BETA_N),
        ("all_reduce", 8, "recursive_doubling", 3 * A + 3 * BETA_N),
        ("all_reduce", 16, "rabenseifner", 2 * 4 * A + 2 * 15 / 16 * BETA_N),
        ("all_gather", 4, "ring", 3 * A + 3 / 4 * BETA_N),
        ("all_gather", 4, "recursive_doubling", 2 * A + 3 / 4 * BETA_N),
        ("reduce_scatter", 8, "ring", 7 * A + 7 / 8 * BETA_N),
        ("reduce_scatter", 8, "recursive_doubling", 3 * A + 7 / 8 * BETA_N),
        ("broadcast", 4, "ring", 3 * A + BETA_N),
        ("broadcast", 8, "tree", 3 * A + 3 * BETA_N),
        ("broadcast", 8, "rabenseifner", 6 * A + 2 * 7 / 8 * BETA_N),
        ("all_to_all", 8, "ring", 7 * A + 7 / 8 * BETA_N),
        ("all_to_all", 8, "recursive_doubling", 3 * A + 1.5 * BETA_N),
        ("all_reduce", 6, "recursive_doubling", 3 * A + 3 * BETA_N),  # ceil(log2 6) = 3
    ],
)
def test_alpha_beta_by_hand(op, p, algorithm, expected):
    assert ct(op, p, algorithm) == pytest.approx(expected)


def test_docstring_example():
    assert collective_time("all_reduce", 1e9, 8, bandwidth_bytes_per_s=100e9,
                           latency_s=10e-6) == pytest.approx(0.01764)


def test_one_rank_costs_nothing_and_zero_bytes_cost_latency_only():
    for op in ("all_reduce", "broadcast", "all_to_all"):
        assert ct(op, 1) == 0.0
    assert ct("all_reduce", 4, nbytes=0) == pytest.approx(2 * 3 * A)


def test_vectorized_broadcasting():
    sizes = np.logspace(3, 9, 7)[:, None]
    ranks = np.array([2, 4, 8, 1024])
    t = collective_time("all_reduce", sizes, ranks, bandwidth_bytes_per_s=BW, latency_s=A)
    assert t.shape == (7, 4)
    assert np.all(np.diff(t, axis=0) > 0)  # larger messages take longer
    assert t[-1, 3] == pytest.approx(2 * 1023 * A + 2 * 1023 / 1024 * 1e9 / BW)
    big = collective_time("all_reduce", np.full(10**6, 1e6), np.full(10**6, 8),
                          bandwidth_bytes_per_s=BW, latency_s=A)
    assert big.shape == (10**6,)


def test_ring_beats_tree_for_large_and_tree_wins_small():
    large_ring, large_tree = ct("all_reduce", 64), ct("all_reduce", 64, "tree")
    assert large_ring < large_tree
    small_ring = ct("all_reduce", 64, nbytes=1e3)
    small_rd = ct("all_reduce", 64, "recursive_doubling", nbytes=1e3)
    assert small_rd < small_ring


def test_bad_inputs():
    with pytest.raises(UnknownNameError, match="did you mean"):
        ct("allreduse", 8)
    with pytest.raises(UnknownNameError):
        ct("all_reduce", 8, "butterfly-ish")
    with pytest.raises(ValueError, match="all_to_all algorithm"):
        ct("all_to_all", 8, "tree")
    with pytest.raises(ValueError, match="ranks"):
        ct("all_reduce", 0)
    with pytest.raises(ValueError, match="nbytes"):
        ct("all_reduce", 8, nbytes=-1)
    with pytest.raises(ValueError, match="bandwidth"):
        collective_time("all_reduce", 1, 2, bandwidth_bytes_per_s=0, latency_s=0)


# ----------------------------------------------------------------------------- hierarchical
UP = SimpleNamespace(name="up", bandwidth_bytes_per_s=100e9, basis="per_gpu", latency_s=0.0)
OUT = SimpleNamespace(name="out", bandwidth_bytes_per_s=10e9, basis="per_gpu", latency_s=0.0)


def test_hierarchical_all_reduce_by_hand():
    # 8 GPUs x 2 nodes, 8 GB: RS in node 7/8*8e9/100e9 = 0.07 s; AR between nodes on 1 GB:
    # 2*1/2*1e9/10e9 = 0.1 s; AG in node 0.07 s
    t = hierarchical_collective_time("all_reduce", 8e9, 8, 2, scale_up=UP, scale_out=OUT,
                                     efficiency=1.0)
    assert t == pytest.approx(0.24)


def test_hierarchical_reduces_to_flat_cases():
    one_node = hierarchical_collective_time("all_reduce", 1e9, 8, 1, scale_up=UP, scale_out=OUT,
                                            efficiency=1.0)
    assert one_node == pytest.approx(collective_time("all_reduce", 1e9, 8,
                                                     bandwidth_bytes_per_s=100e9, latency_s=0))
    one_gpu = hierarchical_collective_time("all_gather", 1e9, 1, 16, scale_up=UP, scale_out=OUT,
                                           efficiency=1.0)
    assert one_gpu == pytest.approx(collective_time("all_gather", 1e9, 16,
                                                    bandwidth_bytes_per_s=10e9, latency_s=0))


def test_hierarchical_efficiency_per_node_basis_and_vectorized():
    node = SimpleNamespace(name="efa", bandwidth_bytes_per_s=80e9, basis="per_node",
                           latency_s=0.0)
    # per-node 80 GB/s shared by 8 GPUs = 10 GB/s each, same as OUT
    a = hierarchical_collective_time("all_reduce", 8e9, 8, 2, scale_up=UP, scale_out=node,
                                     efficiency=1.0)
    assert a == pytest.approx(0.24)
    half = hierarchical_collective_time("all_reduce", 8e9, 8, 2, scale_up=UP, scale_out=OUT,
                                        efficiency=(1.0, 0.5))
    assert half == pytest.approx(0.07 + 0.2 + 0.07)
    default = hierarchical_collective_time("all_reduce", 8e9, 8, 2, scale_up=UP, scale_out=OUT)
    assert default == pytest.approx(0.24 / DEFAULT_COLLECTIVE_EFFICIENCY)
    grid = hierarchical_collective_time("all_reduce", np.array([[1e8], [1e9]]), 8,
                                        np.array([1, 2, 4, 16]), scale_up=UP, scale_out=OUT)
    assert grid.shape == (2, 4) and np.all(np.diff(grid, axis=1) > 0)
    for op in ("all_gather", "reduce_scatter", "broadcast", "all_to_all"):
        assert hierarchical_collective_time(op, 1e9, 8, 4, scale_up=UP, scale_out=OUT) > 0


def test_hierarchical_all_to_all_by_hand():
    # 2 nodes x 2 GPUs, 4 GB per rank: 1/4 to each peer; 1 peer in the node at 100 GB/s,
    # 2 peers off the node at 10 GB/s
    t = hierarchical_collective_time("all_to_all", 4e9, 2, 2, scale_up=UP, scale_out=OUT,
                                     efficiency=1.0)
    assert t == pytest.approx(1e9 / 100e9 + 2e9 / 10e9)


def test_catalog_fabrics():
    import aicost

    cat = aicost.catalog.load()
    nv, ib = cat.fabric("nvlink4"), cat.fabric("ib-ndr")
    t = hierarchical_collective_time("all_reduce", 1e9, 8, 4, scale_up="nvlink4",
                                     scale_out="ib-ndr", catalog=cat, efficiency=1.0)
    g, m, n = 8, 4, 1e9
    expected = (2 * ((g - 1) * nv.latency_s + (g - 1) / g * n / nv.bandwidth_bytes_per_s)
                + 2 * (m - 1) * ib.latency_s + 2 * (m - 1) / m * (n / g) / ib.bandwidth_bytes_per_s)
    assert t == pytest.approx(expected)
    f = fabric_collective_time("all_reduce", 1e9, 8, "nvlink4", efficiency=1.0)
    assert f == pytest.approx(collective_time("all_reduce", 1e9, 8,
                                              bandwidth_bytes_per_s=nv.bandwidth_bytes_per_s,
                                              latency_s=nv.latency_s))


def test_collective_efficiency_default():
    eff = collective_efficiency("nvlink4")
    assert 0 < eff.value <= 1.5 and eff.source


# ----------------------------------------------------------------------------- NCCL
def test_nccl_needs_two_gpus(monkeypatch):
    monkeypatch.setattr(N, "gpu_count", lambda: (1, ""))
    with pytest.raises(BackendUnavailableError, match="needs two GPUs, found 1"):
        nccl_collectives()
    monkeypatch.setattr(N, "gpu_count", lambda: (0, "CuPy is not importable"))
    with pytest.raises(BackendUnavailableError, match="found 0: CuPy"):
        nccl_collectives()


def test_round_nbytes():
    assert round_nbytes("all_reduce", 1001, 8) == 1000
    assert round_nbytes("all_gather", 1000, 8) == 992  # multiple of 8 ranks x 4 B
    assert round_nbytes("all_to_all", 10, 8) == 32  # at least one element per rank


def test_collective_rows_byte_accounting():
    df = collective_rows("all_gather", [4e6, 4e9], [1e-3, 0.5], 4, device="4x H100")
    # algbw = total gathered size / time; busbw = algbw * 3/4
    assert np.allclose(df["algbw_bytes_per_s"], [4e9, 8e9])
    assert np.allclose(df["value"], [3e9, 6e9])
    assert list(df["kind"]) == ["collective", "collective"] and df["unit"].iloc[0] == "B/s"
    assert df["params"].iloc[1] == {"n_ranks": 4, "nbytes": 4e9, "algbw_bytes_per_s": 8e9,
                                    "busbw_factor": 0.75}
    ar = collective_rows("allreduce", [1e9], [0.01], 8)
    assert ar["name"].iloc[0] == "all_reduce" and ar["value"].iloc[0] == pytest.approx(1.75e11)


def test_collective_rows_save_to_store(tmp_path):
    from aicost.network import save_collectives
    from aicost.store import Store

    store = Store(tmp_path / "r.duckdb")
    df = collective_rows("all_reduce", [1e6, 1e9], [1e-4, 0.01], 8, device="8x H100")
    run_id = save_collectives(df, store=store)
    got = store.results(run_id=run_id, kind="collective")
    assert len(got) == 2 and got["value"].max() == pytest.approx(1.75e11)


def test_calibrated_efficiency_from_measured_busbw(tmp_path):
    import aicost
    from aicost.network import save_collectives
    from aicost.store import Store

    store = Store(tmp_path / "r.duckdb")
    nv = aicost.catalog.load().fabric("nvlink4")
    n, size = 8, 2**30
    busbw = 0.6 * nv.bandwidth_bytes_per_s
    t = size / (busbw / busbw_factor("all_reduce", n))
    save_collectives(collective_rows("all_reduce", [size], [t], n, device="8x H100"), store=store)
    eff = collective_efficiency("nvlink4", store=store)
    assert eff.value == pytest.approx(0.6) and eff.source.startswith("measured")
    cal = fabric_collective_time("all_reduce", 1e9, 8, "nvlink4", efficiency="calibrated",
                                 store=store)
    assert cal == pytest.approx(fabric_collective_time("all_reduce", 1e9, 8, "nvlink4",
                                                       efficiency=0.6))
    # nothing measured for ib-ndr: its default is used for the scale-out step
    h = hierarchical_collective_time("all_reduce", 1e9, 8, 2, scale_up="nvlink4",
                                     scale_out="ib-ndr", efficiency="calibrated", store=store)
    assert h == pytest.approx(hierarchical_collective_time(
        "all_reduce", 1e9, 8, 2, scale_up="nvlink4", scale_out="ib-ndr",
        efficiency=(0.6, DEFAULT_COLLECTIVE_EFFICIENCY)))
    with pytest.raises(ValueError, match="calibrated"):
        fabric_collective_time("all_reduce", 1e9, 8, "nvlink4", efficiency="measured")


class _Rec:
    """Fake NCCL module and communicators recording the calls (no GPU needed)."""

    def __init__(self):
        self.calls = []

    def groupStart(self):  # noqa: N802 - NCCL's name
        self.calls.append(("groupStart",))

    def groupEnd(self):  # noqa: N802
        self.calls.append(("groupEnd",))

    def comm(self, rank):
        rec = self

        class Comm:
            def __getattr__(self, name):
                return lambda *a: rec.calls.append((name, rank, *a))

        return Comm()


def _bufs(n, base):
    return [SimpleNamespace(data=SimpleNamespace(ptr=base + 10**9 * r)) for r in range(n)]


@pytest.mark.parametrize(
    ("op", "method", "count"),
    [("all_reduce", "allReduce", 1024), ("broadcast", "broadcast", 1024),
     ("all_gather", "allGather", 256), ("reduce_scatter", "reduceScatter", 256)],
)
def test_nccl_launch_counts_as_nccl_tests(op, method, count):
    rec = _Rec()
    n, nbytes = 4, 4096  # 1024 float32 elements
    comms = [rec.comm(r) for r in range(n)]
    streams = [SimpleNamespace(ptr=100 + r) for r in range(n)]
    N._launch(rec, op, comms, _bufs(n, 0), _bufs(n, 5), nbytes, n, streams, 7, 0)
    assert rec.calls[0] == ("groupStart",) and rec.calls[-1] == ("groupEnd",)
    body = rec.calls[1:-1]
    assert [c[0] for c in body] == [method] * n and [c[1] for c in body] == list(range(n))
    for rank, c in enumerate(body):
        assert c[2] == 10**9 * rank and c[3] == 5 + 10**9 * rank  # send, recv buffers
        assert c[4] == count  # elements: per rank for all-gather / reduce-scatter
        assert c[-1] == 100 + rank  # the rank's own stream


def test_nccl_launch_all_to_all_from_send_recv():
    rec = _Rec()
    n, nbytes = 2, 64  # 16 elements, 8 to each peer (32 bytes apart)
    comms = [rec.comm(r) for r in range(n)]
    streams = [SimpleNamespace(ptr=r) for r in range(n)]
    N._launch(rec, "all_to_all", comms, _bufs(n, 0), _bufs(n, 5), nbytes, n, streams, 7, 0)
    body = rec.calls[1:-1]
    assert [(c[0], c[1], c[2] % 10**9, c[3], c[5]) for c in body] == [
        ("send", 0, 0, 8, 0), ("recv", 0, 5, 8, 0), ("send", 0, 32, 8, 1), ("recv", 0, 37, 8, 1),
        ("send", 1, 0, 8, 0), ("recv", 1, 5, 8, 0), ("send", 1, 32, 8, 1), ("recv", 1, 37, 8, 1),
    ]
