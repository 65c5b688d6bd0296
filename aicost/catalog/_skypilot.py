"""Import a SkyPilot catalog ``vms.csv`` (schema v6, v7 and v8) as aicost instance rows.

SkyPilot's catalogs (github.com/skypilot-org/skypilot-catalog, ``catalogs/v7|v8/<cloud>/vms.csv``)
have one row per instance type and availability zone with the columns ``InstanceType,
AcceleratorName, AcceleratorCount, vCPUs, MemoryGiB, GpuInfo, Price, SpotPrice, Region,
AvailabilityZone`` (some clouds add columns such as ``StorageGiB``; they are ignored).

What happens to each row
------------------------
- No accelerator (CPU-only types): dropped, reason ``cpu-only``.
- Accelerator names are mapped to catalog names with the instance type's hints and the
  GPU memory in ``GpuInfo``: ``H100`` is the SXM part unless the type says ``pcie`` (->
  ``H100-PCIe``) or ``nvl`` / 94 GB (-> ``H100-NVL``); ``A100`` is the 40 GB part unless
  GpuInfo says 80 GB; ``V100`` with 32 GB -> ``V100-32GB``; ``tpu-v5litepod-8`` -> 8 x
  ``TPU-v5e``; every other name through the catalog's names and aliases (``GH200``,
  ``L40S``, ``A6000``, ``RTX4090``, ...). A name the catalog lacks drops the row, reason
  ``unknown-accelerator``, and the summary names it.
- On-demand ``Price`` empty, NaN, not a number, zero/negative, or a placeholder (outside
  :data:`PLAUSIBLE_USD_PER_GPU_HOUR`): dropped; aicost never invents a price.
- ``SpotPrice`` empty, NaN, zero, a placeholder, or above the on-demand price: the row is
  KEPT without a spot price and its ``source`` says why.
- Availability zones are aggregated to regions: the lowest on-demand and the lowest spot
  price over the region's zones.
- SkyPilot has no cluster-network columns: instance types the catalog already knows (same
  provider and type, any region) and the families in :data:`FAMILY_FABRICS` get their
  fabrics and network from aicost's tables; the rest stay single-node offers.

The summary of an import (kept, dropped by reason, unknown accelerators) is an
:class:`ImportSummary`, in ``df.attrs["summary"]``; ``print()`` it or show it in Jupyter.
"""

from __future__ import annotations

import ast
import csv
import datetime as _dt
import functools
import html
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .._errors import CatalogError
from .._paths import data_dir
from ._csvfile import read_rows
from ._schema import INSTANCE_COLUMNS, normalize_name

__all__ = [
    "FAMILY_FABRICS",
    "PLAUSIBLE_USD_PER_GPU_HOUR",
    "SKYPILOT_ACCELERATOR_NAMES",
    "SKYPILOT_REQUIRED_COLUMNS",
    "ImportSummary",
    "from_skypilot",
    "import_skypilot",
]

SKYPILOT_REQUIRED_COLUMNS = ("InstanceType", "AcceleratorName", "AcceleratorCount", "vCPUs",
                             "MemoryGiB", "Price", "SpotPrice", "Region")

#: Range of believable prices per accelerator-hour [USD]. Public GPU prices in 2025-26 run
#: from about $0.10 (T4 spot) to about $20 (B300 on demand); SkyPilot catalogs have carried
#: placeholder values (0, 0.0001, 9999, 99999) for types not for sale. Outside this range a
#: price is treated as a placeholder.
PLAUSIBLE_USD_PER_GPU_HOUR = (0.01, 200.0)

#: SkyPilot accelerator names whose catalog name differs (SkyPilot's own convention:
#: "A100" is the 40 GB part, "A100-80GB" the 80 GB one; "H100" is the SXM part unless the
#: instance type says otherwise, see :func:`_hinted_name`).
SKYPILOT_ACCELERATOR_NAMES = {
    "H100": "H100-SXM",
    "H100-SXM": "H100-SXM",
    "H100-MEGA": "H100-SXM",
    "H100-80GB": "H100-SXM",
    "H100-NVL": "H100-NVL",
    "H100-PCIE": "H100-PCIe",
    "H200": "H200-SXM",
    "A100": "A100-40GB",
    "A100-80GB": "A100-80GB",
    "A100-80GB-PCIE": "A100-80GB-PCIe",
    "Trainium": "Trainium1",
    "Trainium1": "Trainium1",
    "Trainium2": "Trainium2",
    "Trainium3": "Trainium3",
    "RTXPRO6000": "RTX-PRO-6000",
    "RTX6000Ada": "RTX6000-Ada",
    "RTX6000-Ada": "RTX6000-Ada",
}

