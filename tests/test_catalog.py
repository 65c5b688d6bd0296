"""The shipped catalog: counts, sources, sample values, lookups, derived columns, records."""

from __future__ import annotations

import datetime as dt
import math
import re

import pandas as pd
import pytest

import aicost
from aicost.catalog import Accelerator, Fabric, Instance, StorageTier, load
from aicost.catalog._records import normalize_pricing

ISSUE_ACCELERATORS = [
    "B200", "H200-SXM", "H100-SXM", "H100-PCIe", "A100-80GB", "A100-40GB", "L40S", "L4", "A10G",
    "T4", "MI300X", "MI325X", "TPU-v5e", "TPU-v5p", "TPU-v6e", "Trainium2", "Gaudi3",
]


@pytest.fixture(scope="module")
def cat():
    return load()


# ----------------------------------------------------------------------------- counts
def test_counts_meet_the_issue_minimums(cat):
    assert len(cat.accelerators) >= 16
    assert set(ISSUE_ACCELERATORS) <= set(cat.accelerators["name"])
    inst = cat.instances
    assert len(inst) >= 60
    assert inst["provider"].nunique() >= 6
    assert {"aws", "gcp", "azure", "oci", "lambda", "coreweave", "runpod"} <= set(inst["provider"])
    # 8-GPU training nodes and 1-GPU inference instances
    assert (inst["accelerator_count"] == 8).sum() >= 15
    assert (inst["accelerator_count"] == 1).sum() >= 15
    assert len(cat.storage_tiers) >= 10
    assert set(cat.storage_tiers["kind"]) == {"local", "block", "file", "object"}
    for name in ("local-nvme", "aws-ebs-gp3", "aws-ebs-io2", "fsx-lustre", "s3-standard",
                 "s3-express-one-zone", "gcs-standard", "gcp-managed-lustre", "azure-blob-hot",
                 "azure-managed-lustre"):
        assert name in set(cat.storage_tiers["name"])
    assert len(cat.fabrics) >= 8
    for name in ("nvlink3", "nvlink4", "nvlink5", "pcie4", "pcie5", "ib-hdr", "ib-ndr", "ib-xdr",
                 "efa", "roce-400", "eth-100"):
        assert name in set(cat.fabrics["name"])


def test_every_row_has_a_source_and_a_date(cat):
    today = dt.date.today()
    for table in (cat.accelerators, cat.instances, cat.storage_tiers, cat.fabrics):
        assert table["source"].map(lambda s: isinstance(s, str) and len(s.strip()) > 10).all()
        dates = table["as_of"].map(dt.date.fromisoformat)
        assert (dates <= today).all()
        assert (dates >= dt.date(2023, 1, 1)).all()


def test_every_instance_accelerator_and_fabric_exists(cat):
    assert set(cat.instances["accelerator"]) <= set(cat.accelerators["name"])
    used = set(cat.instances["scale_up_fabric"].dropna()) | set(cat.instances["scale_out_fabric"].dropna())
    assert used <= set(cat.fabrics["name"])


def test_every_accelerator_has_an_offer_or_says_why(cat):
    offered = set(cat.instances["accelerator"])
    # Gaudi 3 and MI325X: no public per-hour list price the catalog could cite yet
    # H800 and H20: China-market parts, no public cloud list price outside China
    assert set(cat.accelerators["name"]) - offered <= {"Gaudi3", "MI325X", "H800", "H20"}


# ----------------------------------------------------------------------------- values vs sources
@pytest.mark.parametrize(
    ("name", "column", "value"),
    [
        ("H100-SXM", "bf16_tflops", 989.4),
        ("H100-SXM", "fp64_tflops", 67.0),
        ("H100-SXM", "fp32_tflops", 67.0),
        ("H100-SXM", "tf32_tflops", 494.7),
        ("H100-SXM", "fp8_tflops", 1978.9),
        ("H100-SXM", "mem_bw_gb_s", 3350.0),
        ("H200-SXM", "mem_bw_gb_s", 4800.0),
        ("H200-SXM", "bf16_tflops", 989.4),
        ("H200-SXM", "memory_gb", 141.0),
        ("H200-SXM", "memory_gib", 139.8),
        ("A100-80GB", "bf16_tflops", 312.0),
        ("A100-80GB", "mem_bw_gb_s", 2039.0),
        ("A100-40GB", "mem_bw_gb_s", 1555.0),
        ("L4", "bf16_tflops", 121.0),
        ("L40S", "fp8_tflops", 733.0),
        ("T4", "fp16_tflops", 65.0),
        ("MI300X", "bf16_tflops", 1307.4),
        ("MI300X", "mem_bw_gb_s", 5300.0),
        ("MI325X", "memory_gb", 256.0),
        ("TPU-v5e", "bf16_tflops", 197.0),
        ("TPU-v5p", "bf16_tflops", 459.0),
        ("TPU-v6e", "bf16_tflops", 918.0),
        ("Trainium2", "bf16_tflops", 667.0),
        ("Gaudi3", "bf16_tflops", 1835.0),
        ("B200", "bf16_tflops", 2250.0),
    ],
)
def test_sample_accelerator_values(cat, name, column, value):
    row = cat.accelerators.set_index("name").loc[name]
    assert row[column] == pytest.approx(value)


