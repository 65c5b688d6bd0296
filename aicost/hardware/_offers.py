"""The planner's offers table: one row per (instance offer, pricing), in SI units.

Every number the planner needs per offer sits in one flat DataFrame with SI units, so the
search can broadcast it against node counts and parallel layouts without touching the catalog
again. Offers that differ only by region (same provider, instance, accelerator, prices) collapse
into one row that lists its regions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from .._errors import UnknownNameError
from .._units import GIB
from ..catalog import PRICINGS, normalize_pricing
from ._fabric import (
    DEFAULT_SCALE_OUT_BW_BYTES_PER_S,
    DEFAULT_SCALE_OUT_LATENCY_S,
    DEFAULT_SCALE_UP_LATENCY_S,
    PCIE4_BW_BYTES_PER_S,
)

__all__ = [
    "normalize_pricings",
    "offers_table",
]


def normalize_pricings(pricing: str | Iterable[str]) -> tuple[str, ...]:
    """Canonical pricing names (``aicost.catalog.PRICINGS``) from one or several user spellings.

    ``pricing`` is a name, a comma/space separated string or an iterable of names; each goes
    through ``aicost.catalog.normalize_pricing`` (the one vocabulary); duplicates are dropped.
    """
    if isinstance(pricing, str):
        pricing = [p for p in pricing.replace(",", " ").split() if p]
    out: list[str] = []
    for p in pricing:
        canon = normalize_pricing(p)
        if canon not in out:
            out.append(canon)
    if not out:
        raise ValueError(f"pricing must name at least one of {', '.join(PRICINGS)}")
    return tuple(out)


def _accelerator_specs(cat, names: Sequence[str], dtype: str) -> pd.DataFrame:
    """One row per accelerator name: peak [FLOP/s] at ``dtype``, memory, bandwidths."""
    rows = []
    for name in names:
        acc = cat.accelerator(name)
        try:
            peak = float(acc.peak_flops_per_s(dtype))
        except (ValueError, KeyError, LookupError):
            peak = float("nan")
        su = getattr(acc, "scale_up_bw_bytes_per_s", None)
        try:
            peak_est = bool(acc.peak_is_estimated(dtype))
        except (ValueError, KeyError, LookupError, AttributeError):
            peak_est = False
        est = tuple(getattr(acc, "estimated", ()) or ())
        rows.append({
            # what of the chip is an estimate, in words: plans built on it say so
            "accelerator_estimated": ", ".join(w for w, on in (
                (f"{dtype} peak", peak_est), ("memory bandwidth", "mem_bw_gb_s" in est)) if on),
            "accelerator": name,
            "accelerator_name": getattr(acc, "name", name),
            "peak_flops_per_s": peak,
            "memory_bytes": float(acc.memory_gib) * GIB,
            "memory_gib": float(acc.memory_gib),
            "mem_bw_bytes_per_s": float(acc.mem_bw_bytes_per_s),
            "scale_up_bw_bytes_per_s": float(su) if su is not None and math.isfinite(float(su)) and su > 0
            else float("nan"),
        })
    return pd.DataFrame(rows)


def offers_table(
    catalog,
    *,
    pricing: Sequence[str],
    providers: Iterable[str] | None = None,
    accelerators: Iterable[str] | None = None,
    dtype: str = "bf16",
    min_gpus_per_node: int = 1,
    estimates: bool = True,
) -> pd.DataFrame:
    """The offers the planner searches: one row per (instance offer, pricing) with a price.

    Parameters
    ----------
    catalog : aicost.catalog.Catalog
        The catalog (its ``instances`` table and ``accelerator()`` lookup).
    pricing : sequence of str
        Canonical pricing names (`normalize_pricings`).
    providers : iterable of str, optional
        Keep only these providers (case-insensitive); unknown ones raise with suggestions.
    accelerators : iterable of str, optional
        Keep only these accelerators (any alias the catalog accepts).
    dtype : str
        The training/inference dtype whose peak is looked up.
    estimates : bool
        Keep offers built on estimates (default). ``False`` leaves out every offer whose price
        for that pricing, accelerator count, or accelerator peak at ``dtype`` or memory
        bandwidth the catalog marks as estimated (its ``estimated`` column).

    Returns
    -------
    pandas.DataFrame
        Columns ``provider, instance_type, region, regions, accelerator, gpus_per_node, pricing,
        price_usd_per_hour`` (per instance), ``peak_flops_per_s, memory_bytes, memory_gib,
        mem_bw_bytes_per_s, scale_up_bw_bytes_per_s`` (per accelerator),
        ``scale_out_bw_bytes_per_s`` (per instance), latencies, ``network_gbps`` and ``vcpus``
        (per instance; NaN when the catalog has none), ``scale_up_domain_gpus`` (GPUs one
        scale-up fabric joins, ``aicost.catalog.Catalog.scale_up_domain_gpus``), ``as_of`` (the
        date of the prices, the oldest of the regions collapsed into the row), ``estimated`` (what
        of the offer is an estimate, in words: ``"price"``, ``"bf16 peak"``, ``"memory
        bandwidth"``, ``"accelerator count"``, comma-separated; ``""`` when nothing is). Rows without a usable price for a
        pricing model are kept with NaN prices (the planner reports them as not offered).
    """
    inst = catalog.instances
    # the catalog schema (aicost.catalog) fixes every column name used here
    df = pd.DataFrame({
        "provider": inst["provider"].astype(str).to_numpy(),
        "instance_type": inst["instance_type"].astype(str).to_numpy(),
        "region": inst["region"].fillna("").astype(str).to_numpy(),
        "accelerator": inst["accelerator"].to_numpy(dtype=object),
        "gpus_per_node": pd.to_numeric(inst["accelerator_count"], errors="coerce").to_numpy(dtype=float),
        "network_gbps": pd.to_numeric(inst["network_gbps"], errors="coerce").to_numpy(dtype=float),
        "vcpus": pd.to_numeric(inst["vcpus"], errors="coerce").to_numpy(dtype=float),
        # GPUs one scale-up fabric joins (NVL72: 72 over several instances; else the instance's)
        "scale_up_domain_gpus": (pd.to_numeric(inst["scale_up_domain_gpus"], errors="coerce").to_numpy(dtype=float)
                                 if "scale_up_domain_gpus" in inst else np.full(len(inst), np.nan)),
        "scale_up_fabric": inst["scale_up_fabric"].fillna("").astype(str).to_numpy(),
        "scale_out_fabric": inst["scale_out_fabric"].fillna("").astype(str).to_numpy(),
        # the date of the row's prices (catalog ``as_of``): plans say how old their prices are
        "as_of": inst["as_of"].fillna("").astype(str).to_numpy() if "as_of" in inst
        else np.full(len(inst), "", dtype=object),
        # the row's estimated columns ('|'-separated, catalog ``estimated``)
        "instance_estimated": inst["estimated"].fillna("").astype(str).to_numpy() if "estimated" in inst
        else np.full(len(inst), "", dtype=object),
    })
    for p in pricing:
        # the catalog schema fixes the column of each pricing (aicost.catalog.PRICINGS)
        prices = pd.to_numeric(inst[PRICINGS[p]], errors="coerce").to_numpy(dtype=float)
        df[f"price_{p}"] = np.where(prices > 0, prices, np.nan)
    acc_ok = df["accelerator"].map(lambda a: isinstance(a, str) and a.strip() != "" and a != "nan")
    df = df[acc_ok.to_numpy() & (df["gpus_per_node"].to_numpy() >= min_gpus_per_node)]

    if providers is not None:
        if isinstance(providers, str):
            providers = [p for p in providers.replace(",", " ").split() if p]
        known = sorted(set(df["provider"].str.lower()))
        wanted = []
        for p in providers:
            if p.lower() not in known:
                raise UnknownNameError("provider", p, known)
            wanted.append(p.lower())
        df = df[df["provider"].str.lower().isin(wanted).to_numpy()]

    # resolve accelerator names once (aliases -> the catalog's canonical name)
    if accelerators is not None:
        if isinstance(accelerators, str):
            accelerators = [a for a in accelerators.replace(",", " ").split() if a]
        wanted_acc = {catalog.accelerator(a).name for a in accelerators}
    else:
        wanted_acc = None
    canon = {a: catalog.accelerator(a).name for a in sorted(set(df["accelerator"]))}
    df = df.assign(accelerator=df["accelerator"].map(canon))
    if wanted_acc is not None:
        df = df[df["accelerator"].isin(sorted(wanted_acc)).to_numpy()]

    # collapse offers identical but for the region
    key = ["provider", "instance_type", "accelerator", "gpus_per_node", "network_gbps",
           "scale_up_fabric", "scale_out_fabric", "instance_estimated", *[f"price_{p}" for p in pricing]]
    df = df.sort_values(["provider", "instance_type", "region"], kind="stable")
    grouped = df.groupby(key, dropna=False, sort=False)
    first = grouped.first().reset_index()
    regions = grouped["region"].agg(lambda r: ",".join(dict.fromkeys(r))).reset_index(drop=True)
    first["regions"] = regions.to_numpy()
    # regions collapsed into one offer keep the oldest date among them
    first["as_of"] = grouped["as_of"].min().reset_index(drop=True).to_numpy()
    first["region"] = [r.split(",")[0] for r in first["regions"]]

    specs = _accelerator_specs(catalog, sorted(set(first["accelerator"])), dtype)
    first = first.merge(specs, on="accelerator", how="left")
    # scale-out: the instance's fabric (per node), else its network figure, else a default;
    # scale-up: the instance's fabric (per GPU), else the accelerator's own link, else PCIe 4
    gpn = first["gpus_per_node"].to_numpy(dtype=float)
    net = first["network_gbps"].to_numpy(dtype=float) * 1e9 / 8
    so_bw = np.where(np.isfinite(net) & (net > 0), net, DEFAULT_SCALE_OUT_BW_BYTES_PER_S)
    so_lat = np.full(len(first), DEFAULT_SCALE_OUT_LATENCY_S)
    su_bw = first["scale_up_bw_bytes_per_s"].to_numpy(dtype=float).copy()
    su_lat = np.full(len(first), DEFAULT_SCALE_UP_LATENCY_S)
    fabric = getattr(catalog, "fabric", None)
    for i, (up, out_name) in enumerate(zip(first["scale_up_fabric"], first["scale_out_fabric"])):
        if out_name and fabric is not None:
            f = fabric(out_name)
            so_bw[i] = f.bandwidth_per_gpu_bytes_per_s(int(gpn[i])) * gpn[i]
            if f.latency_s:
                so_lat[i] = f.latency_s
        if up and fabric is not None:
            f = fabric(up)
            su_bw[i] = f.bandwidth_per_gpu_bytes_per_s(int(gpn[i]))
            if f.latency_s:
                su_lat[i] = f.latency_s
    first["scale_out_bw_bytes_per_s"] = so_bw
    # without a scale-up fabric the GPUs of a node talk over PCIe 4 x16 (~25 GB/s one way)
    first["scale_up_bw_bytes_per_s"] = np.where(np.isfinite(su_bw) & (su_bw > 0), su_bw,
                                                PCIE4_BW_BYTES_PER_S)
    first["scale_out_latency_s"] = so_lat
    first["scale_up_latency_s"] = su_lat

    long = []
    inst_est = [set(e.split("|")) - {""} for e in first["instance_estimated"]]
    count_est = ["accelerator count" if "accelerator_count" in e else "" for e in inst_est]
    for p in pricing:
        part = first.drop(columns=[f"price_{q}" for q in pricing]).copy()
        part["pricing"] = p
        part["price_usd_per_hour"] = first[f"price_{p}"].to_numpy()
        # what of this offer is an estimate: its price for this pricing, its shape, its chip
        part["estimated"] = [", ".join(w for w in (("price" if PRICINGS[p] in e else ""), c, a) if w)
                             for e, c, a in zip(inst_est, count_est, first["accelerator_estimated"])]
        long.append(part)
    out = pd.concat(long, ignore_index=True)
    if not estimates:
        out = out[out["estimated"].to_numpy() == ""]
    out["gpus_per_node"] = out["gpus_per_node"].astype(np.int64)
    cols = ["provider", "instance_type", "region", "regions", "accelerator", "gpus_per_node",
            "scale_up_fabric", "scale_out_fabric",
            "pricing", "price_usd_per_hour", "peak_flops_per_s", "memory_bytes", "memory_gib",
            "mem_bw_bytes_per_s", "scale_up_bw_bytes_per_s", "scale_out_bw_bytes_per_s",
            "scale_up_latency_s", "scale_out_latency_s", "network_gbps", "vcpus", "scale_up_domain_gpus",
            "as_of", "estimated"]
    dom = out["scale_up_domain_gpus"].to_numpy(dtype=float)
    out["scale_up_domain_gpus"] = np.where(np.isfinite(dom) & (dom > 0), dom,
                                           out["gpus_per_node"].to_numpy(dtype=float)).astype(np.int64)
    return out[cols].reset_index(drop=True)