#: Instance families whose cluster network aicost knows (SkyPilot's files do not say):
#: (provider, regex on the instance type) -> (scale_up_fabric, scale_out_fabric, network_gbps).
#: Sources: the shipped instances.csv rows of the same families (AWS, GCP, Azure, Lambda,
#: CoreWeave instance pages). Types the shipped catalog lists get their fabrics from it first.
FAMILY_FABRICS: tuple[tuple[str, str, tuple[str | None, str | None, float | None]], ...] = (
    ("aws", r"p5\.48xlarge", ("nvlink4", "efa-v2", 3200.0)),
    ("aws", r"p5e\.48xlarge|p5en\.48xlarge", ("nvlink4", "efa-v3", 3200.0)),
    ("aws", r"p6-b200\.48xlarge|p6-b300\.48xlarge", ("nvlink5", "efa-v4", 3200.0)),
    ("aws", r"p4de?\.24xlarge", ("nvlink3", "efa", 400.0)),
    ("gcp", r"a3-highgpu-8g", ("nvlink4", "gpudirect-tcpx", 800.0)),
    ("gcp", r"a3-megagpu-8g", ("nvlink4", "gpudirect-tcpxo", 1600.0)),
    ("gcp", r"a3-ultragpu-8g|a4-highgpu-8g", ("nvlink4", "roce-400", 3200.0)),
    ("gcp", r"a2-(high|ultra|mega)gpu-(8|16)g", ("nvlink3", None, None)),
    ("azure", r"standard_nd96is?r_h(100|200)_v5", ("nvlink4", "ib-ndr", 3200.0)),
    ("azure", r"standard_nd96am?sr_a100_v4", ("nvlink3", "ib-hdr", 1600.0)),
    ("lambda", r"gpu_8x_h100_sxm5", ("nvlink4", None, None)),
    ("lambda", r"gpu_8x_a100(_80gb_sxm4)?", ("nvlink3", None, None)),
    ("lambda", r"gpu_8x_b200_sxm6", ("nvlink5", None, None)),
    ("nebius", r"gpu-h[12]00-sxm_8gpu-.*", ("nvlink4", None, None)),
    ("nebius", r"gpu-b200-sxm_8gpu-.*", ("nvlink5", None, None)),
)

#: TPU slices in SkyPilot are named tpu-<gen>-<N>; N counts chips for v5e/v6e and
#: TensorCores (2 per chip) for v4/v5p.
_TPU = re.compile(r"tpu-(v5litepod|v5e|v5p|v6e|v4)-(\d+)", re.IGNORECASE)
_TPU_NAME = {"v5litepod": ("TPU-v5e", 1), "v5e": ("TPU-v5e", 1), "v5p": ("TPU-v5p", 2),
             "v6e": ("TPU-v6e", 1), "v4": ("TPU-v4", 2)}

_KNOWN_CLOUDS = ("aws", "gcp", "azure", "lambda", "oci", "runpod", "coreweave", "fluidstack",
                 "paperspace", "cudo", "nebius", "do", "vast", "ibm", "scp", "hyperbolic",
                 "primeintellect", "seeweb", "shadeform", "vsphere", "kubernetes", "mithril",
                 "simplepod")

#: reason kinds of a dropped row, in the order a summary lists them
REASONS = ("cpu-only", "unknown-accelerator", "no-price", "placeholder-price", "bad-count",
           "fractional-gpu", "malformed-row")


