"""Unit parsing and the shared error helpers."""

from __future__ import annotations

import pytest

from aicost import CatalogError, UnknownNameError
from aicost._errors import did_you_mean
from aicost._units import (
    GIB,
    MIB,
    format_bytes,
    format_duration,
    normalize_dtype,
    parse_bytes,
    parse_duration,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1GiB", GIB),
        ("1 GiB", GIB),
        ("4k", 4096),
        ("4KiB", 4096),
        ("4KB", 4000),
        ("1MiB", MIB),
        ("1.5TB", 1.5e12),
        ("512", 512),
        (4096, 4096),
        ("2g", 2 * GIB),
    ],
)
def test_parse_bytes(text, expected):
    assert parse_bytes(text) == int(expected)


@pytest.mark.parametrize("bad", ["", "abc", "1 XB", "-1GiB", -5, float("nan")])
def test_parse_bytes_rejects(bad):
    with pytest.raises(ValueError):
        parse_bytes(bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30d", 30 * 86400), ("50ms", 0.05), ("1s", 1.0), ("1.5h", 5400), ("90", 90), ("2w", 14 * 86400),
     ("10min", 600), ("250us", 250e-6)],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == pytest.approx(expected)


@pytest.mark.parametrize("bad", ["soon", "3 fortnights", "-1s", ""])
def test_parse_duration_rejects(bad):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


@pytest.mark.parametrize(
    ("alias", "canon"),
    [("bfloat16", "bf16"), ("float32", "fp32"), ("FP16", "fp16"), ("tf32", "tf32"), ("double", "fp64")],
)
def test_normalize_dtype(alias, canon):
    assert normalize_dtype(alias) == canon


def test_normalize_dtype_numpy_and_error():
    import numpy as np

    assert normalize_dtype(np.float32) == "fp32"
    assert normalize_dtype(np.dtype("float32")) == "fp32"
    assert normalize_dtype(np.dtype("float16")) == "fp16"
    with pytest.raises(ValueError, match="bf16"):
        normalize_dtype("complex64")


def test_formatting():
    assert format_bytes(GIB) == "1.00 GiB"
    assert format_bytes(1e12, binary=False) == "1.00 TB"
    assert format_bytes(10) == "10 B"
    assert format_duration(0.042) == "42.0 ms"
    assert format_duration(3 * 86400) == "3.0 d"
    assert format_duration(5) == "5.0 s"


def test_did_you_mean():
    names = ["H100-SXM", "H100-PCIe", "H200-SXM", "A100-80GB", "L40S"]
    assert did_you_mean("h100-sx", names)[0] == "H100-SXM"
    assert "A100-80GB" in did_you_mean("a100-80", names)
    assert did_you_mean("zzzz", names) == []


def test_unknown_name_error_message():
    err = UnknownNameError("accelerator", "H10", ["H100-SXM", "H200-SXM", "A10G"])
    assert isinstance(err, LookupError)
    assert "unknown accelerator 'H10'" in str(err)
    assert "did you mean" in str(err)
    err = UnknownNameError("model", "qqq", ["llama-2-7b"])
    assert "known: llama-2-7b" in str(err)


def test_catalog_error_names_the_cell():
    err = CatalogError("expected a non-negative number, got '-3'", path="x.csv", row=4, column="price")
    assert str(err) == "x.csv, line 4, column 'price': expected a non-negative number, got '-3'"
    assert isinstance(err, ValueError)
    assert (err.path, err.row, err.column) == ("x.csv", 4, "price")


def test_format_usd():
    from aicost._units import format_usd

    assert format_usd(1.68e6) == "$1.68M"
    assert format_usd(70_200) == "$70.2k"
    assert format_usd(42.4) == "$42"
    assert format_usd(2.49) == "$2.49"
    assert format_usd(2.78) == "$2.78"
    assert format_usd(0.02) == "$0.020"
    assert format_usd(float("inf")) == "n/a"
    assert format_usd(None) == "n/a"
    assert format_usd("abc") == "n/a"