def test_t4_has_no_bf16(cat):
    assert math.isnan(cat.accelerators.set_index("name").loc["T4", "bf16_tflops"])


_PER_GPU = re.compile(r"(?<!~)\$(\d+(?:\.\d+)?) ?(?:/GPU-h|per GPU-hour|per chip-hour)")


def test_prices_match_the_per_gpu_price_their_source_states(cat):
    """Rows whose source quotes a per-GPU (per-chip) hourly price must match it."""
    checked = 0
    for rec in cat.instances.itertuples():
        m = _PER_GPU.search(rec.source)
        if not m:
            continue
        stated = float(m.group(1))
        assert rec.price_usd_per_gpu_hour == pytest.approx(stated, abs=0.006), rec.instance_type
        checked += 1
    assert checked >= 25


@pytest.mark.parametrize(
    ("provider", "itype", "per_gpu"),
    [
        ("aws", "p5.48xlarge", 6.88),
        ("aws", "p5en.48xlarge", 7.91),
        ("aws", "p4de.24xlarge", 3.43),
        ("aws", "g6e.2xlarge", 2.24),
        ("aws", "g5.xlarge", 1.01),
        # the brief's "Lambda H100 $3.99" is the 8x H100 SXM price per GPU-hour of 2026-09
        # (1x H100 SXM: $4.29; SkyPilot's older catalog snapshot: $3.29)
        ("lambda", "gpu_8x_h100_sxm5", 3.99),
        ("aws-capacity-block", "p5.48xlarge", 4.92),
        ("aws-capacity-block", "p5en.48xlarge", 5.41),
    ],
)
def test_design_price_points(cat, provider, itype, per_gpu):
    inst = cat.instance(itype, provider=provider)
    assert inst.price_usd_per_gpu_hour("on_demand") == pytest.approx(per_gpu, abs=0.006)


def test_p5_price_is_the_documented_value(cat):
    p5 = cat.instance("p5.48xlarge", provider="aws", region="us-east-1")
    assert p5.accelerator == "H100-SXM" and p5.accelerator_count == 8
    assert p5.price_on_demand_usd_per_hour == 55.04
    assert "6.88" in p5.source


# ----------------------------------------------------------------------------- derived columns
def test_derived_columns_by_hand(cat):
    df = cat.instances
    row = df[(df.provider == "aws") & (df.instance_type == "p5.48xlarge")
             & (df.region == "us-east-1")].iloc[0]
    assert row["price_usd_per_gpu_hour"] == pytest.approx(55.04 / 8)
    assert row["price_spot_usd_per_gpu_hour"] == pytest.approx(24.40 / 8)
    assert row["price_reserved_1y_usd_per_gpu_hour"] == pytest.approx(38.53 / 8)
    assert row["spot_discount"] == pytest.approx(1 - 24.40 / 55.04)
    # 8 x 989.4 TFLOP/s = 7.9152 PFLOP/s
    assert row["total_bf16_pflops"] == pytest.approx(7.9152)
    assert row["usd_per_bf16_pflop_hour"] == pytest.approx(55.04 / 7.9152)
    assert row["usd_per_bf16_pflop_hour_spot"] == pytest.approx(24.40 / 7.9152)
    # 8 x 3.35 TB/s = 26.8 TB/s
    assert row["total_mem_bw_tb_s"] == pytest.approx(26.8)
    assert row["usd_per_tb_s_hour"] == pytest.approx(55.04 / 26.8)
    assert row["total_accelerator_memory_gib"] == pytest.approx(8 * 79.1)
    assert row["vendor"] == "NVIDIA"


