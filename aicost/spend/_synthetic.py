"""Seeded synthetic spend inputs: a year of demand, a FOCUS bill, nvidia-smi and DCGM logs.

Everything here is made up (names say ``synthetic``); it exists so that the notebook, the tests
and the benchmark run without anyone's real bill. The FOCUS generator is one DuckDB query, so a
10-million-row export is written in seconds without passing through pandas.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "SYNTHETIC_FLEET",
    "synthetic_dcgm",
    "synthetic_demand",
    "synthetic_nvidia_smi",
    "write_synthetic_focus",
]

#: the synthetic fleet: (instance type, accelerator, GPUs, on-demand, 1y, spot [USD/h], team,
#: workload). Prices are the shipped catalog's aws rows.
SYNTHETIC_FLEET = (
    ("p5.48xlarge", "H100-SXM", 8, 55.04, 38.53, 24.40, "team-research", "training"),
    ("p5.48xlarge", "H100-SXM", 8, 55.04, 38.53, 24.40, "team-serving", "serving"),
    ("p5en.48xlarge", "H200-SXM", 8, 63.28, 44.30, 28.50, "team-research", "training"),
    ("g6e.xlarge", "L40S", 1, 1.861, 1.861, 0.78, "team-serving", "serving"),
    ("g6e.12xlarge", "L40S", 4, 10.493, 10.493, 4.40, "team-data", "batch"),
    ("m6i.large", "", 0, 0.096, 0.064, 0.04, "team-platform", "web"),
)


def synthetic_demand(seed: int = 0, hours: int = 8760, start: str = "2026-01-01") -> pd.DataFrame:
    """A synthetic year of hourly GPU demand (``timestamp, accelerator, workload_class, gpus``).

    H100 training runs in campaigns (weeks at 64-192 GPUs over a 32-GPU base), H100 serving
    follows a day/week cycle that grows through the year, L40S serving a smaller cycle.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(hours)
    idx = pd.date_range(start, periods=hours, freq="h", tz="UTC")
    day = np.sin(2 * np.pi * ((t % 24) - 8) / 24)
    weekend = np.asarray(idx.day_of_week >= 5, dtype=float)
    growth = 1 + 0.5 * t / max(hours, 1)
    train = np.full(hours, 32.0)
    h = 0
    while h < hours:
        gap = int(rng.integers(24 * 7, 24 * 28))
        h += gap
        length = int(rng.integers(24 * 7, 24 * 35))
        train[h:h + length] += 8 * int(rng.integers(8, 25))
        h += length
    train = np.maximum(0, train - 8 * (rng.random(hours) < 0.03))
    serve = np.round(growth * (24 + 14 * day - 8 * weekend) + rng.normal(0, 2, hours)).clip(4)
    l40 = np.round(growth * (6 + 4 * day - 2 * weekend) + rng.normal(0, 1, hours)).clip(1)
    parts = [
        pd.DataFrame({"timestamp": idx, "accelerator": "H100-SXM",
                      "workload_class": "training", "gpus": train}),
        pd.DataFrame({"timestamp": idx, "accelerator": "H100-SXM",
                      "workload_class": "serving", "gpus": serve}),
        pd.DataFrame({"timestamp": idx, "accelerator": "L40S",
                      "workload_class": "serving", "gpus": l40}),
    ]
    out = pd.concat(parts, ignore_index=True)
    out["timestamp"] = out["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return out[["timestamp", "accelerator", "workload_class", "gpus"]]


def write_synthetic_focus(path: str | os.PathLike, *, resources: int = 24, hours: int = 24 * 14,
                          start: str = "2026-05-01", seed: int = 0,
                          committed_share: float = 0.5, spot_share: float = 0.15) -> int:
    """Write a synthetic FOCUS 1.2 cost-and-usage export (CSV, or Parquet by suffix).

    One hourly usage line per resource and hour (``resources * hours`` rows): GPU instances
    of :data:`SYNTHETIC_FLEET` and a few non-GPU ones, on demand (Standard), on a 1-year
    commitment (Committed; about 15% of committed hours stopped and billed as Unused) or on
    spot (Dynamic), tagged with ``team``, ``project`` and ``workload``.

    Returns
    -------
    int
        Rows written.
    """
    import duckdb

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fleet = pd.DataFrame(list(SYNTHETIC_FLEET), columns=[
        "itype", "acc", "gpus", "od", "r1", "spot", "team", "workload"])
    fleet["k"] = np.arange(len(fleet))
    con = duckdb.connect()
    con.register("fleet", fleet)
    nf = len(fleet)
    s = int(seed)
    fmt = "(FORMAT parquet)" if p.suffix.lower() in (".parquet", ".pq") else "(HEADER, DELIMITER ',')"
    sql = f"""
    WITH r AS (
      SELECT range AS rid, hash(range, {s}) % {nf} AS k,
             CASE WHEN hash(range, {s}, 1) % 1000 < {int(committed_share * 1000)} THEN 'Committed'
                  WHEN hash(range, {s}, 2) % 1000 < {int(spot_share * 1000)} THEN 'Dynamic'
                  ELSE 'Standard' END AS cat
      FROM range({int(resources)})),
    g AS (
      SELECT r.rid, r.cat, f.*, h.range AS hr,
             TIMESTAMPTZ '{start} 00:00:00+00' + to_hours(h.range) AS t0,
             (hash(r.rid, h.range, {s}) % 1000) / 1000.0 AS u
      FROM r JOIN fleet f ON f.k = r.k CROSS JOIN range({int(hours)}) h),
    x AS (
      SELECT *, cat = 'Committed' AND u < 0.15 AS unused FROM g)
    SELECT 'AWS' AS ProviderName, 'AWS' AS PublisherName, 'AWS' AS InvoiceIssuerName,
      'INV-SYNTH-' || strftime(t0, '%Y-%m') AS InvoiceId,
      '000123456789' AS BillingAccountId, 'synthetic-payer' AS BillingAccountName,
      'Payer Account' AS BillingAccountType,
      lpad(CAST(100000000000 + rid % 3 AS VARCHAR), 12, '0') AS SubAccountId,
      'synthetic-sub-' || CAST(rid % 3 AS VARCHAR) AS SubAccountName,
      'Linked Account' AS SubAccountType,
      date_trunc('month', t0) AS BillingPeriodStart,
      date_trunc('month', t0) + INTERVAL 1 MONTH AS BillingPeriodEnd,
      t0 AS ChargePeriodStart, t0 + INTERVAL 1 HOUR AS ChargePeriodEnd,
      'Usage' AS ChargeCategory, NULL AS ChargeClass,
      CASE WHEN unused THEN 'Unused reservation ' || itype ELSE itype || ' usage' END
        AS ChargeDescription,
      'Usage-Based' AS ChargeFrequency,
      round(CASE WHEN cat = 'Committed' THEN r1 WHEN cat = 'Dynamic' THEN spot ELSE od END, 6)
        AS BilledCost,
      round(CASE WHEN cat = 'Committed' THEN r1 WHEN cat = 'Dynamic' THEN spot ELSE od END, 6)
        AS EffectiveCost,
      round(od, 6) AS ListCost,
      round(CASE WHEN cat = 'Committed' THEN r1 ELSE od END, 6) AS ContractedCost,
      od AS ListUnitPrice, CASE WHEN cat = 'Committed' THEN r1 ELSE od END AS ContractedUnitPrice,
      cat AS PricingCategory, 1.0 AS PricingQuantity, 'Hours' AS PricingUnit,
      'USD' AS PricingCurrency, 'USD' AS BillingCurrency,
      CASE WHEN unused THEN NULL ELSE 1.0 END AS ConsumedQuantity,
      CASE WHEN unused THEN NULL ELSE 'Hours' END AS ConsumedUnit,
      'Amazon Elastic Compute Cloud' AS ServiceName, 'Compute' AS ServiceCategory,
      'Virtual Machines' AS ServiceSubcategory,
      'SKU-' || upper(replace(itype, '.', '-')) AS SkuId,
      'SPRICE-' || upper(replace(itype, '.', '-')) || '-' || cat AS SkuPriceId,
      '{{"InstanceType":"' || itype || '"}}' AS SkuPriceDetails,
      'i-synth' || lpad(CAST(rid AS VARCHAR), 6, '0') AS ResourceId,
      'synthetic-' || itype || '-' || CAST(rid AS VARCHAR) AS ResourceName,
      'EC2 Instance' AS ResourceType, 'us-east-1' AS RegionId, 'US East (N. Virginia)' AS RegionName,
      CASE WHEN cat = 'Committed' THEN 'ri-synth-' || itype END AS CommitmentDiscountId,
      CASE WHEN cat = 'Committed' THEN 'Usage' END AS CommitmentDiscountCategory,
      CASE WHEN cat = 'Committed' THEN 'Reserved Instance' END AS CommitmentDiscountType,
      CASE WHEN cat = 'Committed' THEN CASE WHEN unused THEN 'Unused' ELSE 'Used' END END
        AS CommitmentDiscountStatus,
      NULL AS CapacityReservationId, NULL AS CapacityReservationStatus,
      '{{"team":"' || team || '","project":"proj-' || CAST(rid % 5 AS VARCHAR)
        || '","workload":"' || workload || '"}}' AS Tags
    FROM x
    """
    con.sql(f"COPY ({sql}) TO '{str(p)}' {fmt}")
    return int(resources) * int(hours)


def _util(rng, team, hours_frac, n):
    base = {"team-research": 0.85, "team-serving": 0.45, "team-data": 0.6}.get(team, 0.3)
    u = base + 0.25 * np.sin(2 * np.pi * hours_frac) * (team == "team-serving")
    return np.clip(u + rng.normal(0, 0.08, n), 0, 1)


def synthetic_nvidia_smi(resource_id: str, *, team: str = "team-research", gpus: int = 8,
                         hours: int = 48, start: str = "2026-05-01", interval_s: int = 1800,
                         idle_hours: tuple = (), seed: int = 0) -> str:
    """An ``nvidia-smi --query-gpu=timestamp,uuid,utilization.gpu,memory.used --format=csv``
    log (text) for one host; GPUs idle (0-3%) during ``idle_hours`` (pairs of hour offsets)."""
    rng = np.random.default_rng(seed)
    t = pd.date_range(start, periods=hours * 3600 // interval_s, freq=f"{interval_s}s")
    lines = ["timestamp, uuid, utilization.gpu [%], memory.used [MiB]"]
    for ts in t:
        h = (ts - t[0]).total_seconds() / 3600
        idle = any(a <= h < b for a, b in idle_hours)
        u = (rng.uniform(0, 0.03, gpus) if idle else _util(rng, team, (h % 24) / 24, gpus))
        for g in range(gpus):
            uuid = f"GPU-{resource_id[-6:]}-{g:02d}-synthetic"
            mem = 500 if idle else int(40000 + 30000 * u[g])
            lines.append(f"{ts:%Y/%m/%d %H:%M:%S}.000, {uuid}, {round(100 * u[g])} %, {mem} MiB")
    return "\n".join(lines) + "\n"


def synthetic_dcgm(resource_ids, *, team: str = "team-serving", gpus: int = 8, hours: int = 48,
                   start: str = "2026-05-01", interval_s: int = 1800, idle_hours: tuple = (),
                   seed: int = 1) -> str:
    """A DCGM exporter dump (Prometheus text with sample timestamps in ms) for some hosts."""
    rng = np.random.default_rng(seed)
    t = pd.date_range(start, periods=hours * 3600 // interval_s, freq=f"{interval_s}s", tz="UTC")
    out = ["# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).",
           "# TYPE DCGM_FI_DEV_GPU_UTIL gauge",
           "# HELP DCGM_FI_PROF_SM_ACTIVE Ratio of cycles an SM has at least 1 warp assigned.",
           "# TYPE DCGM_FI_PROF_SM_ACTIVE gauge",
           "# HELP DCGM_FI_PROF_PIPE_TENSOR_ACTIVE Ratio of cycles the tensor pipe is active.",
           "# TYPE DCGM_FI_PROF_PIPE_TENSOR_ACTIVE gauge"]
    for ts in t:
        ms = int(ts.timestamp() * 1000)
        h = (ts - t[0]).total_seconds() / 3600
        for rid in resource_ids:
            idle = any(a <= h < b for a, b in idle_hours)
            u = (rng.uniform(0, 0.03, gpus) if idle else _util(rng, team, (h % 24) / 24, gpus))
            for g in range(gpus):
                lab = (f'gpu="{g}",UUID="GPU-{rid[-6:]}-{g:02d}-synthetic",device="nvidia{g}",'
                       f'modelName="NVIDIA H100 80GB HBM3",Hostname="{rid}"')
                out.append(f"DCGM_FI_DEV_GPU_UTIL{{{lab}}} {round(100 * u[g])} {ms}")
                out.append(f"DCGM_FI_PROF_SM_ACTIVE{{{lab}}} {0.9 * u[g]:.3f} {ms}")
                out.append(f"DCGM_FI_PROF_PIPE_TENSOR_ACTIVE{{{lab}}} {0.6 * u[g]:.3f} {ms}")
    return "\n".join(out) + "\n"
