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
    assert format_usd(2.49) == "$2.490"
    assert format_usd(float("inf")) == "n/a"
    assert format_usd(None) == "n/a"
    assert format_usd("abc") == "n/a"