def test_derived_columns_are_nan_where_undefined(cat):
    df = cat.instances.set_index(["provider", "instance_type", "region"])
    t4 = df.loc[("aws", "g4dn.xlarge", "us-east-1")]
    assert math.isnan(t4["usd_per_bf16_pflop_hour"])  # T4 has no bf16
    coreweave = df.loc[("coreweave", "gd-8xh100ib-i128", "US-EAST-04")]
    assert math.isnan(coreweave["spot_discount"])
    assert math.isnan(coreweave["price_spot_usd_per_gpu_hour"])


def test_accelerator_ridge_point(cat):
    h100 = cat.accelerators.set_index("name").loc["H100-SXM"]
    assert h100["ridge_bf16_flop_per_byte"] == pytest.approx(989.4e12 / 3350e9)


# ----------------------------------------------------------------------------- records
def test_accelerator_record_units(cat):
    h100 = cat.accelerator("h100")
    assert isinstance(h100, Accelerator)
    assert h100.peak_flops_per_s("bf16") == pytest.approx(989.4e12)
    assert h100.peak_flops_per_s("bfloat16") == pytest.approx(989.4e12)
    assert h100.peak_flops_per_s("float32") == pytest.approx(67e12)
    assert h100.peak_tflops("fp8") == pytest.approx(1978.9)
    assert h100.mem_bw_bytes_per_s == pytest.approx(3.35e12)
    assert h100.scale_up_bw_bytes_per_s == pytest.approx(450e9)
    assert h100.memory_bytes == round(79.1 * 2**30)
    assert h100.as_of == dt.date(2025, 6, 1)
    with pytest.raises(AttributeError):
        h100.bf16_tflops = 1.0  # frozen


def test_peak_for_a_missing_dtype_names_the_available_ones(cat):
    t4 = cat.accelerator("Tesla T4")
    with pytest.raises(ValueError, match=r"T4 has no bf16 peak.*it has: fp64, fp32, fp16, int8"):
        t4.peak_flops_per_s("bf16")
    with pytest.raises(ValueError, match="unknown dtype"):
        t4.peak_flops_per_s("fp4x")
    assert cat.accelerator("TPU-v5e").dtypes == ("bf16", "int8")


def test_instance_record_prices(cat):
    p5 = cat.instance("P5.48XLARGE")
    assert isinstance(p5, Instance)
    assert (p5.provider, p5.region) == ("aws", "us-east-1")  # first listed
    assert p5.price_usd_per_hour() == 55.04
    assert p5.price_usd_per_hour("spot") == 24.40
    assert p5.price_usd_per_hour("reserved") == 38.53
    assert p5.price_usd_per_gpu_hour("on-demand") == pytest.approx(6.88)
    assert p5.network_bytes_per_s == pytest.approx(3200e9 / 8)
    cw = cat.instance("gd-8xh100ib-i128")
    assert cw.price_usd_per_hour("spot") is None
    assert cw.price_usd_per_gpu_hour("spot") is None
    with pytest.raises(ValueError, match="unknown pricing"):
        p5.price_usd_per_hour("hourly")
    assert normalize_pricing("Preemptible") == "spot"


def test_instance_lookup_by_provider_and_region(cat):
    assert cat.instance("p5.48xlarge", region="us-west-2").price_spot_usd_per_hour == 26.80
    assert cat.instance("p5.48xlarge", provider="aws-capacity-block").price_usd_per_hour() == 39.36
    with pytest.raises(aicost.UnknownNameError, match="us-west-2"):
        cat.instance("p5.48xlarge", region="us-west-3")
    with pytest.raises(aicost.UnknownNameError, match="known: aws, aws-capacity-block"):
        cat.instance("p5.48xlarge", provider="amazon")


