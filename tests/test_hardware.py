"""aicost.hardware: one home for resolving a cluster, the offers table and its pricing vocabulary."""

from __future__ import annotations

import numpy as np
import pytest

import aicost
from aicost import UnknownNameError, calibrate
from aicost.catalog import PRICINGS, UnknownPricingError, normalize_pricing
from aicost.hardware import (
    DEFAULT_SCALE_OUT_LATENCY_S,
    DEFAULT_SCALE_UP_LATENCY_S,
    Cluster,
    normalize_pricings,
    offers_table,
    resolve_efficiencies,
    resolve_hardware,
)
from aicost.plan import MIN_GOODPUT, ServingDrop, TrainingDrop


@pytest.fixture(scope="module")
def cat():
    return aicost.catalog.load()


def test_one_pricing_vocabulary():
    assert normalize_pricings("on-demand, Spot spot") == ("on_demand", "spot")
    assert normalize_pricings(["reserved", "1y"]) == ("reserved_1y",)
    assert normalize_pricing("on demand") == "on_demand"
    # an unknown pricing is both a LookupError (unknown name, with suggestions) and a ValueError
    with pytest.raises(UnknownPricingError, match="did you mean 'spot'"):
        normalize_pricings("spt")
    with pytest.raises(ValueError):
        normalize_pricing("hourly")
    with pytest.raises(UnknownNameError):
        normalize_pricing("hourly")
    with pytest.raises(ValueError, match="at least one"):
        normalize_pricings([])


def test_offers_table_reads_the_schema_price_columns(cat):
    offers = offers_table(cat, pricing=("on_demand", "spot"), providers=["aws"])
    assert set(offers["pricing"]) <= set(PRICINGS)
    inst = cat.instances
    for _, row in offers.head(20).iterrows():
        src = inst[(inst["provider"] == row["provider"]) & (inst["instance_type"] == row["instance_type"])]
        want = src[PRICINGS[row["pricing"]]].dropna()
        if np.isfinite(row["price_usd_per_hour"]):
            assert row["price_usd_per_hour"] in set(want)
    assert (offers["scale_up_latency_s"] > 0).all() and (offers["scale_out_latency_s"] > 0).all()


def test_resolve_hardware_sources_and_defaults(cat):
    hw = resolve_hardware(Cluster(accelerator="H100-SXM", gpus=8), "bf16", catalog=cat, store=False)
    assert hw.peak_flops_per_s == pytest.approx(cat.accelerator("H100-SXM").peak_flops_per_s("bf16"))
    assert hw.compute_efficiency == pytest.approx(hw.gemm_efficiency * calibrate.TRAINING_KERNEL_FACTOR)
    assert hw.comm_efficiency == calibrate.DEFAULT_COLLECTIVE_EFFICIENCY
    assert {"peak_flops_per_s", "efficiency", "comm_efficiency", "price"} <= set(hw.sources)
    bare = resolve_hardware(Cluster(accelerator="X", gpus=1, peak_flops_per_s=1e15, memory_bytes=8e10,
                                    mem_bw_bytes_per_s=3e12, scale_up_bw_bytes_per_s=4e11,
                                    scale_out_bw_bytes_per_s=5e10, price_usd_per_gpu_hour=2.0,
                                    efficiency=0.5), catalog=cat)
    assert bare.scale_up_latency_s == DEFAULT_SCALE_UP_LATENCY_S
    assert bare.scale_out_latency_s == DEFAULT_SCALE_OUT_LATENCY_S
    assert bare.compute_efficiency == 0.5 and bare.sources["efficiency"].startswith("Cluster")


def test_planner_and_cluster_get_the_same_efficiency(cat):
    eff = resolve_efficiencies(["H100-SXM", "A100-80GB"], "bf16", store=False, catalog=cat)
    for name, e in eff.items():
        hw = resolve_hardware(Cluster(accelerator=name, gpus=8), "bf16", catalog=cat, store=False)
        assert e.compute == pytest.approx(hw.compute_efficiency)
        assert e.comm == pytest.approx(hw.comm_efficiency)
    given = resolve_efficiencies(["H100-SXM"], "bf16", efficiency=0.4, catalog=cat)["H100-SXM"]
    assert given.compute == 0.4 and given.compute_source == "given by the caller"
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        resolve_efficiencies(["H100-SXM"], "bf16", efficiency=1.5)


def test_drop_reasons_are_enums_built_from_their_constants():
    assert TrainingDrop.LOW_GOODPUT.text == f"interrupted too often (expected goodput under {MIN_GOODPUT:.0%})"
    assert [int(r) for r in TrainingDrop] == sorted(int(r) for r in TrainingDrop)
    assert TrainingDrop.OUT_OF_MEMORY.text == "memory does not fit"
    assert ServingDrop.TTFT_MISSED.text == "TTFT target missed"
    # the two planners no longer share integers by accident: each has its own enum
    assert TrainingDrop.BATCH_TOO_SMALL < TrainingDrop.INTERLEAVE_INVALID < TrainingDrop.OUT_OF_MEMORY
    assert ServingDrop(9) is ServingDrop.OVER_BUDGET