@dataclass(frozen=True)
class ImportSummary:
    """What an import of one SkyPilot ``vms.csv`` kept and dropped.

    Attributes
    ----------
    source : str
        File or URL.
    provider : str
    as_of : datetime.date
        Date the prices are valid for (the fetch date of a refresh).
    rows_read : int
        Data rows in the file.
    offers_kept : int
        Offers made from them (availability zones of one region are one offer).
    rows_kept : int
        Rows that went into those offers.
    dropped_by_reason : dict
        Reason kind (``cpu-only``, ``unknown-accelerator``, ``no-price``,
        ``placeholder-price``, ``bad-count``, ``fractional-gpu``, ``malformed-row``) -> rows.
    unknown_accelerators : dict
        SkyPilot accelerator name -> rows dropped because the catalog lacks it.
    dropped : tuple of dict
        Every dropped row: ``{line, instance_type, region, accelerator, kind, reason}``.
    """

    source: str
    provider: str
    as_of: _dt.date
    rows_read: int
    offers_kept: int
    rows_kept: int
    dropped_by_reason: dict = field(default_factory=dict)
    unknown_accelerators: dict = field(default_factory=dict)
    dropped: tuple = ()

    @property
    def rows_dropped(self) -> int:
        """Rows left out, all reasons together."""
        return sum(self.dropped_by_reason.values())

    def line(self) -> str:
        """One line: ``lambda: 45 rows -> 14 offers (42 rows kept); dropped 3: 3 cpu-only``."""
        text = (f"{self.provider}: {self.rows_read} rows -> {self.offers_kept} offers "
                f"({self.rows_kept} rows kept)")
        if self.rows_dropped:
            text += f"; dropped {self.rows_dropped}: " + ", ".join(
                f"{n} {k}" for k, n in self.dropped_by_reason.items())
        if self.unknown_accelerators:
            text += "; accelerators not in the catalog: " + ", ".join(
                f"{k} ({n} rows)" for k, n in self.unknown_accelerators.items())
        return text

    def __str__(self) -> str:
        return f"SkyPilot import of {self.source} (prices as of {self.as_of})\n  {self.line()}"

    def _repr_html_(self) -> str:
        return "<pre>" + html.escape(str(self)) + "</pre>"


# ============================================================================ reading
def _number(text: str) -> float | None:
    t = (text or "").strip()
    if not t:
        return None
    try:
        v = float(t)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


@functools.lru_cache(maxsize=4096)  # a catalog repeats a few GpuInfo strings on every row
def _gpu_info(info: str) -> tuple[float | None, str]:
    """Per-GPU memory [MiB] and GPU name from SkyPilot's GpuInfo (Python dict in v7, JSON in v8)."""
    text = (info or "").strip()
    if not text or "{" not in text:
        return None, ""
    data = None
    for parse in (json.loads, ast.literal_eval):
        try:
            data = parse(text)
            break
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
    if not isinstance(data, dict):
        return None, ""
    gpus = data.get("Gpus") or []
    if not (gpus and isinstance(gpus, list) and isinstance(gpus[0], dict)):
        return None, ""
    name = str(gpus[0].get("Name") or "")
    info_mem = gpus[0].get("MemoryInfo")
    mem = info_mem.get("SizeInMiB") if isinstance(info_mem, dict) else None
    try:
        value = float(mem)
    except (TypeError, ValueError, OverflowError):
        return None, name
    return (value if math.isfinite(value) else None), name


def _hinted_name(name: str, itype: str, gpu_mib: float | None) -> str:
    """SkyPilot's accelerator name refined by the instance type's hints and the GPU memory."""
    base = name.strip()
    up = base.upper()
    t = itype.lower()
    if up == "H100":
        if "pcie" in t:
            return "H100-PCIe"
        if "nvl" in t or (gpu_mib is not None and 90_000 <= gpu_mib < 100_000):
            return "H100-NVL"
        return "H100-SXM"
    if up == "A100":
        if gpu_mib is not None and gpu_mib >= 70_000:
            return "A100-80GB-PCIe" if "pcie" in t else "A100-80GB"
        return "A100-40GB"
    if up == "A100-80GB" and "pcie" in t:
        return "A100-80GB-PCIe"
    if up == "V100" and gpu_mib is not None and gpu_mib >= 30_000:
        return "V100-32GB"
    return SKYPILOT_ACCELERATOR_NAMES.get(base, base)


def _resolve(name: str, itype: str, count: float, gpu_mib: float | None, gpu_name: str,
             index: dict[str, str]):
    """Return (catalog name, count) or (None, reason)."""
    m = _TPU.fullmatch(name.strip())
    if m:
        canon, per_chip = _TPU_NAME[m.group(1).lower()]
        chips = int(m.group(2)) // per_chip
        if normalize_name(canon) in index and chips >= 1:
            return index[normalize_name(canon)], chips * max(int(count), 1)
        return None, f"TPU {name!r} ({canon}) is not in the catalog's accelerators"
    mapped = _hinted_name(name, itype, gpu_mib)
    canon = index.get(normalize_name(mapped)) or index.get(normalize_name(name))
    if canon is None and gpu_name:
        canon = index.get(normalize_name(gpu_name))
    if canon is None:
        return None, (f"accelerator {name!r} is not in the catalog; add an accelerators row "
                      "(load(extra=...)) to import it")
    return canon, count