def test_storage_tier_throughput_by_basis(cat):
    fsx = cat.storage_tier("FSx Lustre")
    assert isinstance(fsx, StorageTier)
    assert fsx.kind == "file" and fsx.throughput_basis == "per_tib"
    assert fsx.throughput_for(10 * 2**40) == pytest.approx(2.5e9)  # 250 MB/s/TiB x 10 TiB
    with pytest.raises(ValueError, match="pass capacity_bytes"):
        fsx.throughput_for()
    gp3 = cat.storage_tier("gp3")
    assert gp3.throughput_for(2**40) == pytest.approx(131e6)  # a volume, whatever its size
    s3 = cat.storage_tier("s3")
    assert s3.throughput_for(nodes=4) == pytest.approx(4 * 5e9)
    assert s3.price_usd_per_1k_get == 0.0004
    assert s3.latency_s == pytest.approx(0.030)
    pd_ssd = cat.storage_tier("pd-ssd")
    assert pd_ssd.throughput_for(100 * 2**40) == pytest.approx(1.2e9)  # capped
    assert fsx.price_usd_per_month(1e12) == pytest.approx(210.0)
    with pytest.raises(ValueError, match="nodes"):
        s3.throughput_for(nodes=0)


def test_fabric_record(cat):
    nv = cat.fabric("NVLink 4")
    assert isinstance(nv, Fabric)
    assert nv.kind == "scale_up"
    assert nv.bandwidth_bytes_per_s == pytest.approx(450e9)
    assert nv.latency_s == pytest.approx(1.5e-6)
    efa = cat.fabric("efa")
    assert efa.basis == "per_node"
    assert efa.bandwidth_per_gpu_bytes_per_s(8) == pytest.approx(50e9 / 8)
    assert cat.fabric("ib_ndr").bandwidth_per_gpu_bytes_per_s(8) == pytest.approx(50e9)


def test_records_show_themselves(cat):
    h200 = cat.accelerator("H200")
    text = str(h200)
    assert text.startswith("Accelerator H200-SXM")
    assert "4,800 GB/s" in text and "989.4 TFLOP/s" in text
    html = h200._repr_html_()
    assert "<table>" in html and "H200-SXM" in html
    d = h200.to_dict()
    assert d["as_of"] == "2025-06-01" and isinstance(d["aliases"], list)
    assert d["mem_bw_bytes_per_s"] == pytest.approx(4.8e12)
    assert "$55.04/h" in str(cat.instance("p5.48xlarge"))
    assert "Catalog: " in repr(cat) and "providers" in cat._repr_html_()


# ----------------------------------------------------------------------------- names
@pytest.mark.parametrize(
    ("query", "canonical"),
    [
        ("H100", "H100-SXM"), ("h100-sxm", "H100-SXM"), ("H100_SXM", "H100-SXM"),
        ("h100 sxm5", "H100-SXM"), ("NVIDIA H100 80GB HBM3", "H100-SXM"),
        ("NVIDIA H100 PCIe", "H100-PCIe"), ("NVIDIA H100 NVL", "H100-NVL"),
        ("NVIDIA H200", "H200-SXM"), ("h200", "H200-SXM"),
        ("NVIDIA A100-SXM4-80GB", "A100-80GB"), ("NVIDIA A100-SXM4-40GB", "A100-40GB"),
        ("NVIDIA A100 80GB PCIe", "A100-80GB-PCIe"), ("NVIDIA L40S", "L40S"), ("NVIDIA L4", "L4"),
        ("NVIDIA A10G", "A10G"), ("NVIDIA A10", "A10"), ("Tesla T4", "T4"), ("NVIDIA B200", "B200"),
        ("AMD Instinct MI300X", "MI300X"), ("mi325x", "MI325X"), ("TPU v5 lite", "TPU-v5e"),
        ("tpu_v5p", "TPU-v5p"), ("Trillium", "TPU-v6e"), ("trainium 2", "Trainium2"),
        ("Intel Gaudi 3", "Gaudi3"), ("NVIDIA GH200 480GB", "GH200"),
    ],
)
def test_accelerator_names_resolve(cat, query, canonical):
    assert cat.accelerator(query).name == canonical


def test_unknown_accelerator_suggests(cat):
    with pytest.raises(aicost.UnknownNameError) as err:
        cat.accelerator("H1OO-SXM")
    assert "H100-SXM" in err.value.suggestions
    assert isinstance(err.value, LookupError)
    with pytest.raises(aicost.UnknownNameError) as err:
        cat.accelerator("a100")  # ambiguous on purpose: 40 GB or 80 GB?
    assert {"A100-40GB", "A100-80GB"} <= set(err.value.suggestions)
    assert "did you mean" in str(err.value)


