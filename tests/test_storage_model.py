"""aicost.storage models: data loading (MLPerf Storage AU), checkpoints, cost, worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aicost.storage import (
    HOURS_PER_MONTH,
    checkpoint_estimate,
    checkpoint_time,
    data_loading,
    storage_cost,
    storage_cost_over_time,
    tier_iops,
    tier_throughput,
)


def tier(**kw):
    base = {"name": "t", "throughput_bytes_per_s": 3.2e9, "throughput_basis": "volume",
            "max_throughput_bytes_per_s": None, "iops": None, "max_iops": None,
            "latency_s": None, "price_usd_per_gb_month": 0.1, "price_usd_per_1k_put": None,
            "price_usd_per_1k_get": None, "min_capacity_gib": None}
    base.update(kw)
    return base


# ----------------------------------------------------------------------------- tier limits
def test_tier_throughput_bases():
    assert tier_throughput(tier()) == 3.2e9
    per_tib = tier(throughput_bytes_per_s=250e6, throughput_basis="per_tib")
    assert tier_throughput(per_tib, capacity_bytes=4 * 2**40) == pytest.approx(1e9)
    per_node = tier(throughput_bytes_per_s=5e9, throughput_basis="per_node",
                    max_throughput_bytes_per_s=12e9)
    assert np.allclose(tier_throughput(per_node, nodes=np.array([1, 2, 3])), [5e9, 10e9, 12e9])
    assert tier_iops(tier()) == math.inf
    assert tier_iops(tier(iops=3000, max_iops=16000)) == 3000
    assert tier_iops(tier(iops=5500, throughput_basis="per_node"), nodes=4) == 22000
    with pytest.raises(ValueError, match="nodes"):
        tier_throughput(per_node, nodes=0)


def test_min_capacity_sets_per_tib_throughput():
    t = tier(throughput_bytes_per_s=200e6, throughput_basis="per_tib", min_capacity_gib=1200)
    # a tiny dataset still gets the minimum provisioned 1.2 TiB... of 200 MB/s per TiB
    assert tier_throughput(t, capacity_bytes=1e9) == pytest.approx(200e6 * 1200 / 1024)


# ----------------------------------------------------------------------------- data loading
def test_data_loading_storage_bound_by_hand():
    # 8 GPUs x 4 samples of 100 MB per 0.5 s step = 64 samples/s = 6.4 GB/s needed;
    # 3.2 GB/s gives 32 samples/s: AU = 32/64 = 50 %, storage is the bottleneck.
    est = data_loading(tier(), dataset_bytes=1e12, sample_bytes=100e6, n_gpus=8,
                       step_time_s=0.5, samples_per_step=4)
    assert est.demand_samples_per_s == pytest.approx(64)
    assert est.required_bytes_per_s == pytest.approx(6.4e9)
    assert est.storage_samples_per_s == pytest.approx(32)
    assert est.limit == "throughput"
    assert est.au_first_epoch == pytest.approx(0.5)
    assert est.bottleneck == "storage" and not est.meets_threshold
    # at 90 %: 32 >= 0.9 * n * 8  ->  n <= 4.44
    assert est.max_gpus_at_threshold == 4
    assert "cannot keep up" in str(est)


def test_data_loading_compute_bound():
    est = data_loading(tier(), dataset_bytes=1e12, sample_bytes=1e6, n_gpus=8,
                       step_time_s=0.5, samples_per_step=4)
    assert est.au_first_epoch == 1.0 and est.bottleneck == "compute" and est.meets_threshold
    # 3200 samples/s >= 0.9 * n * 8 -> n <= 444
    assert est.max_gpus_at_threshold == 444


def test_data_loading_iops_and_latency_limits():
    est = data_loading(tier(iops=1000), dataset_bytes=1e12, sample_bytes=1e5, n_gpus=8,
                       step_time_s=0.1, samples_per_step=32, reads_per_sample=2)
    assert est.limit == "iops" and est.storage_samples_per_s == pytest.approx(500)
    assert est.au_first_epoch == pytest.approx(500 / 2560)
    lat = data_loading(tier(latency_s=0.01), dataset_bytes=1e12, sample_bytes=1e5, n_gpus=8,
                       step_time_s=0.1, samples_per_step=32, io_concurrency=16)
    # Little's law: 16 requests in flight / 10 ms = 1600 samples/s
    assert lat.limit == "latency" and lat.storage_samples_per_s == pytest.approx(1600)


def test_data_loading_per_node_tier_scales_with_nodes():
    t = tier(throughput_bytes_per_s=1e9, throughput_basis="per_node")
    est = data_loading(t, dataset_bytes=1e12, sample_bytes=1e6, n_gpus=16, step_time_s=1.0,
                       samples_per_step=100, gpus_per_node=8)
    assert est.nodes == 2 and est.tier_bytes_per_s == pytest.approx(2e9)
    # 2 GB/s / 1 MB = 2000 samples/s >= 16 x 100 / 1 s = 1600 demanded
    assert est.storage_samples_per_s == pytest.approx(2000) and est.au_first_epoch == 1.0


def test_caching_after_the_first_epoch():
    # dataset 500 GB; 1 TB RAM per node of which 80 % is page cache -> cached
    est = data_loading(tier(), dataset_bytes=500e9, sample_bytes=100e6, n_gpus=8,
                       step_time_s=0.5, samples_per_step=4, ram_bytes_per_node=1e12, epochs=3)
    assert est.fits_in_ram and est.au_cached == 1.0
    # 3 epochs: wall = 1/0.5 + 2/1 = 4 epoch-compute-times -> AU = 3/4
    assert est.au_average == pytest.approx(0.75)
    big = data_loading(tier(), dataset_bytes=5e12, sample_bytes=100e6, n_gpus=8,
                       step_time_s=0.5, samples_per_step=4, ram_bytes_per_node=1e12,
                       local_nvme_bytes_per_node=30e12, epochs=3)
    assert not big.fits_in_ram and big.fits_in_local_nvme


@pytest.mark.parametrize(
    "kwargs",
    [{"n_gpus": 0}, {"sample_bytes": 0}, {"step_time_s": -1}, {"au_threshold": 1.5},
     {"epochs": 0}, {"io_concurrency": 0}],
)
def test_data_loading_rejects_bad_input(kwargs):
    args = {"dataset_bytes": 1e12, "sample_bytes": 1e6, "n_gpus": 8, "step_time_s": 0.5,
            "samples_per_step": 4}
    args.update(kwargs)
    with pytest.raises(ValueError):
        data_loading(tier(), **args)


def test_data_loading_with_catalog_tier():
    est = data_loading("fsx-lustre", dataset_bytes=10e12, sample_bytes=140e6, n_gpus=64,
                       step_time_s=0.5, samples_per_step=1)
    import aicost

    per_tib = aicost.catalog.load().storage_tier("fsx-lustre").throughput_bytes_per_s
    # per-TiB tier provisioned at the dataset size: 10 TB = 9.09 TiB x its rate per TiB
    assert est.tier == "fsx-lustre"
    assert est.tier_bytes_per_s == pytest.approx(per_tib * 10e12 / 2**40)
    assert est.au_first_epoch == pytest.approx(est.tier_bytes_per_s / 140e6 / (64 / 0.5))


# ----------------------------------------------------------------------------- checkpoints
def test_checkpoint_time_by_hand():
    t = tier(throughput_bytes_per_s=2e9, latency_s=0.0)
    assert checkpoint_time(1e12, t) == pytest.approx(500.0)
    # one writer limited to 1 GB/s: 1000 s; 8 writers share the 2 GB/s volume: 500 s
    got = checkpoint_time(1e12, t, n_writers=np.array([1, 8]), per_writer_bytes_per_s=1e9)
    assert np.allclose(got, [1000.0, 500.0])
    assert checkpoint_time(0.0, t) == 0.0
    lat = tier(throughput_bytes_per_s=1e9, latency_s=0.03)
    assert checkpoint_time(1e9, lat) == pytest.approx(1.03)


def test_checkpoint_time_vectorized_and_per_node():
    t = tier(throughput_bytes_per_s=5e9, throughput_basis="per_node")
    sizes = np.array([[1e11], [1e12]])
    writers = np.array([8, 16, 64])
    got = checkpoint_time(sizes, t, n_writers=writers, writers_per_node=8)
    assert got.shape == (2, 3)
    # 64 writers on 8 nodes: 40 GB/s -> 1 TB in 25 s
    assert got[1, 2] == pytest.approx(25.0)
    assert got[0, 0] == pytest.approx(20.0)


def test_checkpoint_write_fraction_and_estimate():
    t = tier(throughput_bytes_per_s=2e9)
    assert checkpoint_time(1e12, t, write_fraction=0.5) == pytest.approx(1000.0)
    assert checkpoint_time(1e12, t, write_fraction=0.5, direction="read") == pytest.approx(500.0)
    est = checkpoint_estimate(1e12, t, n_writers=4, write_fraction=0.5)
    assert est.write_s == pytest.approx(1000.0) and est.read_s == pytest.approx(500.0)
    with pytest.raises(ValueError, match="n_writers"):
        checkpoint_time(1e12, t, n_writers=0)
    with pytest.raises(ValueError, match="direction"):
        checkpoint_time(1e12, t, direction="sideways")


def test_checkpoint_on_catalog_tiers():
    fast = checkpoint_time(1e12, "aws-ebs-io2", n_writers=8)
    slow = checkpoint_time(1e12, "aws-ebs-gp3", n_writers=8)
    assert fast < slow


# ----------------------------------------------------------------------------- cost
def test_storage_cost_by_hand():
    t = tier(price_usd_per_gb_month=0.023, price_usd_per_1k_put=0.005,
             price_usd_per_1k_get=0.0004)
    c = storage_cost(t, dataset_bytes=800e9, checkpoint_bytes=100e9, checkpoints_kept=2,
                     put_requests=10_000, get_requests=1_000_000)
    assert c.billed_gb == pytest.approx(1000)
    assert c.capacity_usd == pytest.approx(23.0)
    assert c.request_usd == pytest.approx(0.05 + 0.4)
    assert c.total_usd == pytest.approx(23.45) and c.usd_per_month == pytest.approx(23.45)
    half = storage_cost(t, dataset_bytes=1e12, duration_s=HOURS_PER_MONTH * 3600 / 2)
    assert half.capacity_usd == pytest.approx(11.5)


def test_provisioned_capacity_is_billed():
    t = tier(price_usd_per_gb_month=0.1, min_capacity_gib=1200)
    c = storage_cost(t, dataset_bytes=10e9)
    assert c.billed_gb == pytest.approx(1200 * 2**30 / 1e9)
    c2 = storage_cost(t, dataset_bytes=10e9, capacity_bytes=5e12)
    assert c2.billed_gb == pytest.approx(5000)


def test_storage_cost_over_time_by_hand():
    t = tier(price_usd_per_gb_month=0.02, price_usd_per_1k_put=0.005)
    df = storage_cost_over_time(t, dataset_bytes=0.0, checkpoint_bytes=64 * 2**20 * 10,
                                checkpoint_interval_s=86400, duration_s=3 * 86400,
                                checkpoints_kept=2)
    assert list(df["checkpoints_stored"]) == [1, 2, 2]
    # each checkpoint: 10 parts of 64 MiB = 10 PUTs = $0.00005
    assert np.allclose(df["request_usd"], 10 / 1000 * 0.005)
    day_gb = df["stored_bytes"] / 1e9
    expected = day_gb * 0.02 * 24 / HOURS_PER_MONTH + 10 / 1000 * 0.005
    assert np.allclose(df["cumulative_usd"], np.cumsum(expected))


def test_local_storage_scales_with_nodes():
    local = tier(kind="local", throughput_bytes_per_s=6e9, max_throughput_bytes_per_s=6.5e9,
                 iops=1e6)
    assert tier_throughput(local, nodes=4) == pytest.approx(24e9)
    assert tier_iops(local, nodes=4) == pytest.approx(4e6)
    est = data_loading(local, dataset_bytes=1e12, sample_bytes=1e6, n_gpus=16, step_time_s=1.0,
                       samples_per_step=100, gpus_per_node=8)
    assert est.tier_bytes_per_s == pytest.approx(12e9)


def test_tier_that_scales_with_nodes_has_no_gpu_limit():
    t = tier(throughput_bytes_per_s=10e9, throughput_basis="per_node")
    est = data_loading(t, dataset_bytes=1e12, sample_bytes=1e6, n_gpus=64, step_time_s=1.0,
                       samples_per_step=100)
    # each 8-GPU node needs 0.8 GB/s and gets 10 GB/s: no limit at any size
    assert math.isinf(est.max_gpus_at_threshold) and "any number of GPUs" in str(est)
    starved = data_loading(tier(throughput_bytes_per_s=1e6), dataset_bytes=1e12,
                           sample_bytes=1e6, n_gpus=8, step_time_s=0.1, samples_per_step=100)
    assert starved.max_gpus_at_threshold == 0 and "not even one GPU" in str(starved)
