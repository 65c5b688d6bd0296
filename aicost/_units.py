"""Unit constants and parsers shared by every layer.

Inside aicost everything is in SI base units: bytes, seconds, FLOP, USD. Rates
use decimal prefixes (GB/s = 1e9 B/s, TFLOP/s = 1e12 FLOP/s) as fio and
nccl-tests do; memory capacities are GiB (2**30) and say so.
"""

from __future__ import annotations

import math
import re

__all__ = [
    "DTYPES",
    "DTYPE_BYTES",
    "GB",
    "GIB",
    "HOUR_S",
    "KIB",
    "MIB",
    "TB",
    "TFLOP",
    "TIB",
    "format_bytes",
    "format_duration",
    "format_usd",
    "normalize_dtype",
    "parse_bytes",
    "parse_duration",
]

KB, MB, GB, TB = 1e3, 1e6, 1e9, 1e12
KIB, MIB, GIB, TIB = 2**10, 2**20, 2**30, 2**40
TFLOP = 1e12
HOUR_S = 3600.0
DAY_S = 86400.0

#: canonical dtype names and their aliases
_DTYPE_ALIASES = {
    "fp64": ("fp64", "float64", "f64", "double", "d"),
    "fp32": ("fp32", "float32", "f32", "float", "single", "f"),
    "tf32": ("tf32", "tensorfloat32"),
    "bf16": ("bf16", "bfloat16"),
    "fp16": ("fp16", "float16", "f16", "half", "e"),
    "fp8": ("fp8", "float8", "e4m3", "float8_e4m3fn", "fp8_e4m3"),
    "int8": ("int8", "i8", "s8"),
}
DTYPES = tuple(_DTYPE_ALIASES)
#: bytes per element of each storage dtype (tf32 is stored as fp32)
DTYPE_BYTES = {"fp64": 8, "fp32": 4, "tf32": 4, "bf16": 2, "fp16": 2, "fp8": 1, "int8": 1}
_DTYPE_LOOKUP = {alias: canon for canon, aliases in _DTYPE_ALIASES.items() for alias in aliases}


def normalize_dtype(dtype: object) -> str:
    """Return the canonical dtype name (``"bf16"``, ``"fp32"``, ...).

    Accepts aicost names, NumPy names and NumPy dtypes.

    Raises
    ------
    ValueError
        For an unknown dtype, listing the known ones.
    """
    if isinstance(dtype, type):  # numpy scalar types such as np.float32, ml_dtypes.bfloat16
        key = dtype.__name__.lower()
    else:
        key = str(getattr(dtype, "name", dtype)).strip().lower()
    try:
        return _DTYPE_LOOKUP[key]
    except KeyError:
        raise ValueError(
            f"unknown dtype {dtype!r}; use one of {', '.join(DTYPES)}"
        ) from None


_BYTE_UNITS = {
    "": 1, "b": 1,
    "k": KIB, "kb": KB, "kib": KIB,
    "m": MIB, "mb": MB, "mib": MIB,
    "g": GIB, "gb": GB, "gib": GIB,
    "t": TIB, "tb": TB, "tib": TIB,
    "p": 2**50, "pb": 1e15, "pib": 2**50,
}
_NUM = r"([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)"


def parse_bytes(text: str | int | float) -> int:
    """Parse a size such as ``"1GiB"``, ``"4k"``, ``"1.5 TB"`` or ``4096`` into bytes.

    Single letters (``k``, ``m``, ``g``, ``t``) are binary, as in fio.

    Raises
    ------
    ValueError
        If the text is not a non-negative size.
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if text < 0 or not math.isfinite(text):
            raise ValueError(f"size must be a non-negative number of bytes, got {text!r}")
        return int(text)
    m = re.fullmatch(_NUM + r"\s*([a-zA-Z]*)", str(text).strip())
    if not m or m.group(2).lower() not in _BYTE_UNITS:
        raise ValueError(
            f"cannot read size {text!r}: write a number with an optional unit "
            "(B, KiB, MiB, GiB, TiB, KB, MB, GB, TB; k/m/g/t are binary), e.g. '1GiB'"
        )
    return int(float(m.group(1)) * _BYTE_UNITS[m.group(2).lower()])


_TIME_UNITS = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "": 1.0, "s": 1.0, "sec": 1.0,
    "m": 60.0, "min": 60.0, "h": 3600.0, "hr": 3600.0, "d": 86400.0, "day": 86400.0,
    "days": 86400.0, "w": 7 * 86400.0, "week": 7 * 86400.0, "weeks": 7 * 86400.0,
}


def parse_duration(text: str | int | float) -> float:
    """Parse ``"30d"``, ``"50ms"``, ``"1.5h"``, ``"90"`` (seconds) into seconds.

    Raises
    ------
    ValueError
        If the text is not a non-negative duration.
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if text < 0 or not math.isfinite(text):
            raise ValueError(f"duration must be a non-negative number of seconds, got {text!r}")
        return float(text)
    m = re.fullmatch(_NUM + r"\s*([a-zA-Zµ]*)", str(text).strip())
    if not m or m.group(2).lower() not in _TIME_UNITS:
        raise ValueError(
            f"cannot read duration {text!r}: write a number with a unit "
            "(ns, us, ms, s, min, h, d, w), e.g. '30d' or '50ms'"
        )
    return float(m.group(1)) * _TIME_UNITS[m.group(2).lower()]


def format_bytes(n: float, binary: bool = True) -> str:
    """Format a byte count for people: ``format_bytes(2**30) == '1.00 GiB'``."""
    base, units = (1024.0, ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]) if binary else (
        1000.0, ["B", "KB", "MB", "GB", "TB", "PB"])
    x = float(n)
    for unit in units:
        if abs(x) < base or unit == units[-1]:
            return f"{x:.0f} {unit}" if unit == "B" else f"{x:.2f} {unit}"
        x /= base
    raise AssertionError("unreachable")


def format_duration(seconds: float) -> str:
    """Format seconds for people: ``'42.0 ms'``, ``'3.2 h'``, ``'12.5 d'``."""
    s = float(seconds)
    if not math.isfinite(s):
        return str(s)
    a = abs(s)
    if a < 1e-3:
        return f"{s * 1e6:.1f} us"
    if a < 1:
        return f"{s * 1e3:.1f} ms"
    if a < 120:
        return f"{s:.1f} s"
    if a < 2 * 3600:
        return f"{s / 60:.1f} min"
    if a < 2 * 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} d"


def format_usd(x: object) -> str:
    """Format dollars for people: ``'$1.68M'``, ``'$70.2k'``, ``'$42'``, ``'$2.490'``; ``'n/a'``
    for a missing, non-numeric or infinite amount."""
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "n/a"
    if not math.isfinite(v):
        return "n/a"
    if abs(v) >= 1e6:
        return f"${v / 1e6:,.2f}M"
    if abs(v) >= 1e4:
        return f"${v / 1e3:,.1f}k"
    if abs(v) >= 10:
        return f"${v:,.0f}"
    return f"${v:,.3f}"