@pytest.mark.parametrize(
    ("lookup", "typo", "expected"),
    [
        ("instance", "p5.48xlarg", "p5.48xlarge"),
        ("storage_tier", "fsx-lustr", "fsx-lustre"),
        ("fabric", "nvlinkk4", "nvlink4"),
    ],
)
def test_unknown_names_suggest(cat, lookup, typo, expected):
    with pytest.raises(aicost.UnknownNameError) as err:
        getattr(cat, lookup)(typo)
    assert expected in err.value.suggestions


def test_find_searches_all_tables(cat):
    assert isinstance(cat.find("nvidia h100 80gb hbm3"), Accelerator)
    assert isinstance(cat.find("p4de.24xlarge"), Instance)
    assert isinstance(cat.find("s3-express"), StorageTier)
    assert isinstance(cat.find("ib-ndr"), Fabric)
    with pytest.raises(aicost.UnknownNameError, match="catalog list"):
        cat.find("no-such-thing-anywhere")


# ----------------------------------------------------------------------------- tables
def test_table_by_name_and_provider(cat):
    assert len(cat.table("accelerators")) == len(cat.accelerators)
    assert len(cat.table("storage")) == len(cat.storage_tiers)
    aws = cat.table("instances", provider="AWS")
    assert set(aws["provider"]) == {"aws"} and len(aws) >= 15
    aws_acc = cat.table("accelerators", provider="aws")
    assert "H100-SXM" in set(aws_acc["name"]) and "MI300X" not in set(aws_acc["name"])
    aws_fab = set(cat.table("fabrics", provider="aws")["name"])
    assert {"efa-v2", "nvlink4"} <= aws_fab and "ib-ndr" not in aws_fab
    gcp_storage = set(cat.table("storage", provider="gcp")["provider"])
    assert gcp_storage == {"gcp", "any"}
    with pytest.raises(ValueError, match="unknown catalog table"):
        cat.table("gpus-and-more")
    with pytest.raises(aicost.UnknownNameError):
        cat.table("instances", provider="amazonn")


def test_instances_for_and_best_offers(cat):
    h100 = cat.instances_for("h100")
    assert set(h100["accelerator"]) == {"H100-SXM"}
    prices = h100["price_usd_per_gpu_hour"].to_list()
    assert prices == sorted(prices)
    spot = cat.instances_for("H100", pricing="spot")
    assert spot["price_spot_usd_per_gpu_hour"].notna().all()
    best = cat.best_offers()
    assert best["accelerator"].is_unique
    for rec in best.itertuples():
        assert rec.price_usd_per_gpu_hour == pytest.approx(
            cat.instances_for(rec.accelerator)["price_usd_per_gpu_hour"].min())
    best_spot = cat.best_offers("spot")
    assert best_spot["price_spot_usd_per_gpu_hour"].notna().all()
    by_work = cat.best_offers(by="usd_per_bf16_pflop_hour")
    assert by_work["usd_per_bf16_pflop_hour"].is_monotonic_increasing


def test_offers_long_table(cat):
    offers = cat.offers()
    inst = cat.instances
    expected = sum(inst[c].notna().sum() for c in (
        "price_on_demand_usd_per_hour", "price_spot_usd_per_hour", "price_reserved_1y_usd_per_hour"))
    assert len(offers) == expected
    assert set(offers["pricing"]) == {"on_demand", "spot", "reserved_1y"}
    spot_p5 = offers[(offers.instance_type == "p5.48xlarge") & (offers.pricing == "spot")
                     & (offers.region == "us-east-1")].iloc[0]
    assert spot_p5["price_usd_per_gpu_hour"] == pytest.approx(24.40 / 8)
    assert spot_p5["bf16_tflops"] == 989.4
    assert spot_p5["accelerator_memory_gib"] == 79.1


# ----------------------------------------------------------------------------- caching
def test_load_returns_an_independent_object():
    a = load()
    a.instances.loc[0, "price_on_demand_usd_per_hour"] = 1e9
    b = load()
    assert a is not b
    assert b.instances.loc[0, "price_on_demand_usd_per_hour"] != 1e9
    assert b.accelerator("h100").bf16_tflops == 989.4


def test_dataframe_dtypes(cat):
    assert cat.instances["price_on_demand_usd_per_hour"].dtype == "float64"
    assert cat.instances["accelerator_count"].dtype == "int64"
    assert pd.api.types.is_float_dtype(cat.accelerators["fp8_tflops"])
