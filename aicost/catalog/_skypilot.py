"""Import a SkyPilot catalog ``vms.csv`` (schema v7 and v8) as aicost instance rows.

SkyPilot's catalogs (github.com/skypilot-org/skypilot-catalog, ``catalogs/v7|v8/<cloud>/vms.csv``)
have one row per instance type and availability zone with the columns ``InstanceType,
AcceleratorName, AcceleratorCount, vCPUs, MemoryGiB, GpuInfo, Price, SpotPrice, Region,
AvailabilityZone`` (v8 files may carry more columns; they are ignored).

What happens to each row
------------------------
- No accelerator (CPU-only types): skipped, listed in ``attrs["dropped"]``.
- Accelerator names are mapped to catalog names (``H100`` -> ``H100-SXM``, ``A100`` ->
  ``A100-40GB`` unless GpuInfo says 80 GB, ``tpu-v5litepod-8`` -> 8 x ``TPU-v5e``, ...);
  a name the catalog lacks DROPS the row (reason given).
- On-demand ``Price`` empty, NaN, not a number, zero/negative, or a placeholder (outside
  :data:`PLAUSIBLE_USD_PER_GPU_HOUR`): the row is DROPPED (reason given); aicost never
  invents a price.
- ``SpotPrice`` empty, NaN, zero, a placeholder, or above the on-demand price: the row is
  KEPT without a spot price and its ``source`` says why.
- Availability zones are aggregated to regions: the lowest on-demand and the lowest spot
  price over the region's zones (zones of one region normally share the on-demand price;
  spot prices differ per zone and SkyPilot's optimizer also takes the cheapest zone).
"""

from __future__ import annotations

import ast
import datetime as _dt
import json
import math
import os
import re
from pathlib import Path

import pandas as pd

from .._errors import CatalogError
from ._schema import INSTANCE_COLUMNS, normalize_name

__all__ = [
    "PLAUSIBLE_USD_PER_GPU_HOUR",
    "SKYPILOT_ACCELERATOR_NAMES",
    "SKYPILOT_REQUIRED_COLUMNS",
    "from_skypilot",
]

SKYPILOT_REQUIRED_COLUMNS = ("InstanceType", "AcceleratorName", "AcceleratorCount", "vCPUs",
                             "MemoryGiB", "Price", "SpotPrice", "Region")

#: Range of believable prices per accelerator-hour [USD]. Public GPU prices in 2025-26 run
#: from about $0.10 (T4 spot) to about $15 (B200 on demand, AWS/Azure); SkyPilot catalogs
#: have carried placeholder values (0, 0.0001, 9999, 99999) for types not for sale. Outside
#: this range a price is treated as a placeholder.
PLAUSIBLE_USD_PER_GPU_HOUR = (0.01, 200.0)

#: SkyPilot accelerator names whose catalog name differs (SkyPilot's own convention:
#: "A100" is the 40 GB part, "A100-80GB" the 80 GB one; "H100" is the SXM part).
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
}

#: TPU slices in SkyPilot are named tpu-<gen>-<N>; N counts chips for v5e/v6e and
#: TensorCores (2 per chip) for v4/v5p.
_TPU = re.compile(r"tpu-(v5litepod|v5e|v5p|v6e|v4)-(\d+)", re.IGNORECASE)
_TPU_NAME = {"v5litepod": ("TPU-v5e", 1), "v5e": ("TPU-v5e", 1), "v5p": ("TPU-v5p", 2),
             "v6e": ("TPU-v6e", 1), "v4": ("TPU-v4", 2)}

_KNOWN_CLOUDS = ("aws", "gcp", "azure", "lambda", "oci", "runpod", "coreweave", "fluidstack",
                 "paperspace", "cudo", "nebius", "do", "vast", "ibm", "scp", "hyperbolic",
                 "primeintellect", "seeweb", "shadeform", "vsphere", "kubernetes")