def _provider_from_path(path: Path) -> str:
    for part in reversed(path.parts[:-1]):
        if part.lower() in _KNOWN_CLOUDS:
            return part.lower()
    return "skypilot"


def _version_from_path(path: Path) -> str:
    for part in reversed(path.parts[:-1]):
        if re.fullmatch(r"v\d+", part):
            return part
    return "v7/v8"


def _shipped_accelerator_rows() -> list[dict]:
    """Names and aliases of the shipped accelerators.csv (no Catalog needed, no cycle)."""
    path = data_dir() / "catalog" / "accelerators.csv"
    with open(path, newline="", encoding="utf-8") as f:
        return [{"name": r["name"], "aliases": tuple(a for a in (r.get("aliases") or "").split("|")
                                                     if a.strip())}
                for r in csv.DictReader(f)]


def _accelerator_index(accelerators) -> dict[str, str]:
    """normalized name/alias -> canonical name, from a Catalog, a DataFrame or row dicts."""
    if accelerators is None:
        rows = _shipped_accelerator_rows()
    elif isinstance(accelerators, pd.DataFrame):
        rows = accelerators[["name", "aliases"]].to_dict("records")
    elif hasattr(accelerators, "accelerators"):  # a Catalog: its public DataFrame
        rows = accelerators.accelerators[["name", "aliases"]].to_dict("records")
    else:
        rows = accelerators
    index: dict[str, str] = {}
    for r in rows:
        aliases = r.get("aliases") or ()
        if isinstance(aliases, str):
            aliases = tuple(a for a in aliases.split("|") if a.strip())
        for n in (r["name"], *aliases):
            index.setdefault(normalize_name(n), r["name"])
    return index


def _fabric_index(instances) -> dict[tuple[str, str], tuple]:
    """(provider, instance_type) -> (scale_up, scale_out, network_gbps) of known offers."""
    if instances is None:
        return {}
    if isinstance(instances, pd.DataFrame):
        rows = instances.to_dict("records")
    elif hasattr(instances, "instances"):
        rows = instances.instances.to_dict("records")
    else:
        rows = instances
    out: dict[tuple[str, str], tuple] = {}
    for r in rows:
        up, outf, net = r.get("scale_up_fabric"), r.get("scale_out_fabric"), r.get("network_gbps")
        clean = tuple(None if (v is None or (isinstance(v, float) and math.isnan(v))) else v
                      for v in (up, outf, net))
        if any(v is not None for v in clean):
            out.setdefault((str(r["provider"]).lower(), str(r["instance_type"]).lower()), clean)
    return out


def _family_fabrics(provider: str, itype: str, n: int, known: dict) -> tuple:
    hit = known.get((provider.lower(), itype.lower()))
    if hit is not None:
        return hit
    for prov, pattern, fabrics in FAMILY_FABRICS:
        if prov == provider.lower() and re.fullmatch(pattern, itype, re.IGNORECASE):
            return fabrics
    return (None, None, None)


def _as_date(as_of) -> _dt.date:
    if as_of is None:
        return _dt.date.today()
    if isinstance(as_of, _dt.datetime):
        return as_of.date()
    if isinstance(as_of, _dt.date):
        return as_of
    try:
        return _dt.date.fromisoformat(str(as_of)[:10])
    except ValueError:
        raise ValueError(f"as_of must be a date YYYY-MM-DD, got {as_of!r}") from None


