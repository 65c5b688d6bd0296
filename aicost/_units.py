"""Unit constants and parsers shared by every layer.

Inside aicost everything is in SI base units: bytes, seconds, FLOP, USD. Rates
use decimal prefixes (GB/s = 1e9 B/s, TFLOP/s = 1e12 FLOP/s) as fio and
nccl-tests do; memory capacities are GiB (2**30) and say so.
"""

from __future__ import annotations

import datetime as _dt
import math
import numbers
import re
from collections.abc import Iterable

__all__ = [
    "DTYPES",
    "DTYPE_BYTES",
    "GB",
    "GIB",
    "HOURS_PER_MONTH",
    "HOUR_S",
    "KIB",
    "MIB",
    "MONTH_S",
    "TB",
    "TFLOP",
    "TIB",
    "column_label",
    "format_bytes",
    "format_cell",
    "format_duration",
    "format_price",
    "format_quantity",
    "format_table",
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
#: Hours in a billing month: 8760 h / 12, the convention of AWS, Google Cloud and Azure price
#: pages for per-month prices (storage GB-months, monthly estimates). The one billing month of
#: aicost (storage, planner, reliability rates quoted per month).
HOURS_PER_MONTH = 730.0
MONTH_S = HOURS_PER_MONTH * HOUR_S

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
    """Format dollars for people: ``'$1.68M'``, ``'$70.2k'``, ``'$42'``, ``'$2.49'``, ``'$0.020'``; ``'n/a'``
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
    if abs(v) >= 1:  # an hourly price: cents ("$2.49/h", not "$2.490/h")
        return f"${v:,.2f}"
    return f"${v:,.3f}"  # sub-dollar amounts (per 1M tokens) keep a tenth of a cent


# ----------------------------------------------------------------------------- table cells
#: how a missing cell (None, NaN) reads in every table aicost prints
MISSING = "-"

#: columns holding a fraction of 1 that read as a percent ("mfu" 0.438 -> "43.8%")
FRACTION_COLUMNS = frozenset({"mfu", "hfu", "goodput", "utilization", "spot_discount"})
_FRACTION_SUFFIXES = ("_frac", "_fraction", "_util", "_utilization")

#: "per" parts of column names (``usd_per_<per>``, ``failures_per_<per>``) and how they read
_PER_LABELS = {
    "s": "/s", "hour": "/h", "h": "/h", "gpu": "/GPU", "gpu_hour": "/GPU-h", "node_hour": "/node-h",
    "day": "/day", "month": "/month", "gb_month": "/GB-month",
    "million_tokens": "/1M tokens", "million_input_tokens": "/1M input tokens",
    "million_output_tokens": "/1M output tokens", "1m_input": "/1M input tokens",
    "1m_output": "/1M output tokens", "1k_get": "/1k GET", "1k_put": "/1k PUT",
    "bf16_pflop_hour": "/bf16 PFLOP/s-h", "tb_s_hour": "/(TB/s)-h",
}
#: qualifiers after the "per" part that do not change the unit (``..._hour_spot``)
_QUALIFIERS = ("_spot", "_on_demand", "_at_capacity")

# (column suffix, unit, factor to the unit's base): the first match wins; rates come before
# the generic "_per_<x>" rule, which comes before the plain units
_RATE_UNITS: tuple[tuple[str, str, float], ...] = (
    ("_bytes_per_s", "B/s", 1.0),
    ("_gb_s", "B/s", 1e9),
    ("_bits_per_s", "bit/s", 1.0),
    ("_gbps", "bit/s", 1e9),
    ("_flops_per_s", "FLOP/s", 1.0),
    ("_tflops", "FLOP/s", TFLOP),
    ("_tops", "OP/s", 1e12),
)
_SUFFIX_UNITS: tuple[tuple[str, str, float], ...] = (
    ("_bytes", "B", 1.0),
    ("_gib", "B", GIB),
    ("_mib", "B", MIB),
    ("_gb", "B (decimal)", GB),
    ("_tb", "B (decimal)", TB),
    ("_ms", "s", 1e-3),
    ("_us", "s", 1e-6),
    ("_s", "s", 1.0),
    ("_pct", "%", 1.0),
    ("_watts", "W", 1.0),
)


def _num(x: float) -> str:
    """A plain number for people: ``'4,800'``, ``'989.4'``, ``'0.05234'``, ``'1.234e+23'``."""
    a = abs(x)
    if a >= 1e9:
        return f"{x:.4g}"
    if a >= 1000:
        return f"{x:,.0f}"
    return f"{x:.4g}"


def format_price(x: float, per: str = "") -> str:
    """Format a price (dollars per something) to the cent: ``'$55.04/h'``, ``'$0.023/GB-month'``.

    Parameters
    ----------
    x : float [USD per ``per``]
        The price.
    per : str
        What the price is per, as written after the amount (``"/h"``); empty for none.
    """
    v = float(x)
    if not math.isfinite(v):
        return "n/a"
    a = abs(v)
    if a >= 1e4:
        amount = format_usd(v)
    elif a >= 1 or a == 0:
        amount = f"${v:,.2f}"
    elif a >= 0.01:
        amount = f"${v:.3f}"
    else:
        amount = f"${v:.2g}"
    return amount + per


def _per_label(per: str) -> str:
    for q in _QUALIFIERS:
        per = per.removesuffix(q)
    return _PER_LABELS.get(per, "/" + per.replace("_", " "))


def format_quantity(value: float, unit: str) -> str:
    """Format a number in SI base units with its unit, one format per unit.

    Parameters
    ----------
    value : float
        The number in the unit's base (bytes, seconds, FLOP/s, B/s, bit/s, USD).
    unit : str
        ``"B/s"`` (shown in GB/s), ``"FLOP/s"`` (TFLOP/s), ``"OP/s"`` (TOP/s), ``"bit/s"``
        (Gbit/s), ``"s"`` (a duration), ``"B"`` (binary prefixes), ``"B (decimal)"`` (GB,
        TB), ``"USD"``, ``"USD/h"`` and other ``"USD/..."`` prices, ``"%"`` (a percent),
        ``"1"`` (a fraction shown as a percent), ``"W"``; any other unit is written after the
        number.

    Examples
    --------
    >>> format_quantity(4.8e12, "B/s"), format_quantity(989.4e12, "FLOP/s")
    ('4,800 GB/s', '989.4 TFLOP/s')
    """
    if _is_missing(value):
        return MISSING
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):  # a cell that is not a number is shown as it is
        return str(value)
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if unit == "B/s":
        return f"{_num(v / GB)} GB/s"
    if unit == "FLOP/s":
        return f"{_num(v / TFLOP)} TFLOP/s"
    if unit == "OP/s":
        return f"{_num(v / 1e12)} TOP/s"
    if unit == "bit/s":
        return f"{_num(v / 1e9)} Gbit/s"
    if unit == "s":
        return format_duration(v)
    if unit == "B":
        return format_bytes(v)
    if unit == "B (decimal)":
        return format_bytes(v, binary=False)
    if unit == "USD":
        return format_usd(v)
    if unit.startswith("USD/"):
        return format_price(v, unit[3:])
    if unit == "%":
        return f"{v:.1f}%"
    if unit == "1":
        return f"{100 * v:.1f}%"
    if unit in ("", "count"):
        return _num(v)
    return f"{_num(v)} {unit}" if unit[0].isalnum() else f"{_num(v)}{unit}"


def column_unit(column: str) -> tuple[str, float]:
    """The unit a column's name carries and the factor from its values to the unit's base.

    ``column_unit("mem_bw_gb_s") == ("B/s", 1e9)``; a column without a unit gives ``("", 1.0)``.
    """
    col = str(column).lower()
    if col in ("s", "b"):  # too short to be a unit
        return "", 1.0
    if col in FRACTION_COLUMNS or col.endswith(_FRACTION_SUFFIXES):
        return "1", 1.0
    if "usd" in col:
        _, _, per = col.partition("usd_per_")
        return ("USD" + _per_label(per) if per else "USD"), 1.0
    for suffix, unit, factor in _RATE_UNITS:
        if col.endswith(suffix) or col == suffix[1:]:
            return unit, factor
    if col.startswith("pct_"):  # pct_of_peak
        return "%", 1.0
    if not col.endswith("_per_s"):  # tokens_per_s is a rate, not a duration
        for suffix, unit, factor in _SUFFIX_UNITS:
            if col.endswith(suffix) or col == suffix[1:]:
                return unit, factor  # memory_per_gpu_gib: GiB (per GPU says whose)
    _, sep, per = col.partition("_per_")
    if sep:  # tokens_per_s, failures_per_gpu_hour, requests_per_s_per_replica
        return "".join(_per_label(p) for p in per.split("_per_")), 1.0
    return "", 1.0


def _is_missing(value: object) -> bool:
    if value is None or type(value).__name__ == "NAType":  # pandas.NA
        return True
    try:
        return bool(value != value)  # NaN, pandas NA and NaT
    except (TypeError, ValueError):  # arrays and objects without a truth value
        return False


def format_cell(value: object, column: str) -> str:
    """Format one table cell for people by the unit its column name carries.

    The one formatter of plans, reports, the CLI, records and widgets: ``*_s`` a duration,
    ``*_usd`` dollars, ``*_usd_per_hour`` a price per hour, ``*_bytes_per_s`` and ``*_gb_s``
    GB/s, ``*_tflops`` TFLOP/s, ``*_bytes`` and ``*_gib`` binary sizes, ``*_pct`` a percent,
    ``mfu``/``goodput``/``*_frac`` fractions as percents, ``*_per_s`` rates; integers
    elsewhere are counts (``'1,024'``), booleans ``yes``/``no``, missing values ``-``.

    Parameters
    ----------
    value : object
        The cell (a number, bool, string, date, tuple of names, None or NaN).
    column : str
        The column (or field) name, with its unit as a suffix.

    Examples
    --------
    >>> format_cell(3 * 86400.0, "time_s"), format_cell(0.438, "mfu")
    ('3.0 d', '43.8%')
    >>> format_cell(55.04, "price_usd_per_hour"), format_cell(1.2e6, "cost_usd")
    ('$55.04/h', '$1.20M')
    """
    if _is_missing(value):
        return MISSING
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or getattr(getattr(value, "dtype", None), "kind", "") == "b":
        return "yes" if value else "no"
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, (tuple, list, frozenset, set)):
        return ", ".join(map(str, value)) if value else MISSING
    if not isinstance(value, numbers.Real):
        return str(value)
    unit, factor = column_unit(column)
    if unit == "" and isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    return format_quantity(float(value) * factor, unit)


def column_label(column: str) -> str:
    """A column's header for people: ``'time_s'`` -> ``'time'``, ``'cost_usd'`` -> ``'cost usd'``."""
    return str(column).removesuffix("_s").replace("_", " ")


def format_table(df, columns: Iterable[str] | None = None, *, drop_empty: bool = True,
                 labels: bool = False):
    """A copy of a DataFrame with every cell formatted by :func:`format_cell` (all strings).

    Parameters
    ----------
    df : pandas.DataFrame
        The rows.
    columns : iterable of str, optional
        The columns to keep, in order (absent ones are skipped); default all.
    drop_empty : bool
        Drop the columns where every cell is missing or an empty string (a table of
        feasible plans has no ``reason`` to show).
    labels : bool
        Replace the headers by :func:`column_label` (``time_s`` -> ``time``).
    """
    import pandas as pd

    cols = [c for c in (df.columns if columns is None else columns) if c in df.columns]
    out = pd.DataFrame({c: [format_cell(v, str(c)) for v in df[c].tolist()] for c in cols},
                       index=df.index, columns=cols)
    if drop_empty:
        keep = [c for c in cols if not all(_is_missing(v) or v == "" for v in df[c].tolist())]
        out = out[keep]
    if labels:
        out.columns = [column_label(c) for c in out.columns]
    return out.reset_index(drop=True)