def _number(text: str) -> float | None:
    t = (text or "").strip()
    if not t:
        return None
    try:
        v = float(t)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _gpu_memory_mib(info: str) -> float | None:
    """Per-GPU memory from SkyPilot's GpuInfo (a Python-dict string in v7, JSON in v8)."""
    text = (info or "").strip()
    if not text or "{" not in text:
        return None
    data = None
    for parse in (json.loads, ast.literal_eval):
        try:
            data = parse(text)
            break
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
    if not isinstance(data, dict):
        return None
    gpus = data.get("Gpus") or []
    if gpus and isinstance(gpus, list) and isinstance(gpus[0], dict):
        info_mem = gpus[0].get("MemoryInfo")
        mem = info_mem.get("SizeInMiB") if isinstance(info_mem, dict) else None
        try:
            value = float(mem)
        except (TypeError, ValueError, OverflowError):
            return None
        return value if math.isfinite(value) else None
    return None


def _resolve(name: str, count: float, gpu_mib: float | None, index: dict[str, str]):
    """Return (catalog name, count) or (None, reason)."""
    m = _TPU.fullmatch(name.strip())
    if m:
        canon, per_chip = _TPU_NAME[m.group(1).lower()]
        chips = int(m.group(2)) // per_chip
        if normalize_name(canon) in index and chips >= 1:
            return index[normalize_name(canon)], chips * max(int(count), 1)
        return None, f"TPU {name!r} ({canon}) is not in the catalog's accelerators"
    mapped = SKYPILOT_ACCELERATOR_NAMES.get(name.strip(), name.strip())
    if mapped == "A100-40GB" and gpu_mib is not None and gpu_mib >= 70_000:
        mapped = "A100-80GB"
    canon = index.get(normalize_name(mapped)) or index.get(normalize_name(name))
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


def _accelerator_index(catalog) -> dict[str, str]:
    """normalized name/alias -> canonical name, from a Catalog or a list of accelerator rows."""
    if catalog is None:
        from ._load import load

        catalog = load()
    rows = catalog._rows["accelerators"] if hasattr(catalog, "_rows") else catalog
    index: dict[str, str] = {}
    for r in rows:
        for n in (r["name"], *(r.get("aliases") or ())):
            index.setdefault(normalize_name(n), r["name"])
    return index