@pytest.mark.parametrize(
    ("value", "column", "expected"),
    [
        (3600.0, "time_s", "60.0 min"),
        (3 * 86400, "deadline_s", "3.0 d"),
        (3e-6, "scale_out_latency_s", "3.0 us"),
        (2.5, "latency_ms", "2.5 ms"),
        (1e5, "cost_usd", "$100.0k"),
        (12.5, "cost_usd", "$12"),
        (55.04, "price_on_demand_usd_per_hour", "$55.04/h"),
        (1.49, "cost_usd_per_hour", "$1.49/h"),
        (6.88, "price_usd_per_gpu_hour", "$6.88/GPU-h"),
        (0.123, "usd_per_million_tokens", "$0.123/1M tokens"),
        (0.023, "price_usd_per_gb_month", "$0.023/GB-month"),
        (0.0004, "price_usd_per_1k_get", "$0.0004/1k GET"),
        (4800.0, "mem_bw_gb_s", "4,800 GB/s"),
        (4.1e12, "mem_bw_bytes_per_s", "4,100 GB/s"),
        (989.4, "bf16_tflops", "989.4 TFLOP/s"),
        (1979.0, "fp8_tflops", "1,979 TFLOP/s"),
        (5.2e10, "peak_flops_per_s", "0.052 TFLOP/s"),
        (3958.0, "int8_tops", "3,958 TOP/s"),
        (400.0, "network_gbps", "400 Gbit/s"),
        (80.0, "memory_gib", "80.00 GiB"),
        (2**30, "kv_cache_bytes", "1.00 GiB"),
        (3.84, "local_nvme_tb", "3.84 TB"),
        (700.0, "tdp_watts", "700 W"),
        (0.438, "mfu", "43.8%"),
        (0.25, "spot_discount", "25.0%"),
        (0.9, "link_util", "90.0%"),
        (95.6, "pct_of_peak", "95.6%"),
        (12345.6, "tokens_per_s", "12,346/s"),
        (1.5, "requests_per_s", "1.5/s"),
        (1.97e-5, "failures_per_gpu_hour", "1.97e-05/GPU-h"),
        (1024, "gpus", "1,024"),
        (0.4375, "efficiency", "0.4375"),
        (3.14e23, "flops", "3.14e+23"),
        (True, "fits", "yes"),
        (None, "cost_usd", "-"),
        (float("nan"), "time_s", "-"),
        (float("inf"), "time_s", "inf"),
        ("aws", "provider", "aws"),
        (("a", "b"), "aliases", "a, b"),
        ((), "aliases", "-"),
    ],
)
def test_format_cell_by_column_unit(value, column, expected):
    from aicost._units import format_cell

    assert format_cell(value, column) == expected


def test_format_cell_numpy_and_dates():
    import datetime as dt

    import numpy as np
    import pandas as pd

    from aicost._units import format_cell

    assert format_cell(np.int64(64), "gpus") == "64"
    assert format_cell(np.float32(0.5), "mfu") == "50.0%"
    assert format_cell(np.bool_(False), "fits") == "no"
    assert format_cell(pd.NA, "cost_usd") == "-"
    assert format_cell(dt.date(2026, 11, 30), "as_of") == "2026-11-30"


def test_format_quantity_one_format_per_unit():
    from aicost._units import format_quantity

    assert format_quantity(4.1e12, "B/s") == "4,100 GB/s"
    assert format_quantity(720e12, "FLOP/s") == "720 TFLOP/s"
    assert format_quantity(42e-6, "s") == "42.0 us"
    assert format_quantity(2**31, "B") == "2.00 GiB"
    assert format_quantity(3e10, "bit/s") == "30 Gbit/s"
    assert format_quantity(12.0, "USD/h") == "$12.00/h"
    assert format_quantity(float("nan"), "B/s") == "-"
    assert format_quantity(3.0, "req") == "3 req"


def test_format_table_drops_empty_columns_and_labels_headers():
    import pandas as pd

    from aicost._units import column_label, format_table

    df = pd.DataFrame({"time_s": [3600.0, 3 * 86400.0], "cost_usd": [1e5, 12.5],
                       "mfu": [0.438, 0.5], "reason": ["", ""], "gpus": [64, 8],
                       "note": [None, float("nan")]}, index=[5, 7])
    out = format_table(df)
    assert list(out.columns) == ["time_s", "cost_usd", "mfu", "gpus"]
    assert list(out.index) == [0, 1]
    assert list(out["time_s"]) == ["60.0 min", "3.0 d"]
    assert list(format_table(df, ["gpus", "missing", "mfu"]).columns) == ["gpus", "mfu"]
    assert "reason" in format_table(df, drop_empty=False).columns
    assert list(format_table(df, labels=True).columns) == ["time", "cost usd", "mfu", "gpus"]
    assert column_label("usd_per_million_tokens") == "usd per million tokens"


def test_format_quantity_of_missing_and_text():
    from aicost._units import format_quantity

    assert format_quantity(None, "B/s") == "-"
    assert format_quantity("n/a", "B/s") == "n/a"


@pytest.mark.parametrize(
    ("value", "column", "expected"),
    [
        (55.03, "memory_per_gpu_gib", "55.03 GiB"),
        (2.5, "requests_per_s_per_replica", "2.5/s/replica"),
        (0.2, "spot_preemption_rate_per_hour", "0.2/h"),
        (3.0, "step_s", "3.0 s"),
    ],
)
def test_format_cell_per_and_unit_suffixes(value, column, expected):
    from aicost._units import format_cell

    assert format_cell(value, column) == expected
