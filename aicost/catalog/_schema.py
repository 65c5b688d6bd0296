"""The columns of the four catalog CSVs and how each cell is checked.

Each CSV holds human units in columns named with the unit (``bf16_tflops``,
``mem_bw_gb_s``, ``latency_us``); the records (``_records``) convert them to SI.
A :class:`Column` says what a cell must hold; :func:`convert_cell` turns the
text of one cell into its value or raises :class:`aicost.CatalogError` naming
the file, line and column.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import dataclass

from .._errors import CatalogError

__all__ = [
    "ACCELERATOR_COLUMNS",
    "FABRIC_COLUMNS",
    "INSTANCE_COLUMNS",
    "STORAGE_COLUMNS",
    "TABLES",
    "TABLE_ALIASES",
    "Column",
    "TableSpec",
    "convert_cell",
    "normalize_name",
]


@dataclass(frozen=True)
class Column:
    """One CSV column.

    Parameters
    ----------
    name : str
        Header name (with its unit, e.g. ``mem_bw_gb_s``).
    kind : str
        ``str``, ``float``, ``int``, ``date`` (ISO ``YYYY-MM-DD``), ``list``
        (``|``-separated names) or ``choice`` (one of ``choices``).
    required : bool
        A new row must give a value (an override row may leave it empty).
    choices : tuple of str
        Allowed values of a ``choice`` column (compared case-insensitively).
    positive : bool
        Numbers must be > 0 (otherwise >= 0).
    doc : str
        What the column holds, with its unit.
    """

    name: str
    kind: str = "str"
    required: bool = False
    choices: tuple[str, ...] = ()
    positive: bool = False
    doc: str = ""


@dataclass(frozen=True)
class TableSpec:
    """One catalog table: its file, its columns, and the columns forming its key."""

    name: str
    filename: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


_SOURCE = Column("source", "str", True, doc="where the numbers come from (URL or document); "
                 "an estimate says 'estimate:'")
_AS_OF = Column("as_of", "date", True, doc="date the numbers were read, YYYY-MM-DD")
#: the row's columns whose values are estimates (not read from the cited source); the planner
#: flags plans built on an estimated price, peak or memory bandwidth and can leave them out
#: (``plan_training(..., estimates=False)``)
_ESTIMATED = Column("estimated", "list",
                    doc="the columns of this row whose values are estimates, '|'-separated "
                        "(instances may name a pricing: on_demand, spot, reserved_1y); empty: "
                        "every number is read from the source; `source` says how each estimate "
                        "was made")

ACCELERATOR_COLUMNS = (
    Column("name", "str", True, doc="canonical name, e.g. H100-SXM"),
    Column("vendor", "str", True, doc="NVIDIA, AMD, Google, AWS, Intel"),
    Column("aliases", "list", doc="other names, '|'-separated, including the name CUDA/ROCm reports"),
    Column("fp64_tflops", "float", doc="dense FP64 peak, tensor/matrix units where they exist [TFLOP/s]"),
    Column("fp32_tflops", "float", doc="FP32 peak without tensor cores (vector) [TFLOP/s]"),
    Column("tf32_tflops", "float", doc="dense TF32 tensor peak [TFLOP/s]"),
    Column("bf16_tflops", "float", doc="dense BF16 tensor peak [TFLOP/s]"),
    Column("fp16_tflops", "float", doc="dense FP16 tensor peak [TFLOP/s]"),
    Column("fp8_tflops", "float", doc="dense FP8 tensor peak [TFLOP/s]"),
    Column("fp4_tflops", "float", doc="dense FP4 tensor peak (NVFP4/MXFP4), empty where the "
           "chip has none [TFLOP/s]"),
    Column("int8_tops", "float", doc="dense INT8 tensor peak [TOP/s]"),
    Column("memory_gb", "float", doc="device memory as the datasheet prints it [GB, vendor's unit]"),
    Column("memory_gib", "float", True, positive=True,
           doc="device memory the software sees (nvidia-smi / rocm-smi total) [GiB]"),
    Column("mem_bw_gb_s", "float", True, positive=True, doc="peak memory bandwidth [GB/s]"),
    Column("scale_up_gb_s", "float",
           doc="scale-up interconnect (NVLink, Infinity Fabric, ICI, ...) per device, ONE direction [GB/s]"),
    Column("tdp_watts", "float", doc="board power [W]"),
    _ESTIMATED,
    _SOURCE,
    _AS_OF,
)

INSTANCE_COLUMNS = (
    Column("provider", "str", True, doc="aws, gcp, azure, oci, lambda, coreweave, runpod, ..."),
    Column("instance_type", "str", True, doc="the provider's name for the offer"),
    Column("region", "str", True, doc="region the price applies to"),
    Column("accelerator", "str", True, doc="accelerator name (any alias; stored canonical)"),
    Column("accelerator_count", "int", True, positive=True, doc="accelerators per instance"),
    Column("vcpus", "float", doc="virtual CPUs"),
    Column("memory_gib", "float", doc="host memory [GiB]"),
    Column("network_gbps", "float", doc="scale-out network per instance [Gbit/s]"),
    Column("local_nvme_tb", "float", doc="local NVMe capacity [TB]"),
    Column("price_on_demand_usd_per_hour", "float", True, doc="on-demand price per instance [USD/h]"),
    Column("price_spot_usd_per_hour", "float", doc="spot/preemptible price, empty if not offered [USD/h]"),
    Column("price_reserved_1y_usd_per_hour", "float",
           doc="1-year reserved/committed price, empty if not published [USD/h]"),
    Column("scale_up_fabric", "str", doc="fabric name between the accelerators of one instance"),
    Column("scale_out_fabric", "str", doc="fabric name between instances"),
    _ESTIMATED,
    _SOURCE,
    _AS_OF,
)

STORAGE_KINDS = ("local", "block", "file", "object")
THROUGHPUT_BASES = ("volume", "per_tib", "per_node")

STORAGE_COLUMNS = (
    Column("name", "str", True, doc="canonical name, e.g. fsx-lustre"),
    Column("provider", "str", True, doc="aws, gcp, azure, any, ..."),
    Column("kind", "choice", True, choices=STORAGE_KINDS, doc="local | block | file | object"),
    Column("aliases", "list", doc="other names, '|'-separated"),
    Column("throughput_mb_s", "float", True,
           doc="read throughput [MB/s] per volume, per TiB provisioned or per client node (see basis)"),
    Column("throughput_basis", "choice", True, choices=THROUGHPUT_BASES,
           doc="volume: each volume gives throughput_mb_s; per_tib: scales with capacity; "
               "per_node: each client node gets throughput_mb_s"),
    Column("max_throughput_mb_s", "float", doc="ceiling per volume / file system / node [MB/s]"),
    Column("iops", "float", doc="baseline IOPS per volume (or per TiB for per_tib)"),
    Column("max_iops", "float", doc="ceiling IOPS per volume / file system"),
    Column("latency_ms", "float", doc="typical small-read latency [ms]"),
    Column("price_usd_per_gb_month", "float", True, doc="capacity price [USD per GB-month]"),
    Column("price_usd_per_1k_put", "float", doc="write/PUT request price [USD per 1000 requests]"),
    Column("price_usd_per_1k_get", "float", doc="read/GET request price [USD per 1000 requests]"),
    Column("min_capacity_gib", "float", doc="smallest volume / file system [GiB]"),
    _SOURCE,
    _AS_OF,
)

FABRIC_KINDS = ("scale_up", "scale_out")
FABRIC_BASES = ("per_gpu", "per_node")

FABRIC_COLUMNS = (
    Column("name", "str", True, doc="canonical name, e.g. nvlink4, ib-ndr, efa-v2"),
    Column("kind", "choice", True, choices=FABRIC_KINDS, doc="scale_up (inside a node) | scale_out"),
    Column("aliases", "list", doc="other names, '|'-separated"),
    Column("bandwidth_gb_s", "float", True, positive=True,
           doc="bandwidth in ONE direction per GPU or per node (see basis) [GB/s]"),
    Column("basis", "choice", True, choices=FABRIC_BASES, doc="per_gpu | per_node"),
    Column("latency_us", "float", doc="small-message latency [us]"),
    Column("scale_up_domain_gpus", "int", positive=True,
           doc="scale_up fabrics: accelerators in one scale-up domain when it spans more than "
               "one instance (72 for an NVL72 rack); empty: the instance's own accelerators"),
    _SOURCE,
    _AS_OF,
)

TABLES = {
    "accelerators": TableSpec("accelerators", "accelerators.csv", ACCELERATOR_COLUMNS, ("name",)),
    "instances": TableSpec("instances", "instances.csv", INSTANCE_COLUMNS,
                           ("provider", "instance_type", "region")),
    "storage": TableSpec("storage", "storage_tiers.csv", STORAGE_COLUMNS, ("name",)),
    "fabrics": TableSpec("fabrics", "fabrics.csv", FABRIC_COLUMNS, ("name",)),
}

#: names accepted for the tables (``Catalog.table``, the ``table`` column of a user CSV)
TABLE_ALIASES = {
    "accelerators": "accelerators", "accelerator": "accelerators", "gpus": "accelerators",
    "instances": "instances", "instance": "instances", "offers": "instances",
    "storage": "storage", "storage_tiers": "storage", "storage_tier": "storage",
    "storage-tiers": "storage", "fabrics": "fabrics", "fabric": "fabrics", "network": "fabrics",
}

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def convert_cell(col: Column, text: str, *, path: str, line: int):
    """Convert the text of one cell; return ``None`` for an empty cell.

    Raises
    ------
    CatalogError
        Naming ``path``, ``line`` and the column, with what was expected.
    """
    text = text.strip()
    if text == "":
        return None

    def fail(expected: str) -> CatalogError:
        return CatalogError(f"expected {expected}, got {text!r}", path=path, row=line,
                            column=col.name)

    if col.kind == "str":
        return text
    if col.kind == "list":
        return tuple(p.strip() for p in text.split("|") if p.strip())
    if col.kind == "choice":
        low = text.lower()
        if low not in col.choices:
            raise fail("one of " + ", ".join(col.choices))
        return low
    if col.kind == "date":
        if not _DATE.fullmatch(text):
            raise fail("a date YYYY-MM-DD")
        try:
            return _dt.date.fromisoformat(text)
        except ValueError:
            raise fail("a valid date YYYY-MM-DD") from None
    if col.kind in ("float", "int"):
        what = "a positive" if col.positive else "a non-negative"
        what += " integer" if col.kind == "int" else " number"
        if not _NUMBER.fullmatch(text):
            raise fail(what)
        value = float(text)
        if not math.isfinite(value) or value < 0 or (col.positive and value == 0):
            raise fail(what)
        if col.kind == "int":
            if value != int(value):
                raise fail(what)
            return int(value)
        return value
    raise AssertionError(f"unknown column kind {col.kind!r}")  # pragma: no cover


_VENDOR_WORDS = re.compile(r"^(nvidia|amd|instinct|tesla|google|intel|aws|habana)\b[\s_-]*")
_SEPARATORS = re.compile(r"[\s_\-/.]+")


def normalize_name(name: str) -> str:
    """Fold a name for matching: lower case, no vendor prefix, no spaces/dashes/underscores.

    ``"NVIDIA H100 80GB HBM3"`` -> ``"h10080gbhbm3"``; ``"h100_sxm"`` -> ``"h100sxm"``;
    ``"AMD Instinct MI300X"`` -> ``"mi300x"``.
    """
    s = str(name).strip().lower()
    prev = None
    while prev != s:  # "AMD Instinct MI300X": strip both words
        prev = s
        s = _VENDOR_WORDS.sub("", s)
    return _SEPARATORS.sub("", s) or str(name).strip().lower()
