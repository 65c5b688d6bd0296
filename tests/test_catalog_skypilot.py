"""Importing SkyPilot vms.csv catalogs (schema v7 and v8) and their known defects."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aicost import CatalogError
from aicost._errors import CatalogWarning
from aicost.catalog import from_skypilot, load

FIXTURES = Path(__file__).parent / "data" / "catalog" / "skypilot"
V7 = FIXTURES / "v7" / "aws" / "vms.csv"
V8 = FIXTURES / "v8" / "gcp" / "vms.csv"


def _row(df, itype, region):
    sel = df[(df.instance_type == itype) & (df.region == region)]
    assert len(sel) == 1, (itype, region, len(sel))
    return sel.iloc[0]


def _reasons(df) -> dict[str, str]:
    return {f"{d['instance_type']}@{d['line']}": d["reason"] for d in df.attrs["dropped"]}


def test_v7_rows_and_zone_aggregation():
    df = from_skypilot(V7, as_of="2026-11-01")
    assert set(df["provider"]) == {"aws"}  # from the path
    p5 = _row(df, "p5.48xlarge", "us-east-1")
    assert p5["accelerator"] == "H100-SXM" and p5["accelerator_count"] == 8
    assert p5["price_on_demand_usd_per_hour"] == 55.04
    assert p5["price_spot_usd_per_hour"] == 28.40  # the cheaper of two zones
    assert "2 zones" in p5["source"] and "SkyPilot catalog v7" in p5["source"]
    assert p5["vcpus"] == 192 and p5["memory_gib"] == 2048
    assert p5["as_of"] == "2026-11-01"
    west = _row(df, "p5.48xlarge", "us-west-2")
    assert math.isnan(west["price_spot_usd_per_hour"])  # empty SpotPrice: no spot offer
    assert _row(df, "trn1.32xlarge", "us-east-1")["accelerator"] == "Trainium1"
    assert _row(df, "p4de.24xlarge", "us-east-2")["accelerator"] == "A100-80GB"


def test_v7_bad_spot_prices_are_ignored_with_a_note():
    df = from_skypilot(V7)
    g6 = _row(df, "g6.xlarge", "us-east-1")
    assert math.isnan(g6["price_spot_usd_per_hour"]) and "SpotPrice '0.0' ignored (zero)" in g6["source"]
    t4 = _row(df, "g4dn.xlarge", "us-east-1")
    assert math.isnan(t4["price_spot_usd_per_hour"]) and "above on-demand" in t4["source"]
    h200 = _row(df, "p5en.48xlarge", "us-east-1")
    assert math.isnan(h200["price_spot_usd_per_hour"]) and "placeholder" in h200["source"]
    assert h200["price_on_demand_usd_per_hour"] == 63.28


def test_v7_dropped_rows_say_why():
    df = from_skypilot(V7)
    reasons = _reasons(df)
    assert reasons["m5.large@2"] == "no accelerator (CPU-only instance type)"
    assert reasons["p4d.24xlarge@9"] == "on-demand Price '' is empty or not a number"
    assert reasons["p4de.24xlarge@10"] == "on-demand Price '0.0' is zero or negative"
    assert reasons["g6e.xlarge@13"] == "on-demand Price 'nan' is empty or not a number"
    assert reasons["g6e.2xlarge@14"].startswith("on-demand Price '99999.0' looks like a placeholder")
    assert len(reasons) == 5  # p3.2xlarge (V100) is imported since the catalog has the V100
    assert _row(df, "p3.2xlarge", "us-east-1")["accelerator"] == "V100"
    summary = df.attrs["summary"]
    assert summary.dropped_by_reason == {"cpu-only": 1, "no-price": 3, "placeholder-price": 1}
    assert summary.rows_dropped == 5 and "dropped 5" in str(summary)
    assert not ((df.instance_type == "p4de.24xlarge") & (df.region == "us-east-1")).any()


def test_v8_json_gpuinfo_and_tpus():
    df = from_skypilot(V8, provider="gcp")
    a3 = _row(df, "a3-highgpu-8g", "us-central1")
    assert a3["price_spot_usd_per_hour"] == 27.50 and "SkyPilot catalog v8" in a3["source"]
    assert _row(df, "a3-megagpu-8g", "us-central1")["accelerator"] == "H100-SXM"
    assert math.isnan(_row(df, "a3-megagpu-8g", "us-central1")["price_spot_usd_per_hour"])  # NaN
    # SkyPilot "A100" is the 40 GB part unless GpuInfo says 80 GB
    assert _row(df, "a2-highgpu-1g", "us-central1")["accelerator"] == "A100-40GB"
    assert _row(df, "a2-ultragpu-1g", "us-central1")["accelerator"] == "A100-80GB"
    v5e = df[(df.accelerator == "TPU-v5e")].iloc[0]
    assert v5e["accelerator_count"] == 8 and v5e["price_on_demand_usd_per_hour"] == 9.6
    v5p = df[(df.accelerator == "TPU-v5p")].iloc[0]
    assert v5p["accelerator_count"] == 4  # v5p-8 counts TensorCores: 4 chips
    reasons = _reasons(df)
    assert reasons["TPU-VM@11"] == "on-demand Price '0.0' is zero or negative"
    assert "'tpu-v2-8'" in reasons["TPU-VM@12"]
    assert "placeholder" in reasons["g2-standard-8@13"]
    assert reasons["n2-standard-8@2"].startswith("no accelerator")


def test_load_detects_a_vms_csv():
    with pytest.warns(CatalogWarning, match="both are kept"):
        cat = load(extra=V7)
    extra = cat.instances[cat.instances.source.str.startswith("SkyPilot catalog v7 (")]
    # an imported offer identical to the curated row with its key is not repeated
    assert len(extra) == len(from_skypilot(V7)) - 1
    # same key as a shipped row: the import never replaces the curated row; both are listed
    p5 = cat.instance("p5.48xlarge", provider="aws", region="us-east-1")
    assert p5.price_spot_usd_per_hour == 24.40 and not p5.source.startswith("SkyPilot")
    both = cat.instances[(cat.instances.instance_type == "p5.48xlarge")
                         & (cat.instances.region == "us-east-1")]
    assert sorted(both["price_spot_usd_per_hour"]) == [24.40, 28.40]
    # SkyPilot has no network columns: the known family gets aicost's fabrics
    imported = both[both.source.str.startswith("SkyPilot catalog v7 (")].iloc[0]
    assert (imported["scale_up_fabric"], imported["scale_out_fabric"]) == ("nvlink4", "efa-v2")
    # derived columns for imported rows
    row = cat.instances[(cat.instances.instance_type == "g6.xlarge")].iloc[0]
    assert row["price_usd_per_gpu_hour"] == pytest.approx(0.8048)


def test_load_accepts_the_dataframe():
    df = from_skypilot(V8, provider="gcp-skypilot")
    cat = load(extra=df)
    assert "gcp-skypilot" in cat.providers
    tpu = cat.instance("TPU-VM", provider="gcp-skypilot", region="us-west4")
    assert tpu.accelerator == "TPU-v5e" and tpu.price_usd_per_gpu_hour() == pytest.approx(1.2)


def test_missing_skypilot_column(tmp_path):
    bad = tmp_path / "vms.csv"
    bad.write_text("InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,Price,Region\n"
                   "p5.48xlarge,H100,8,192,2048,55.04,us-east-1\n")
    with pytest.raises(CatalogError) as err:
        from_skypilot(bad)
    assert (err.value.row, err.value.column) == (1, "SpotPrice")


def test_bad_as_of():
    with pytest.raises(ValueError, match="as_of"):
        from_skypilot(V7, as_of="yesterday")


_SKY_HEADER = ("InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,"
               "SpotPrice,Region,AvailabilityZone")
_sky_cells = st.one_of(
    st.sampled_from(["", "H100", "A100", "tpu-v5p-8", "tpu-v6e-0", "8", "8.0", "0.5", "-1", "nan",
                     "inf", "1e400", "99999", "0.0001", "55.04", "us-east-1",
                     "{'Gpus': [{'MemoryInfo': {'SizeInMiB': 10**400}}]}",
                     '{"Gpus": [{"MemoryInfo": [1, 2]}]}', "{'Gpus': 'x'}", "{" * 50]),
    st.text(max_size=8),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(_sky_cells, min_size=8, max_size=11), max_size=5))
def test_fuzzed_vms_csv_never_crashes(tmp_path, rows):
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(_SKY_HEADER.split(","))
    for r in rows:
        w.writerow(r)
    path = tmp_path / "vms.csv"
    path.write_text(buf.getvalue())
    try:
        df = from_skypilot(path, as_of="2026-01-01")
    except CatalogError:
        return
    assert len(df) + len(df.attrs["dropped"]) <= len(rows)
    assert all(d["reason"] for d in df.attrs["dropped"])
    assert (df["price_on_demand_usd_per_hour"] > 0).all()
    load(extra=df)  # whatever survives the import is a valid catalog row