# ============================================================================ import
def import_skypilot(path, provider: str | None = None, *, as_of=None, catalog=None,
                    text: str | None = None, source_url: str | None = None,
                    instances=None) -> pd.DataFrame:
    """Like :func:`from_skypilot`, with the file's text and URL given (what a refresh uses).

    Parameters
    ----------
    path : path
        The file (read unless ``text`` is given; its directories name provider and version).
    text : str, optional
        The file's content, already read.
    source_url : str, optional
        Where the file came from; the rows' ``source`` names it.
    instances : Catalog, DataFrame or row dicts, optional
        Known offers whose fabrics an imported type of the same provider gets.
    """
    p = Path(path)
    name = source_url or str(p)
    header, rows = read_rows(p, text, name)
    for col in SKYPILOT_REQUIRED_COLUMNS:
        if col not in header:
            raise CatalogError(
                "missing column of a SkyPilot vms.csv (schema v6/v7/v8 needs "
                + ", ".join(SKYPILOT_REQUIRED_COLUMNS) + ")", path=name, row=1, column=col)
    pos = {c: header.index(c) for c in header}
    prov = provider or _provider_from_path(p)
    version = _version_from_path(p)
    as_of_date = _as_date(as_of)
    index = _accelerator_index(catalog)
    known = _fabric_index(instances if instances is not None else
                          (catalog if hasattr(catalog, "instances") else None))
    lo, hi = PLAUSIBLE_USD_PER_GPU_HOUR

    dropped: list[dict] = []
    groups: dict[tuple, dict] = {}

    def cell(fields, col):
        i = pos.get(col)
        return fields[i].strip() if i is not None and i < len(fields) else ""

    for line, fields in rows:
        itype, acc_name, region = (cell(fields, "InstanceType"), cell(fields, "AcceleratorName"),
                                   cell(fields, "Region"))

        def drop(kind, reason, itype=itype, region=region, acc_name=acc_name, line=line):
            dropped.append({"line": line, "instance_type": itype, "region": region,
                            "accelerator": acc_name, "kind": kind, "reason": reason})

        if len(fields) != len(header):
            drop("malformed-row", f"expected {len(header)} fields, got {len(fields)}")
            continue
        if not itype or not region:
            drop("malformed-row", "no InstanceType or Region")
            continue
        if not acc_name or acc_name.lower() in ("nan", "none"):
            drop("cpu-only", "no accelerator (CPU-only instance type)")
            continue
        count = _number(cell(fields, "AcceleratorCount"))
        if count is None or count <= 0:
            drop("bad-count",
                 f"AcceleratorCount {cell(fields, 'AcceleratorCount')!r} is not a positive number")
            continue
        gpu_mib, gpu_name = _gpu_info(cell(fields, "GpuInfo"))
        canon, n_or_reason = _resolve(acc_name, itype, count, gpu_mib, gpu_name, index)
        if canon is None:
            drop("unknown-accelerator", n_or_reason)
            continue
        n = n_or_reason
        if n != int(n):
            drop("fractional-gpu", f"fractional accelerator count {count:g} (a shared GPU) is "
                 "not supported")
            continue
        n = int(n)
        price_text = cell(fields, "Price")
        price = _number(price_text)
        if price is None:
            drop("no-price", f"on-demand Price {price_text!r} is empty or not a number")
            continue
        if price <= 0:
            drop("no-price", f"on-demand Price {price_text!r} is zero or negative")
            continue
        if not lo <= price / n <= hi:
            drop("placeholder-price", f"on-demand Price {price_text!r} looks like a placeholder "
                 f"(${price / n:g} per accelerator-hour is outside {lo:g}-{hi:g})")
            continue
        spot_text = cell(fields, "SpotPrice")
        spot = _number(spot_text)
        note = None
        if spot_text == "" or spot is None:
            note = None if spot_text == "" else f"SpotPrice {spot_text!r} not a number, ignored"
            spot = None
        elif spot <= 0:
            note, spot = f"SpotPrice {spot_text!r} ignored (zero)", None
        elif not lo <= spot / n <= hi:
            note, spot = f"SpotPrice {spot_text!r} ignored (placeholder)", None
        elif spot > price:
            note, spot = f"SpotPrice {spot_text!r} ignored (above on-demand {price_text})", None
        if acc_name.upper() == "H100" and canon == "H100-SXM" and not re.search(
                r"sxm|mega|h100-80gb-hbm3", (itype + gpu_name).lower()):
            note = (note + "; " if note else "") + "SkyPilot 'H100' read as the SXM part"
        key = (itype, canon, n, region)
        g = groups.get(key)
        if g is None:
            groups[key] = {
                "line": line, "price": price, "spot": spot, "prices": {price},
                "vcpus": _number(cell(fields, "vCPUs")), "mem": _number(cell(fields, "MemoryGiB")),
                "notes": [note] if note else [], "zones": 1,
            }
        else:
            g["price"] = min(g["price"], price)
            g["prices"].add(price)
            if spot is not None:
                g["spot"] = spot if g["spot"] is None else min(g["spot"], spot)
            if note and note not in g["notes"]:
                g["notes"].append(note)
            g["zones"] += 1

    out_rows = []
    where = source_url or p.name
    for (itype, canon, n, region), g in groups.items():
        label = "gpuhunt" if where.startswith("gpuhunt:") else f"SkyPilot catalog {version}"
        src = f"{label} ({where}, line {g['line']}"
        src += f", {g['zones']} zones: lowest price)" if g["zones"] > 1 else ")"
        if len(g["prices"]) > 1:
            src += "; on-demand differs by zone, lowest taken"
        if g["notes"]:
            src += "; " + "; ".join(g["notes"])
        up, out, net = _family_fabrics(prov, itype, n, known)
        if n < 2:
            up = None
        if up is not None or out is not None:
            src += "; fabrics from aicost's table for this instance family"
        out_rows.append({
            "provider": prov, "instance_type": itype, "region": region, "accelerator": canon,
            "accelerator_count": n, "vcpus": g["vcpus"], "memory_gib": g["mem"],
            "network_gbps": net, "local_nvme_tb": None,
            "price_on_demand_usd_per_hour": g["price"],
            "price_spot_usd_per_hour": g["spot"],
            "price_reserved_1y_usd_per_hour": None,
            "scale_up_fabric": up, "scale_out_fabric": out,
            "source": src, "as_of": as_of_date.isoformat(),
        })
    columns = [c.name for c in INSTANCE_COLUMNS]
    df = pd.DataFrame(out_rows, columns=columns)
    for col in ("vcpus", "memory_gib", "network_gbps", "local_nvme_tb",
                "price_on_demand_usd_per_hour", "price_spot_usd_per_hour",
                "price_reserved_1y_usd_per_hour"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    df["accelerator_count"] = df["accelerator_count"].astype("int64")
    kinds = Counter(d["kind"] for d in dropped)
    unknown = Counter(d["accelerator"] for d in dropped if d["kind"] == "unknown-accelerator")
    summary = ImportSummary(
        source=name, provider=prov, as_of=as_of_date, rows_read=len(rows),
        offers_kept=len(df), rows_kept=sum(g["zones"] for g in groups.values()),
        dropped_by_reason={k: kinds[k] for k in REASONS if kinds.get(k)},
        unknown_accelerators=dict(unknown.most_common()), dropped=tuple(dropped))
    df.attrs["aicost_table"] = "instances"
    df.attrs["aicost_path"] = f"{name} (SkyPilot import)"
    df.attrs["aicost_import"] = "skypilot"
    df.attrs["dropped"] = dropped
    df.attrs["summary"] = summary
    return df


def from_skypilot(path, provider: str | None = None, *, as_of: str | _dt.date | None = None,
                  catalog=None) -> pd.DataFrame:
    """Read a SkyPilot ``vms.csv`` (schema v6, v7 or v8) into aicost instance rows.

    Parameters
    ----------
    path : path
        The ``vms.csv`` file.
    provider : str, optional
        Provider name for the rows; default: the cloud directory in the path
        (``.../v8/aws/vms.csv`` -> ``aws``), else ``skypilot``.
    as_of : str or date, optional
        Date of the prices; default: today (the import date; a file's modification time
        says nothing about its prices). :func:`aicost.catalog.refresh` passes the fetch time.
    catalog : Catalog, optional
        Catalog whose accelerator names (and known instance fabrics) are used; default the
        shipped accelerators.

    Returns
    -------
    pandas.DataFrame
        Columns of ``instances.csv`` (human units). ``df.attrs["summary"]`` is an
        :class:`ImportSummary` (kept, dropped by reason, unknown accelerators; print it);
        ``df.attrs["dropped"]`` lists the rows left out as dicts ``{line, instance_type,
        region, accelerator, kind, reason}``; the frame can be passed to ``load(extra=...)``,
        which keeps curated rows (an imported row with the key of a curated one is added
        beside it, with a warning). ``load(extra="vms.csv")`` does the same import.

    Raises
    ------
    CatalogError
        If the file cannot be read or lacks a required column.
    """
    return import_skypilot(path, provider, as_of=as_of, catalog=catalog)