def from_skypilot(path, provider: str | None = None, *, as_of: str | _dt.date | None = None,
                  catalog=None) -> pd.DataFrame:
    """Read a SkyPilot ``vms.csv`` (schema v7 or v8) into aicost instance rows.

    Parameters
    ----------
    path : path
        The ``vms.csv`` file.
    provider : str, optional
        Provider name for the rows; default: the cloud directory in the path
        (``.../v8/aws/vms.csv`` -> ``aws``), else ``skypilot``.
    as_of : str or date, optional
        Date of the prices; default: the file's modification date.
    catalog : Catalog, optional
        Catalog whose accelerator names are used (default: ``aicost.catalog.load()``).

    Returns
    -------
    pandas.DataFrame
        Columns of ``instances.csv`` (human units). ``df.attrs["dropped"]`` lists the rows
        left out as dicts ``{line, instance_type, region, accelerator, reason}``;
        ``df.attrs["aicost_table"] == "instances"``, so the frame can be passed to
        ``load(extra=...)``. ``load(extra="vms.csv")`` does the same import.

    Raises
    ------
    CatalogError
        If the file cannot be read or lacks a required column.
    """
    from ._load import _read_rows

    p = Path(path)
    header, rows = _read_rows(p)
    for col in SKYPILOT_REQUIRED_COLUMNS:
        if col not in header:
            raise CatalogError(
                "missing column of a SkyPilot vms.csv (schema v7/v8 needs "
                + ", ".join(SKYPILOT_REQUIRED_COLUMNS) + ")", path=str(p), row=1, column=col)
    pos = {c: header.index(c) for c in header}
    prov = provider or _provider_from_path(p)
    version = _version_from_path(p)
    if as_of is None:
        as_of_date = _dt.date.fromtimestamp(os.path.getmtime(p))
    elif isinstance(as_of, _dt.date):
        as_of_date = as_of
    else:
        try:
            as_of_date = _dt.date.fromisoformat(str(as_of))
        except ValueError:
            raise ValueError(f"as_of must be a date YYYY-MM-DD, got {as_of!r}") from None
    index = _accelerator_index(catalog)
    lo, hi = PLAUSIBLE_USD_PER_GPU_HOUR

    dropped: list[dict] = []
    groups: dict[tuple, dict] = {}

    def cell(fields, col):
        i = pos.get(col)
        return fields[i].strip() if i is not None and i < len(fields) else ""

    for line, fields in rows:
        itype, acc_name, region = cell(fields, "InstanceType"), cell(fields, "AcceleratorName"), \
            cell(fields, "Region")

        def drop(reason, itype=itype, region=region, acc_name=acc_name, line=line):
            dropped.append({"line": line, "instance_type": itype, "region": region,
                            "accelerator": acc_name, "reason": reason})

        if len(fields) != len(header):
            drop(f"expected {len(header)} fields, got {len(fields)}")
            continue
        if not itype or not region:
            drop("no InstanceType or Region")
            continue
        if not acc_name or acc_name.lower() in ("nan", "none"):
            drop("no accelerator (CPU-only instance type)")
            continue
        count = _number(cell(fields, "AcceleratorCount"))
        if count is None or count <= 0:
            drop(f"AcceleratorCount {cell(fields, 'AcceleratorCount')!r} is not a positive number")
            continue
        canon, n_or_reason = _resolve(acc_name, count, _gpu_memory_mib(cell(fields, "GpuInfo")),
                                      index)
        if canon is None:
            drop(n_or_reason)
            continue
        n = n_or_reason
        if n != int(n):
            drop(f"fractional accelerator count {count:g} (a shared GPU) is not supported")
            continue
        n = int(n)
        price_text = cell(fields, "Price")
        price = _number(price_text)
        if price is None:
            drop(f"on-demand Price {price_text!r} is empty or not a number")
            continue
        if price <= 0:
            drop(f"on-demand Price {price_text!r} is zero or negative")
            continue
        if not lo <= price / n <= hi:
            drop(f"on-demand Price {price_text!r} looks like a placeholder "
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
    for (itype, canon, n, region), g in groups.items():
        src = f"SkyPilot catalog {version} ({p.name}, line {g['line']}"
        src += f", {g['zones']} zones: lowest price)" if g["zones"] > 1 else ")"
        if len(g["prices"]) > 1:
            src += "; on-demand differs by zone, lowest taken"
        if g["notes"]:
            src += "; " + "; ".join(g["notes"])
        out_rows.append({
            "provider": prov, "instance_type": itype, "region": region, "accelerator": canon,
            "accelerator_count": n, "vcpus": g["vcpus"], "memory_gib": g["mem"],
            "network_gbps": None, "local_nvme_tb": None,
            "price_on_demand_usd_per_hour": g["price"],
            "price_spot_usd_per_hour": g["spot"],
            "price_reserved_1y_usd_per_hour": None,
            "scale_up_fabric": None, "scale_out_fabric": None,
            "source": src, "as_of": as_of_date.isoformat(),
        })
    columns = [c.name for c in INSTANCE_COLUMNS]
    df = pd.DataFrame(out_rows, columns=columns)
    for col in ("vcpus", "memory_gib", "network_gbps", "local_nvme_tb",
                "price_on_demand_usd_per_hour", "price_spot_usd_per_hour",
                "price_reserved_1y_usd_per_hour"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    df["accelerator_count"] = df["accelerator_count"].astype("int64")
    df.attrs["aicost_table"] = "instances"
    df.attrs["aicost_path"] = f"{p} (SkyPilot import)"
    df.attrs["dropped"] = dropped
    return df
